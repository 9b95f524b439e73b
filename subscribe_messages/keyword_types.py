"""WeChat's subscribe message keyword types and what each takes (订阅消息参数值内容限制说明, under 发送订阅消息).

A keyword's type is its name without the trailing number: `thing1` is a thing, `character_string9` a
character string. A value that breaks its type makes WeChat refuse the whole message (47003), so values
are checked here before any call: a `thing` too long is shortened (it is free text, and the start of it
still reads), any other type is refused, since a cut order number, amount or phone would be wrong.
"""

import re
import unicodedata

from django.db import models
from django.utils.translation import gettext_lazy as _

KEYWORD_NAME = re.compile(r"(?P<type>[a-z_]+?)(?P<number>\d+)")
ELLIPSIS = "…"


class KeywordType(models.TextChoices):
    THING = "thing", _("thing (up to 20 characters)")
    NUMBER = "number", _("number (up to 32 digits)")
    LETTER = "letter", _("letters (up to 32)")
    SYMBOL = "symbol", _("symbols (up to 5)")
    CHARACTER_STRING = "character_string", _("string (up to 32 letters, digits or symbols)")
    TIME = "time", _("time")
    DATE = "date", _("date")
    AMOUNT = "amount", _("amount")
    PHONE_NUMBER = "phone_number", _("phone number (up to 17 characters)")
    CAR_NUMBER = "car_number", _("car number (up to 8 characters)")
    NAME = "name", _("name (up to 10 Chinese characters or 20 letters)")
    PHRASE = "phrase", _("phrase (up to 5 Chinese characters)")


THING_MAX_LENGTH = 20

_DATE = r"\d{4}(年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2})"
_TIME = r"\d{1,2}:\d{2}(:\d{2})?"
_TIME_POINT = re.compile(rf"({_DATE} ?)?{_TIME}")
_DATE_POINT = re.compile(rf"{_DATE}( ?{_TIME})?")
# One currency sign, then at most 10 characters of digits (a decimal point and 2 decimals among them), then 元.
_AMOUNT = re.compile(r"[¥￥]?(?P<number>\d+(\.\d{1,2})?)元?")


def keyword_type_of(keyword: str) -> KeywordType | None:
    """The type a keyword name says (`amount2` → amount); None for a name that is not WeChat's form."""
    match = KEYWORD_NAME.fullmatch(keyword)
    if match is None or match["type"] not in KeywordType.values:
        return None
    return KeywordType(match["type"])


def _chinese(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff"


def _symbol(character: str) -> bool:
    return unicodedata.category(character)[0] in "PS"


def _points(value: str, pattern: re.Pattern[str]) -> bool:
    # time and date take a period too: two points joined by "~".
    return value.count("~") <= 1 and all(pattern.fullmatch(point.strip()) for point in value.split("~"))


def _amount(value: str) -> bool:
    match = _AMOUNT.fullmatch(value)
    return match is not None and len(match["number"]) <= 10


def _name(value: str) -> bool:
    if any(_chinese(character) for character in value):
        return len(value) <= 10  # Chinese and letters mixed count as a Chinese name
    return len(value) <= 20 and all(character.isascii() and not character.isdigit() for character in value)


def _car_number(value: str) -> bool:
    # The first and last may be Chinese (粤A8Z888挂); the rest letters or digits.
    ends_ok = all(_chinese(character) or (character.isascii() and character.isalnum()) for character in value)
    return 2 <= len(value) <= 8 and ends_ok and all(c.isascii() and c.isalnum() for c in value[1:-1])


FITS = {
    KeywordType.THING: lambda value: len(value) <= THING_MAX_LENGTH,
    KeywordType.NUMBER: lambda value: len(value) <= 32 and re.fullmatch(r"\d+(\.\d+)?", value) is not None,
    KeywordType.LETTER: lambda value: len(value) <= 32 and re.fullmatch(r"[A-Za-z]+", value) is not None,
    KeywordType.SYMBOL: lambda value: len(value) <= 5 and all(_symbol(character) for character in value),
    KeywordType.CHARACTER_STRING: lambda value: len(value) <= 32 and re.fullmatch(r"[\x21-\x7e]+", value) is not None,
    KeywordType.TIME: lambda value: _points(value, _TIME_POINT),
    KeywordType.DATE: lambda value: _points(value, _DATE_POINT),
    KeywordType.AMOUNT: _amount,
    KeywordType.PHONE_NUMBER: lambda value: len(value) <= 17 and re.fullmatch(r"[\d+\-() ]+", value) is not None,
    KeywordType.CAR_NUMBER: _car_number,
    KeywordType.NAME: _name,
    KeywordType.PHRASE: lambda value: len(value) <= 5 and all(_chinese(character) for character in value),
}


def value_fits(keyword_type: KeywordType, value: str) -> bool:
    """Whether WeChat takes `value` for a keyword of this type (an empty value never: 47003 "is empty")."""
    return bool(value.strip()) and FITS[keyword_type](value)


def value_for_keyword(keyword_type: KeywordType, value: str) -> str | None:
    """`value` as it can be sent: itself, a thing shortened to 20 characters with "…", or None when it cannot."""
    value = " ".join(value.split())  # line breaks and runs of spaces read as one space in a message
    if value_fits(keyword_type, value):
        return value
    if keyword_type == KeywordType.THING and value:
        return value[: THING_MAX_LENGTH - len(ELLIPSIS)] + ELLIPSIS
    return None
