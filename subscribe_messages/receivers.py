from orders.models import OrderStatus
from subscribe_messages.models import OrderMilestone
from subscribe_messages.notify import order_milestone_notify

# The order statuses a buyer is told about; a partial refund is a refund to them.
MILESTONE_OF_STATUS = {
    OrderStatus.PAID: OrderMilestone.PAID,
    OrderStatus.SHIPPED: OrderMilestone.SHIPPED,
    OrderStatus.REFUNDED: OrderMilestone.REFUNDED,
    OrderStatus.PARTIALLY_REFUNDED: OrderMilestone.REFUNDED,
}


def order_status_entered_notify(sender, *, order_ids: list[int], to_status: str, **kwargs) -> None:
    """orders.signals.order_status_entered: the buyer's message queued (after commit) for a status they hear of."""
    milestone = MILESTONE_OF_STATUS.get(to_status)
    if milestone is None:
        return
    for order_id in order_ids:
        order_milestone_notify(order_id=order_id, milestone=milestone)
