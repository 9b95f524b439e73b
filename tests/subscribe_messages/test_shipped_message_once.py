"""Every way staff ship an order tells its buyer "shipped" once: several parcels, one again, virtual goods, a sheet.

The message hangs off the order's move to shipped in orders' status service (order_status_entered),
which happens once whatever the number of parcels; the sandbox is WeChat, over HTTP.
"""

import pytest

from orders.models import OrderStatus
from orders.services.shipments import ParcelInput, order_parcels_ship
from orders.services.shipping import ShipmentRow, orders_ship_from_sheet
from orders.shipping_exceptions import VirtualGoodsNotInParcels
from subscribe_messages.models import OrderMilestone, SubscribeMessage, SubscribeMessageStatus
from subscribe_messages.order_values import OrderField
from tests.factories import AddressFactory, CustomerFactory
from tests.orders.refund_helpers import paid_payment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("tasks_run_eagerly")]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="omar", is_staff=True)


@pytest.fixture
def shipped_template(make_template):
    return make_template(OrderMilestone.SHIPPED)


def _paid_order_of_a_buyer_who_accepted(
    sandbox, place_order, sku, buyer, template, accept, *, acceptances=1, to_address=None
):
    for _ in range(acceptances):  # more acceptances than messages due: a second message would go through
        accept(buyer, template)
    order = place_order([(sku, 1)], buyer=buyer, to_address=to_address)
    paid_payment(sandbox, order)
    return order


def _messages(sandbox, buyer) -> list[dict]:
    return sandbox.subscribe_messages(buyer.openid)["per_buyer"].get(buyer.openid, [])


def test_parcels_of_a_split_shipment_and_a_parcel_shipped_again_tell_the_buyer_once(
    sandbox, place_order, sku, customer, shipped_template, accept, staff
):
    order = _paid_order_of_a_buyer_who_accepted(
        sandbox, place_order, sku, customer, shipped_template, accept, acceptances=3
    )

    order_parcels_ship(
        order=order, parcels=[ParcelInput("zto", "75611788998298")], staff_user=staff, more_to_follow=True
    )
    order_parcels_ship(order=order, parcels=[ParcelInput("yto", "YT3750696145732")], staff_user=staff)
    assert order_parcels_ship(order=order, parcels=[ParcelInput("yto", "YT3750696145732")], staff_user=staff) == []

    [shipping] = sandbox.shippings()
    assert (shipping["is_all_delivered"], shipping["uploads"]) == (True, 2)
    [sent] = _messages(sandbox, customer)
    assert sent["template_id"] == shipped_template.template_id
    # The message names the first parcel, as the order does.
    assert (sent["data"]["thing3"], sent["data"]["character_string4"]) == ("中通快递", "75611788998298")
    assert SubscribeMessage.objects.get(order=order, event=OrderMilestone.SHIPPED).status == SubscribeMessageStatus.SENT


def test_virtual_goods_delivered_tell_the_buyer_once(sandbox, place_order, sku, customer, make_template, accept, staff):
    template = make_template(
        OrderMilestone.SHIPPED, {"character_string1": OrderField.ORDER_NO, "thing2": OrderField.PRODUCTS}
    )
    order = _paid_order_of_a_buyer_who_accepted(sandbox, place_order, sku, customer, template, accept, acceptances=2)

    order_parcels_ship(order=order, parcels=[], staff_user=staff, virtual=True)
    with pytest.raises(VirtualGoodsNotInParcels):  # a second click: refused, the order already delivered
        order_parcels_ship(order=order, parcels=[], staff_user=staff, virtual=True)

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert [message["template_id"] for message in _messages(sandbox, customer)] == [template.template_id]


def test_a_sheet_of_orders_tells_each_buyer_once(sandbox, place_order, sku, shipped_template, accept, staff):
    buyers = [CustomerFactory(), CustomerFactory()]
    orders = []
    for buyer in buyers:
        address = AddressFactory(customer=buyer, is_default=True)
        orders.append(
            _paid_order_of_a_buyer_who_accepted(
                sandbox, place_order, sku, buyer, shipped_template, accept, acceptances=2, to_address=address
            )
        )

    orders_ship_from_sheet(
        rows=[
            ShipmentRow(number=2, order_no=orders[0].order_no, carrier="顺丰速运", tracking_number="SF1234567890123"),
            ShipmentRow(number=3, order_no=orders[1].order_no, carrier="中通快递", tracking_number="75611788998298"),
        ],
        staff_user=staff,
    )

    assert [len(_messages(sandbox, buyer)) for buyer in buyers] == [1, 1]
    assert [_messages(sandbox, buyer)[0]["data"]["character_string4"] for buyer in buyers] == [
        "SF1234567890123",
        "75611788998298",
    ]
    assert [shipping["uploads"] for shipping in sandbox.shippings()] == [1, 1]
