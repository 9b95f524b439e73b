"""The buyer confirms receipt inside WeChat: the sandbox pushes trade_manage_order_settlement to the live server."""

import time

import pytest
from django.conf import settings as django_settings

from orders.models import Order, OrderStatus
from orders.services.placement import order_create
from orders.services.shipments import ParcelInput, order_parcels_ship
from tests.factories import AddressFactory, CustomerFactory, SkuFactory
from tests.orders.refund_helpers import paid_payment, tasks_run_eagerly  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.services,
    pytest.mark.usefixtures("tasks_run_eagerly"),
]


@pytest.fixture
def message_push_to_live_server(live_server, sandbox):
    """The Mini Program's message push URL set to the live server, for this test only (the sandbox outlives it)."""
    appid, secret = django_settings.WECHAT_MINI_PROGRAM_APPID, django_settings.WECHAT_MINI_PROGRAM_SECRET
    callback = {
        "url": f"{live_server.url}/wechat/mp/{appid}/",
        "token": django_settings.WECHAT_MINI_PROGRAM_PUSH_TOKEN,
        "mode": "plain",
    }
    sandbox.register_app(appid, secret, "mini_program", callback=callback)
    yield
    sandbox.register_app(appid, secret, "mini_program")


@pytest.mark.usefixtures("message_push_to_live_server")
def test_wechats_pushed_confirmation_completes_the_order(sandbox, django_user_model):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    order = order_create(
        customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory(price_fen=3990).pk, "quantity": 1}]
    )
    payment = paid_payment(sandbox, order)
    staff = django_user_model.objects.create_user(username="omar", is_staff=True)
    order_parcels_ship(order=order, parcels=[ParcelInput("zto", "75611788998298")], staff_user=staff)
    [shipping] = sandbox.shippings()  # reported on commit (eagerly); the push at shipping changes nothing
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED

    confirmed = sandbox.confirm_receipt(transaction_id=payment.transaction_id)

    deadline = time.monotonic() + 10
    while Order.objects.get(pk=order.pk).status != OrderStatus.COMPLETED and time.monotonic() < deadline:
        time.sleep(0.05)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.events.filter(to_status=OrderStatus.COMPLETED, actor="customer").count() == 1
    delivered = {delivery["id"]: delivery for delivery in sandbox.outbox()}
    assert delivered[confirmed["delivery_id"]]["state"] == "delivered"
    assert len(shipping["pushes"]) == 1
