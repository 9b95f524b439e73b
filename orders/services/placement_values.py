"""What order placement passes between its steps: the request as resolved, and the order as placed."""

from dataclasses import dataclass

from customers.models import Customer
from orders.models import Order, OrderEvent, OrderLine


@dataclass(frozen=True)
class OrderRequest:
    """One order as order_create resolved it: quantities per SKU, and everything copied onto the order."""

    customer: Customer
    address_id: int | None
    quantities: dict[int, int]
    cart_item_ids: list[int]
    order_no: str
    note: str
    source_scene: int | None
    source_campaign: str
    source_path: str
    idempotency_key: str
    request_digest: str


@dataclass(frozen=True)
class PlacedOrder:
    """An order with the lines and timeline it has, as placing it wrote them (or a retry found them)."""

    order: Order
    lines: list[OrderLine]
    timeline: list[OrderEvent]

    def order_to_answer_with(self) -> Order:
        """The order holding its lines and timeline as order_for_customer's prefetch would, for the API's answer.

        For answering only: the cache would go stale if the order's status then changed.
        """
        for row in [*self.lines, *self.timeline]:
            row.order = self.order
        # Where prefetch_related stores them, so order.lines.all() and order.events.all() ask nothing more.
        self.order._prefetched_objects_cache = {
            "lines": _prefetched(self.order.lines.all(), self.lines),
            "events": _prefetched(self.order.events.all(), self.timeline),
        }
        return self.order


def _prefetched(queryset, rows: list):
    queryset._result_cache = rows
    queryset._prefetch_done = True
    return queryset
