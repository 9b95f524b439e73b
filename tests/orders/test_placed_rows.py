"""The order, lines and event order_place() hands back are the rows it wrote, as reading them back gives them.

On PostgreSQL they are built from the function's answer and the request (migration 0032); on SQLite
they are the ORM's own instances. Either way every field, and its type, must be what the database holds.
"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models.signals import post_init

from campaigns.models import Campaign
from campaigns.services import campaign_create
from campaigns.sources import Source
from catalog.models import ProductImage
from orders.models import Order, OrderEvent, OrderLine
from orders.services.placement import order_place
from tests.factories import AddressFactory, CustomerFactory, SkuFactory

# transaction=True: each order runs as production runs it (autocommit, the function's fast path alone).
pytestmark = pytest.mark.django_db(transaction=True)


def _fields(row) -> dict:
    # A str enum (the ORM path keeps the TextChoices member it was given) counts as the str it equals.
    return {
        field.attname: (value, str if isinstance(value, str) else type(value))
        for field in row._meta.concrete_fields
        for value in [getattr(row, field.attname)]
    }


def _as_read_back(placed) -> None:
    order = Order.objects.get(pk=placed.order.pk)
    assert _fields(placed.order) == _fields(order)
    assert [_fields(line) for line in placed.lines] == [_fields(line) for line in order.lines.order_by("sku_id")]
    assert [_fields(event) for event in placed.timeline] == [_fields(event) for event in order.events.all()]
    for row in [placed.order, *placed.lines, *placed.timeline]:
        assert (row._state.adding, row._state.db) == (False, "default")


@pytest.mark.parametrize("lines", [1, 2], ids=["one line", "two lines"])
def test_placed_rows_are_the_rows_written(lines):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, recipient="张三", detail="中山路 1 号")
    campaign = campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER, code=f"poster-{lines}")
    skus = [SkuFactory(stock=9, specs={"color": "白"}, price_fen=3990 + line) for line in range(lines)]
    name = default_storage.save("catalog/茶杯 (白).jpg", ContentFile(b"not really a jpeg"))
    ProductImage.objects.create(product=skus[0].product, image=name, position=0)

    placed = order_place(
        customer=customer,
        address_id=address.pk,
        items=[{"sku_id": sku.pk, "quantity": 2} for sku in skus],
        note="请放门口",
        source=Source(scene=1058, campaign=campaign.code, path="pages/product/detail"),
        idempotency_key=f"rows-{lines}",
    )

    _as_read_back(placed)
    assert placed.order.campaign_id == campaign.pk
    assert placed.order.total_fen == sum(2 * sku.price_fen for sku in skus)


def test_placed_rows_without_a_source_or_an_image():
    customer = CustomerFactory()
    address = AddressFactory(customer=customer)

    placed = order_place(
        customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory(stock=1).pk, "quantity": 1}]
    )

    _as_read_back(placed)
    assert (placed.order.source_scene, placed.order.campaign_id, placed.lines[0].image) == (None, None, "")


def test_a_retry_with_the_same_key_answers_the_first_orders_rows():
    customer = CustomerFactory()
    address = AddressFactory(customer=customer)
    sku = SkuFactory(stock=5)
    request = {"customer": customer, "address_id": address.pk, "items": [{"sku_id": sku.pk, "quantity": 1}]}

    first = order_place(**request, idempotency_key="again")
    again = order_place(**request, idempotency_key="again")

    assert _fields(again.order) == _fields(first.order)
    assert [_fields(line) for line in again.lines] == [_fields(line) for line in first.lines]
    assert OrderLine.objects.count() == 1 and OrderEvent.objects.count() == 1


def test_a_receiver_of_the_models_init_signals_hears_of_the_placed_rows():
    # The rows are built without Model.__init__ only while nothing listens for it.
    customer = CustomerFactory()
    address = AddressFactory(customer=customer)
    heard = []

    def receiver(sender, instance, **kwargs):
        heard.append(instance)

    post_init.connect(receiver, sender=OrderEvent)
    try:
        placed = order_place(
            customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory().pk, "quantity": 1}]
        )
    finally:
        post_init.disconnect(receiver, sender=OrderEvent)

    assert placed.timeline[0] in heard
    _as_read_back(placed)
