import pytest

from subscribe_messages.models import OrderMilestone, SubscribeMessageTemplate, TemplateKeyword
from subscribe_messages.order_values import OrderField
from subscribe_messages.services.acceptances import subscription_results_record
from tests.orders.conftest import address, api, customer, place_order, sku  # noqa: F401 (fixtures)
from tests.orders.refund_helpers import tasks_run_eagerly  # noqa: F401 (fixture)
from wechat.merchants import mini_program_default

# Keyword name -> what it shows; a shipped notice as a shop would set it up.
SHIPPED_KEYWORDS = {
    "character_string1": OrderField.ORDER_NO,
    "thing2": OrderField.PRODUCTS,
    "thing3": OrderField.CARRIER,
    "character_string4": OrderField.TRACKING_NUMBER,
}
PAID_KEYWORDS = {"character_string1": OrderField.ORDER_NO, "amount2": OrderField.TOTAL, "time3": OrderField.PAID_AT}
REFUNDED_KEYWORDS = {"character_string1": OrderField.ORDER_NO, "amount2": OrderField.REFUNDED}
KEYWORDS = {
    OrderMilestone.PAID: PAID_KEYWORDS,
    OrderMilestone.SHIPPED: SHIPPED_KEYWORDS,
    OrderMilestone.REFUNDED: REFUNDED_KEYWORDS,
}


@pytest.fixture
def make_template(sandbox):
    """A template in our admin and, with the same keywords (or `wechat_keywords`), in the sandbox's MP console."""

    def make(milestone: str, keywords: dict | None = None, *, wechat_keywords: list[str] | None = None, **fields):
        keywords = KEYWORDS[milestone] if keywords is None else keywords
        template = SubscribeMessageTemplate.objects.create(
            mini_program=mini_program_default(),
            template_id=f"tmpl-{milestone}",
            title=f"{milestone} notice",
            event=milestone,
            page="pages/order/detail?order_no={order_no}",
            **fields,
        )
        for keyword, order_field in keywords.items():
            text = order_field if isinstance(order_field, str) and order_field not in OrderField.values else ""
            TemplateKeyword.objects.create(
                template=template,
                keyword=keyword,
                order_field=OrderField.FIXED_TEXT if text else order_field,
                fixed_text=text,
            )
        sandbox.add_subscribe_template(template.template_id, wechat_keywords or list(keywords))
        return template

    return make


@pytest.fixture
def accept(sandbox):
    """The buyer accepts the template in wx.requestSubscribeMessage: WeChat learns it, and the Mini Program tells us."""

    def accepted(buyer, template, *, tell_wechat: bool = True, tell_us: bool = True) -> None:
        if tell_wechat:
            sandbox.subscribe(buyer.openid, {template.template_id: "accept"})
        if tell_us:
            subscription_results_record(customer=buyer, results={template.template_id: "accept"})

    return accepted
