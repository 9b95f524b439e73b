"""The admin's shipping pages against the sandbox: WeChat's carrier names, bulk shipping reported, one correction."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.urls import reverse

from config.celery import app as celery_app
from orders.shipment_models import Shipment, ShippingReport, ShippingReportStatus
from orders.tasks import refresh_delivery_companies
from tests.orders.refund_helpers import paid_payment

pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.usefixtures("staff_groups")]


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user(username="olivia", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    client.force_login(user)
    return user


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """committed(response_of_a_request): what was queued on commit runs then, as a worker would run it."""
    celery_app.conf.task_always_eager = True

    def request(make):
        with django_capture_on_commit_callbacks(execute=True):
            response = make()
        return response

    yield request
    celery_app.conf.task_always_eager = False


@pytest.fixture
def paid_order(sandbox, sku, place_order):
    order = place_order([(sku, 1)])
    paid_payment(sandbox, order)
    return order


def test_the_ship_form_names_carriers_as_wechats_list_does_kept_and_refreshed(client, operator, paid_order, sandbox):
    cache.clear()
    form = client.get(reverse("admin:orders_order_ship", args=[paid_order.pk])).content.decode()
    assert "韵达速递" in form  # WeChat's name (ours is 韵达快递)
    client.get(reverse("admin:orders_order_ship", args=[paid_order.pk]))

    delivery_list = "/cgi-bin/express/delivery/open_msg/get_delivery_list"
    assert len(sandbox.received(delivery_list)) == 1  # kept: the second page did not ask again
    assert refresh_delivery_companies.apply().get() == 10
    assert len(sandbox.received(delivery_list)) == 2


def test_a_correction_is_reported_and_a_second_one_refused_on_the_form(
    client, operator, paid_order, sandbox, committed
):
    ship = reverse("admin:orders_order_ship", args=[paid_order.pk])
    assert committed(lambda: client.post(ship, {"carrier": "sf", "tracking_number": "SF1234567890"})).status_code == 302
    parcel = Shipment.objects.get(order=paid_order)
    correct = reverse("admin:orders_order_correct_tracking", args=[paid_order.pk, parcel.pk])

    assert committed(lambda: client.post(correct, {"tracking_number": "SF1234567899"})).status_code == 302
    again = committed(lambda: client.post(correct, {"tracking_number": "SF1234567800"}))

    assert again.status_code == 200
    assert "errornote" in again.content.decode() or "errorlist" in again.content.decode()
    assert "cannot be corrected again" in again.content.decode()
    [shipping] = sandbox.shippings()
    assert (shipping["shipping_list"][0]["tracking_no"], shipping["uploads"]) == ("SF1234567899", 2)
    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk])).content.decode()
    assert "WeChat has it" in page and "SF1234567890" in page  # the replaced number is kept


def test_a_refused_report_shows_on_the_order_page_with_a_way_to_ask_again(
    client, operator, paid_order, sandbox, committed
):
    sandbox.add_fault("/wxa/sec/order/upload_shipping_info", errcode=10060004)
    ship = reverse("admin:orders_order_ship", args=[paid_order.pk])
    committed(lambda: client.post(ship, {"carrier": "sf", "tracking_number": "SF1234567890"}))

    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk])).content.decode()
    assert "WeChat refused it" in page and "it is refunded, or its receipt is confirmed" in page
    again = reverse("admin:orders_order_report_shipping", args=[paid_order.pk])
    assert again in page

    assert committed(lambda: client.post(again)).status_code == 302
    assert ShippingReport.objects.get(order=paid_order).status == ShippingReportStatus.REPORTED


def test_orders_shipped_from_a_sheet_are_each_reported(client, operator, sandbox, sku, place_order, committed):
    orders = [place_order([(sku, 1)]) for _ in range(2)]
    for order in orders:
        paid_payment(sandbox, order)
    sheet = "订单号,快递公司,运单号\n" + "".join(
        f"{order.order_no},中通快递,7561178899829{index}\n" for index, order in enumerate(orders)
    )
    upload = io.BytesIO(sheet.encode())
    upload.name = "sheet.csv"

    response = committed(lambda: client.post(reverse("admin:orders_order_ship_sheet"), {"sheet": upload}))

    assert response.status_code == 302
    shippings = sandbox.shippings()
    assert sorted(shipping["out_trade_no"] for shipping in shippings) == sorted(o.order_no for o in orders)
    assert {shipping["shipping_list"][0]["express_company"] for shipping in shippings} == {"ZTO"}
