"""Telling a buyer that their order was paid, shipped or refunded, with the template configured for that event.

At most one message per order and event, whatever runs twice: the message row (unique per order and
event) is claimed and committed before WeChat is asked, and a run that finds it claimed sends nothing.
WeChat has no idempotency key for subscribe messages, so the one moment this cannot cover is a worker
stopped between sending the request and storing WeChat's answer: its redelivered task finds its own
claim, cannot know whether WeChat sent, and records the outcome as unknown rather than risk a second
message. So a message is sent at most once, and exactly once unless a worker dies during the call.
"""

import logging

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from orders.models import Order
from subscribe_messages.keyword_types import keyword_type_of, value_for_keyword
from subscribe_messages.models import (
    SubscribeMessage,
    SubscribeMessageOutcome,
    SubscribeMessageStatus,
    SubscribeMessageTemplate,
    SubscriptionAcceptance,
)
from subscribe_messages.order_values import order_field_value
from subscribe_messages.services.acceptances import customer_mini_program
from subscribe_messages.services.message_status import subscribe_message_created_record, subscribe_message_status_set
from wechat.mini_program_subscribe_messages import (
    NOT_ACCEPTED_ERRCODE,
    TEMPLATE_UNKNOWN_ERRCODE,
    VALUE_REFUSED_ERRCODE,
    SubscribeMessageNotSent,
    SubscribeMessageOutcomeUnknown,
    SubscribeMessageRefused,
    subscribe_message_send,
)

logger = logging.getLogger(__name__)
S, Outcome = SubscribeMessageStatus, SubscribeMessageOutcome
REFUSAL_OUTCOMES = {
    NOT_ACCEPTED_ERRCODE: Outcome.WECHAT_NOT_ACCEPTED,
    VALUE_REFUSED_ERRCODE: Outcome.WECHAT_VALUE_REFUSED,
    TEMPLATE_UNKNOWN_ERRCODE: Outcome.WECHAT_TEMPLATE_UNKNOWN,
}


def _values_for(order: Order, template: SubscribeMessageTemplate) -> tuple[dict[str, str], str]:
    """The template's values from the order, and "" — or {} and the first problem in staff's words."""
    values: dict[str, str] = {}
    for keyword in template.keywords.all():
        keyword_type = keyword_type_of(keyword.keyword)
        if keyword_type is None:
            return {}, _("“%(keyword)s” is not a keyword name WeChat uses.") % {"keyword": keyword.keyword}
        raw = order_field_value(
            order=order, order_field=keyword.order_field, keyword_type=keyword_type, fixed_text=keyword.fixed_text
        )
        value = value_for_keyword(keyword_type, raw)
        if value is None:
            return {}, _("%(keyword)s (%(type)s) cannot show “%(value)s”.") % {
                "keyword": keyword.keyword,
                "type": keyword_type.label,
                "value": raw[:60],
            }
        values[keyword.keyword] = value
    if not values:
        return {}, _("The template has no keywords.")
    return values, ""


def _outcome_words(outcome: str, detail: str) -> str:
    """An outcome as the message's timeline shows it: its label, then WeChat's or our detail."""
    label = str(Outcome(outcome).label) if outcome in Outcome.values else outcome
    return f"{label}: {detail}" if detail else label


def _not_sent_create(order: Order, milestone: str, outcome: str, *, template=None, detail: str = "") -> None:
    message = SubscribeMessage.objects.create(
        order=order, event=milestone, template=template, status=S.NOT_SENT, outcome=outcome, detail=detail[:300]
    )
    subscribe_message_created_record(message=message, reason=_outcome_words(outcome, detail))


@transaction.atomic
def _message_claim(*, order_id: int, milestone: str, task_id: str) -> SubscribeMessage | None:
    """The message to send now, claimed (committed as sending) — or None, with why recorded if it is new."""
    order = Order.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=order_id).first()
    if order is None:
        return None
    message = SubscribeMessage.objects.select_for_update().filter(order=order, event=milestone).first()
    if message is not None:
        if message.status == S.RETRYING and message.template_id is None:  # its template deleted meanwhile
            subscribe_message_status_set(
                message=message,
                to_status=S.NOT_SENT,
                reason=_("template deleted"),
                fields={"outcome": Outcome.NO_TEMPLATE},
            )
            return None
        if message.status == S.RETRYING:
            subscribe_message_status_set(
                message=message,
                to_status=S.SENDING,
                reason=_("attempt %(number)s") % {"number": message.attempts + 1},
                fields={"attempts": message.attempts + 1, "claimed_by": task_id},
            )
            return message
        if message.status == S.SENDING and message.claimed_by == task_id:
            # This very task claimed it and is running again: its worker stopped while WeChat was asked.
            subscribe_message_status_set(
                message=message,
                to_status=S.UNKNOWN,
                reason=_("redelivered while WeChat was being asked"),
                fields={"outcome": Outcome.INTERRUPTED},
            )
        return None
    mini_program = customer_mini_program(customer=order.customer)
    template = (
        SubscribeMessageTemplate.objects.filter(mini_program=mini_program, event=milestone, enabled=True)
        .prefetch_related("keywords")
        .first()
    )
    if template is None:
        _not_sent_create(order, milestone, Outcome.NO_TEMPLATE)
        return None
    acceptance = (
        SubscriptionAcceptance.objects.select_for_update().filter(customer=order.customer, template=template).first()
    )
    if acceptance is None or acceptance.available == 0:
        _not_sent_create(order, milestone, Outcome.NOT_ACCEPTED, template=template)
        return None
    values, problem = _values_for(order, template)
    if problem:
        _not_sent_create(order, milestone, Outcome.VALUE_REFUSED, template=template, detail=problem)
        return None
    SubscriptionAcceptance.objects.filter(pk=acceptance.pk).update(available=F("available") - 1)
    message = SubscribeMessage.objects.create(
        order=order,
        event=milestone,
        template=template,
        status=S.SENDING,
        outcome="",
        values=values,
        attempts=1,
        claimed_by=task_id,
    )
    subscribe_message_created_record(message=message, reason=_("claimed for sending"))
    return message


def subscribe_message_send_for_order(*, order_id: int, milestone: str, task_id: str, final_attempt: bool) -> bool:
    """Send the order's message of `milestone` unless it was already; True when WeChat was busy and a retry is due.

    Never call inside a transaction: the claim must be committed before WeChat is asked.
    """
    message = _message_claim(order_id=order_id, milestone=milestone, task_id=task_id)
    if message is None:
        return False
    template = message.template
    order = message.order
    try:
        sent = subscribe_message_send(
            mini_program=order.customer.mini_program,
            openid=order.customer.openid,
            template_id=template.template_id,
            page=template.page.replace("{order_no}", order.order_no),
            data=message.values,
        )
    except SubscribeMessageRefused as refusal:
        outcome = REFUSAL_OUTCOMES.get(refusal.errcode, Outcome.WECHAT_REFUSED)
        _message_settle(message, S.NOT_SENT, outcome, errcode=refusal.errcode, detail=str(refusal))
    except SubscribeMessageNotSent as busy:
        if not final_attempt:
            _message_settle(message, S.RETRYING, Outcome.WECHAT_BUSY, errcode=_number(busy.errcode), detail=str(busy))
            return True
        _message_settle(message, S.NOT_SENT, Outcome.GAVE_UP, errcode=_number(busy.errcode), detail=str(busy))
    except SubscribeMessageOutcomeUnknown as lost:
        _message_settle(message, S.UNKNOWN, Outcome.NO_ANSWER, detail=str(lost))
    else:
        logger.info("subscribe message of order %s %s: WeChat answered ok", order.order_no, milestone)
        _message_settle(message, S.SENT, Outcome.SENT, msgid=sent.msgid)
    return False


def _number(errcode) -> int | None:
    return errcode if isinstance(errcode, int) else None


@transaction.atomic
def _message_settle(
    message: SubscribeMessage, to_status: str, outcome: str, *, errcode=None, detail: str = "", msgid: str = ""
) -> None:
    locked = SubscribeMessage.objects.select_for_update().get(pk=message.pk)
    if locked.status != S.SENDING:
        # Another copy of this task (a redelivery racing a retry) settled it as unknown meanwhile: keep that.
        logger.warning(
            "subscribe message %s is %s already; WeChat's %s not recorded", message.pk, locked.status, outcome
        )
        return
    subscribe_message_status_set(
        message=locked,
        to_status=to_status,
        reason=_outcome_words(outcome, detail),
        fields={"outcome": outcome, "errcode": _number(errcode), "detail": detail[:300], "msgid": msgid},
    )
    acceptances = SubscriptionAcceptance.objects.filter(
        customer_id=message.order.customer_id, template=message.template
    )
    if outcome == Outcome.WECHAT_NOT_ACCEPTED:
        acceptances.update(available=0)  # WeChat knows better: the buyer has none left
    elif to_status == S.NOT_SENT:
        acceptances.update(available=F("available") + 1)  # WeChat sent nothing, so spent none
