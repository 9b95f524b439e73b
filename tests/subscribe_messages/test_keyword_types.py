"""Values checked against their keyword's type before any call (订阅消息参数值内容限制说明): a thing is shortened,
anything else that does not fit is refused, so WeChat never gets a value to refuse with 47003."""

import pytest

from subscribe_messages.keyword_types import KeywordType, keyword_type_of, value_for_keyword
from subscribe_messages.order_values import SUITABLE_TYPES, OrderField

T = KeywordType


@pytest.mark.parametrize(
    "keyword, keyword_type",
    [("thing1", T.THING), ("character_string12", T.CHARACTER_STRING), ("phone_number3", T.PHONE_NUMBER)],
)
def test_a_keywords_type_is_its_name_without_the_number(keyword, keyword_type):
    assert keyword_type_of(keyword) == keyword_type


@pytest.mark.parametrize("keyword", ["thing", "colour1", "Thing1", "thing1a", ""])
def test_names_that_are_not_wechats_have_no_type(keyword):
    assert keyword_type_of(keyword) is None


def test_a_thing_over_20_characters_is_cut_to_20_with_an_ellipsis():
    value = value_for_keyword(T.THING, "北欧风手工陶瓷马克杯大容量带盖带勺早餐杯等2件")

    assert value == "北欧风手工陶瓷马克杯大容量带盖带勺早餐…" and len(value) == 20


def test_a_thing_of_20_characters_and_line_breaks_are_kept_whole_on_one_line():
    assert (
        value_for_keyword(T.THING, "一二三四五\n六七八九十一二三四五六七八九")
        == "一二三四五 六七八九十一二三四五六七八九"
    )


@pytest.mark.parametrize(
    "keyword_type, value",
    [
        (T.CHARACTER_STRING, "2026120519140012345678901234567890"),  # 34 > 32: a cut order number is another
        (T.CHARACTER_STRING, "顺丰"),
        (T.AMOUNT, "123456789012.00元"),
        (T.AMOUNT, "39.901元"),
        (T.NUMBER, "3件"),
        (T.PHONE_NUMBER, "+86-0766-6688886612"),
        (T.NAME, "欧阳娜娜欧阳娜娜欧阳娜"),
        (T.PHRASE, "已经发货了啦"),
        (T.TIME, "明天下午"),
        (T.DATE, "15:01"),
        (T.THING, "   "),
    ],
)
def test_values_that_cannot_be_shortened_are_refused(keyword_type, value):
    assert value_for_keyword(keyword_type, value) is None


@pytest.mark.parametrize(
    "keyword_type, value",
    [
        (T.CHARACTER_STRING, "202612051914001234567890"),
        (T.AMOUNT, "79.80元"),
        (T.AMOUNT, "¥1280.00"),
        (T.NUMBER, "2"),
        (T.PHONE_NUMBER, "13800138000"),
        (T.NAME, "张三"),
        (T.NAME, "Zhang San"),
        (T.PHRASE, "已发货"),
        (T.TIME, "2026年12月5日 19:14"),
        (T.DATE, "2026年12月5日"),
        (T.CAR_NUMBER, "粤A8Z888挂"),
        (T.SYMBOL, "%"),
        (T.LETTER, "SF"),
    ],
)
def test_values_that_fit_are_sent_as_they_are(keyword_type, value):
    assert value_for_keyword(keyword_type, value) == value


def test_every_order_field_suits_some_type_and_fixed_text_all():
    assert all(SUITABLE_TYPES[field] for field in OrderField)
    assert SUITABLE_TYPES[OrderField.FIXED_TEXT] == frozenset(KeywordType)
