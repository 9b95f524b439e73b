"""Queueing a buyer's message: what orders' status service (through receivers.py) and shipping code call."""

from django.db import transaction

from subscribe_messages.models import OrderMilestone
from subscribe_messages.tasks import send_subscribe_message


def order_milestone_notify(*, order_id: int, milestone: str) -> None:
    """Queue the message of `milestone` for the order once the caller's transaction commits."""
    transaction.on_commit(lambda: send_subscribe_message.delay(order_id, milestone))


def order_shipped_notify(*, order_id: int) -> None:
    """Tell the buyer their order shipped (once: a second call sends nothing new).

    Every move of an order to shipped through orders' status service calls this already (receivers.py).
    """
    order_milestone_notify(order_id=order_id, milestone=OrderMilestone.SHIPPED)
