"""Operations staff configure templates in the admin: keyword names and what they show checked against WeChat's
type limits (订阅消息参数值内容限制说明), as form errors in Chinese; the order page shows the buyer's messages."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from subscribe_messages.models import OrderMilestone, SubscribeMessage, SubscribeMessageTemplate
from subscribe_messages.order_values import OrderField
from wechat.merchants import mini_program_default

pytestmark = [pytest.mark.django_db, pytest.mark.chinese_staff]
ADD_URL = "/admin/subscribe_messages/subscribemessagetemplate/add/"


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user(username="operator", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    client.force_login(user)
    return user


def form(keywords: list[tuple[str, str, str]], **fields) -> dict:
    data = {
        "mini_program": mini_program_default().pk,
        "title": "订单发货通知",
        "template_id": "tmpl-shipped",
        "event": OrderMilestone.SHIPPED,
        "page": "pages/order/detail?order_no={order_no}",
        "enabled": "on",
        "keywords-TOTAL_FORMS": str(len(keywords)),
        "keywords-INITIAL_FORMS": "0",
        "keywords-MIN_NUM_FORMS": "1",
        "keywords-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for number, (keyword, order_field, fixed_text) in enumerate(keywords):
        data |= {
            f"keywords-{number}-keyword": keyword,
            f"keywords-{number}-order_field": order_field,
            f"keywords-{number}-fixed_text": fixed_text,
        }
    return data


def test_a_template_whose_keywords_fit_is_saved(client, operator):
    keywords = [
        ("character_string1", OrderField.ORDER_NO, ""),
        ("thing2", OrderField.PRODUCTS, ""),
        ("phrase3", OrderField.FIXED_TEXT, "已发货"),
    ]

    response = client.post(ADD_URL, form(keywords))

    assert response.status_code == 302, response.content.decode()[:3000]
    template = SubscribeMessageTemplate.objects.get()
    assert [(k.keyword, k.order_field, k.fixed_text) for k in template.keywords.all()] == keywords


@pytest.mark.parametrize(
    "keyword, error",
    [
        (("colour1", OrderField.ORDER_NO, ""), "“colour1”不是关键词名称"),
        (("thing1", OrderField.ORDER_NO, ""), "不能显示“订单号”；可显示："),
        (("amount1", OrderField.PAID_AT, ""), "不能显示“付款时间”"),
        (
            ("phrase1", OrderField.FIXED_TEXT, "配送中了吗啊"),
            "“配送中了吗啊”不符合微信对 汉字 phrase（5 个汉字以内） 类型的限制",
        ),
        (("thing1", OrderField.FIXED_TEXT, "一二三四五六七八九十一二三四五六七八九十一"), "不符合微信对 事物 thing"),
        (("character_string1", OrderField.FIXED_TEXT, "订单"), "不符合微信对 字符串"),
        (("thing1", OrderField.CARRIER, "顺丰"), "只有显示“固定文字”的关键词才填写固定文字"),
    ],
    ids=[
        "not-a-keyword-name",
        "order-no-as-thing",
        "time-as-amount",
        "phrase-over-5",
        "thing-over-20",
        "chinese-string",
        "fixed-text-on-a-field",
    ],
)
def test_a_keyword_breaking_wechats_limits_is_a_form_error_in_chinese(client, operator, keyword, error):
    response = client.post(ADD_URL, form([keyword]))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SubscribeMessageTemplate.objects.exists()


def test_a_template_needs_a_keyword_and_one_enabled_template_an_event(client, operator):
    assert client.post(ADD_URL, form([])).status_code == 200
    client.post(ADD_URL, form([("character_string1", OrderField.ORDER_NO, "")]))

    second = client.post(ADD_URL, form([("character_string1", OrderField.ORDER_NO, "")], template_id="tmpl-other"))

    assert second.status_code == 200
    assert "该事件已有另一个启用中的模板" in second.content.decode()
    assert SubscribeMessageTemplate.objects.count() == 1


def test_the_order_page_shows_the_buyers_messages_and_why_one_was_not_sent(client, operator, place_order, sku):
    order = place_order([(sku, 1)])
    SubscribeMessage.objects.create(order=order, event="paid", status="not_sent", outcome="not_accepted")

    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "给买家的订阅消息" in page
    assert "买家未订阅该模板（或订阅次数已用完）：未发送" in page


def test_shipping_an_order_in_the_admin_sends_the_buyer_the_shipped_message(
    client,
    operator,
    sandbox,
    place_order,
    sku,
    customer,
    make_template,
    accept,
    tasks_run_eagerly,
    django_capture_on_commit_callbacks,
):
    from tests.orders.refund_helpers import paid_payment

    accept(customer, make_template(OrderMilestone.SHIPPED))
    order = place_order([(sku, 1)])
    paid_payment(sandbox, order)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:orders_order_ship", args=[order.pk]),
            {"carrier": "sf", "tracking_number": "SF1234567890123"},
        )

    assert response.status_code == 302
    [sent] = sandbox.subscribe_messages(customer.openid)["per_buyer"][customer.openid]
    assert sent["template_id"] == "tmpl-shipped"
    assert sent["data"]["thing3"] == "顺丰速运" and sent["data"]["character_string4"] == "SF1234567890123"
