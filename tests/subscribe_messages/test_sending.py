"""Sending an order's subscribe messages to the sandbox over real HTTP: once per order and event, or why not."""

import pytest
from django.contrib.auth import get_user_model

from orders.services.status import order_ship
from subscribe_messages.models import (
    OrderMilestone,
    SubscribeMessage,
    SubscribeMessageOutcome,
    SubscribeMessageStatus,
    SubscriptionAcceptance,
)
from subscribe_messages.order_values import OrderField
from subscribe_messages.services.sending import subscribe_message_send_for_order
from tests.orders.refund_helpers import paid_payment

pytestmark = pytest.mark.django_db
SEND_PATH = "/cgi-bin/message/subscribe/send"
S, Outcome = SubscribeMessageStatus, SubscribeMessageOutcome


def send(order, milestone=OrderMilestone.PAID, *, task_id="task-1", final_attempt=False) -> bool:
    return subscribe_message_send_for_order(
        order_id=order.pk, milestone=milestone, task_id=task_id, final_attempt=final_attempt
    )


def message_of(order, milestone=OrderMilestone.PAID) -> SubscribeMessage:
    return SubscribeMessage.objects.get(order=order, event=milestone)


def received(sandbox, openid) -> list[dict]:
    return sandbox.subscribe_messages(openid)["per_buyer"].get(openid, [])


@pytest.fixture
def paid_order(sandbox, place_order, sku):
    order = place_order([(sku, 2)])
    paid_payment(sandbox, order)
    order.refresh_from_db()
    return order


@pytest.fixture
def shipped_order(paid_order):
    staff = get_user_model().objects.create_user("operator")
    return order_ship(order=paid_order, carrier="sf", tracking_number="SF1234567890123", staff_user=staff)


def test_the_paid_message_is_sent_once_with_the_orders_values(sandbox, paid_order, make_template, accept):
    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template)

    assert send(paid_order) is False
    send(paid_order, task_id="task-2")  # the task again, or another run of it: nothing new

    [sent] = received(sandbox, paid_order.customer.openid)
    assert sent["template_id"] == "tmpl-paid"
    assert sent["page"] == f"pages/order/detail?order_no={paid_order.order_no}"
    assert sent["data"]["character_string1"] == paid_order.order_no
    assert sent["data"]["amount2"] == "79.80元"
    assert sent["data"]["time3"].startswith(f"{paid_order.paid_at.astimezone().year}年")
    message = message_of(paid_order)
    assert (message.status, message.outcome, message.attempts) == (S.SENT, Outcome.SENT, 1)
    assert [event.to_status for event in message.events.all()] == [S.SENDING, S.SENT]
    assert SubscriptionAcceptance.objects.get(customer=paid_order.customer).available == 0


def test_a_buyer_who_accepted_no_template_gets_no_message_and_the_order_records_why(sandbox, paid_order, make_template):
    make_template(OrderMilestone.PAID)
    sandbox.subscribe(paid_order.customer.openid, {"tmpl-paid": "accept"})  # WeChat would take it, but we were not told

    send(paid_order)

    assert sandbox.received(SEND_PATH) == []  # no call at all
    message = message_of(paid_order)
    assert (message.status, message.outcome) == (S.NOT_SENT, Outcome.NOT_ACCEPTED)
    assert str(message.get_outcome_display()).startswith("the buyer has not accepted")


def test_no_template_for_the_event_is_recorded_and_calls_nothing(sandbox, paid_order):
    send(paid_order)

    assert sandbox.received(SEND_PATH) == []
    assert message_of(paid_order).outcome == Outcome.NO_TEMPLATE


def test_a_thing_longer_than_20_characters_is_shortened_before_the_call(
    sandbox, shipped_order, make_template, accept, sku
):
    sku.product.title = "北欧风手工陶瓷马克杯大容量带盖带勺早餐杯"  # 20 characters, and "等2件" makes 23
    sku.product.save()
    shipped_order.lines.update(title=sku.product.title)
    template = make_template(OrderMilestone.SHIPPED)
    accept(shipped_order.customer, template)

    send(shipped_order, OrderMilestone.SHIPPED)

    [sent] = received(sandbox, shipped_order.customer.openid)
    assert sent["data"]["thing2"] == "北欧风手工陶瓷马克杯大容量带盖带勺早餐…"
    assert len(sent["data"]["thing2"]) == 20
    assert sent["data"]["thing3"] == "顺丰速运" and sent["data"]["character_string4"] == "SF1234567890123"
    assert message_of(shipped_order, OrderMilestone.SHIPPED).status == S.SENT


def test_a_value_that_cannot_be_shortened_is_refused_before_the_call(sandbox, paid_order, make_template, accept):
    paid_order.phone = "+86-0766-6688886612"  # 19 characters: a phone_number takes 17
    paid_order.save(update_fields=["phone"])
    template = make_template(OrderMilestone.PAID, {"phone_number1": OrderField.PHONE})
    accept(paid_order.customer, template)

    send(paid_order)

    assert sandbox.received(SEND_PATH) == []
    message = message_of(paid_order)
    assert (message.status, message.outcome) == (S.NOT_SENT, Outcome.VALUE_REFUSED)
    assert "phone_number1" in message.detail and "+86-0766-6688886612" in message.detail
    assert SubscriptionAcceptance.objects.get(customer=paid_order.customer).available == 1  # kept for the next


def test_43101_from_wechat_is_recorded_and_our_count_set_to_none(sandbox, paid_order, make_template, accept):
    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template, tell_wechat=False)  # the client told us, WeChat has no acceptance

    send(paid_order)

    message = message_of(paid_order)
    assert (message.status, message.outcome, message.errcode) == (S.NOT_SENT, Outcome.WECHAT_NOT_ACCEPTED, 43101)
    assert SubscriptionAcceptance.objects.get(customer=paid_order.customer).available == 0
    assert received(sandbox, paid_order.customer.openid) == []


def test_47003_from_wechat_is_recorded_and_the_acceptance_kept(sandbox, paid_order, make_template, accept):
    # WeChat's template has a keyword ours does not fill: WeChat refuses the message as a whole.
    template = make_template(OrderMilestone.PAID, wechat_keywords=[*_paid_keywords(), "thing9"])
    accept(paid_order.customer, template)

    send(paid_order)

    message = message_of(paid_order)
    assert (message.status, message.outcome, message.errcode) == (S.NOT_SENT, Outcome.WECHAT_VALUE_REFUSED, 47003)
    assert "data.thing9.value is empty" in message.detail
    assert SubscriptionAcceptance.objects.get(customer=paid_order.customer).available == 1


def _paid_keywords() -> list[str]:
    from tests.subscribe_messages.conftest import PAID_KEYWORDS

    return list(PAID_KEYWORDS)


def test_wechat_busy_is_retried_and_then_sent_once(sandbox, paid_order, make_template, accept):
    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template)
    sandbox.add_fault(SEND_PATH, errcode=-1)

    assert send(paid_order) is True  # a retry is due
    assert message_of(paid_order).status == S.RETRYING
    assert send(paid_order, task_id="task-1") is False

    message = message_of(paid_order)
    assert (message.status, message.attempts) == (S.SENT, 2)
    assert len(received(sandbox, paid_order.customer.openid)) == 1


def test_wechat_busy_on_the_last_attempt_gives_up_and_keeps_the_acceptance(sandbox, paid_order, make_template, accept):
    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template)
    sandbox.add_fault(SEND_PATH, errcode=-1)

    assert send(paid_order, final_attempt=True) is False

    message = message_of(paid_order)
    assert (message.status, message.outcome, message.errcode) == (S.NOT_SENT, Outcome.GAVE_UP, -1)
    assert SubscriptionAcceptance.objects.get(customer=paid_order.customer).available == 1


def test_no_answer_from_wechat_is_recorded_unknown_and_never_sent_again(sandbox, paid_order, make_template, accept):
    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template)
    sandbox.add_fault(SEND_PATH, drop=True)  # the request reached WeChat; its answer never came back

    assert send(paid_order) is False
    send(paid_order, task_id="task-2")

    message = message_of(paid_order)
    assert (message.status, message.outcome) == (S.UNKNOWN, Outcome.NO_ANSWER)
    assert len(sandbox.received(SEND_PATH)) == 1


def test_a_task_finding_its_own_claim_was_stopped_mid_call_and_sends_nothing(
    sandbox, paid_order, make_template, accept
):
    from subscribe_messages.services.sending import _message_claim

    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template)
    _message_claim(order_id=paid_order.pk, milestone=OrderMilestone.PAID, task_id="task-1")  # then the worker died

    send(paid_order, task_id="task-2")  # another task: the claim is someone else's, left alone
    assert message_of(paid_order).status == S.SENDING
    send(paid_order, task_id="task-1")  # the same task redelivered

    message = message_of(paid_order)
    assert (message.status, message.outcome) == (S.UNKNOWN, Outcome.INTERRUPTED)
    assert sandbox.received(SEND_PATH) == []


def test_a_message_waiting_to_retry_whose_template_was_deleted_is_not_sent(sandbox, paid_order, make_template, accept):
    template = make_template(OrderMilestone.PAID)
    accept(paid_order.customer, template)
    sandbox.add_fault(SEND_PATH, errcode=-1)
    assert send(paid_order) is True

    template.delete()
    assert send(paid_order) is False

    message = message_of(paid_order)
    assert (message.status, message.outcome) == (S.NOT_SENT, Outcome.NO_TEMPLATE)
    assert len(sandbox.received(SEND_PATH)) == 1  # the busy attempt only
