"""Shipping reported to WeChat's shipping service (the sandbox, over HTTP): once per change, parcels, corrections."""

import pytest

from config.celery import app as celery_app
from orders.models import OrderStatus
from orders.services.shipments import ParcelInput, order_parcels_ship, shipment_tracking_correct
from orders.services.shipping_report import shipping_report_problem, shipping_report_retry, shipping_report_send
from orders.shipment_models import Shipment, ShippingReport, ShippingReportStatus
from orders.shipping_exceptions import CorrectionUsed, OrderFullyShipped, VirtualGoodsNotInParcels
from orders.shipping_signals import order_shipped
from tests.orders.refund_helpers import paid_payment
from wechat.errors import WeChatTransientError

UPLOAD = "/wxa/sec/order/upload_shipping_info"
pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="omar", is_staff=True)


@pytest.fixture
def paid(sandbox, sku, place_order):
    order = place_order([(sku, 2)])
    payment = paid_payment(sandbox, order)
    return order, payment


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks):
    """Ship inside this: the report task queued on commit runs here, as a worker would run it."""

    class Runner:
        def __enter__(self):
            celery_app.conf.task_always_eager = True
            self.capture = django_capture_on_commit_callbacks(execute=True)
            return self.capture.__enter__()

        def __exit__(self, *exc):
            try:
                return self.capture.__exit__(*exc)
            finally:
                celery_app.conf.task_always_eager = False

    return Runner


def uploads(sandbox) -> list[dict]:
    return [entry for entry in sandbox.received(UPLOAD) if entry.get("errcode") in (None, 0)]


def test_a_shipped_order_is_reported_once_with_wechats_carrier_id_and_a_masked_phone(sandbox, paid, staff, run_tasks):
    order, payment = paid
    shipped_signals = []
    order_shipped.connect(lambda sender, **kwargs: shipped_signals.append(kwargs), weak=False, dispatch_uid="t")
    try:
        with run_tasks():
            order_parcels_ship(order=order, parcels=[ParcelInput("sf", "SF1234567890")], staff_user=staff)
    finally:
        order_shipped.disconnect(dispatch_uid="t")

    [shipping] = sandbox.shippings()
    assert shipping["transaction_id"] == payment.transaction_id
    assert (shipping["logistics_type"], shipping["delivery_mode"], shipping["uploads"]) == (1, 1, 1)
    [parcel] = shipping["shipping_list"]
    assert (parcel["express_company"], parcel["tracking_no"]) == ("SF", "SF1234567890")
    assert parcel["contact"]["receiver_contact"] == order.phone[:3] + "****" + order.phone[-4:]
    assert parcel["item_desc"] == "Ceramic mug*2"
    report = ShippingReport.objects.get(order=order)
    assert report.status == ShippingReportStatus.REPORTED
    assert [event.to_status for event in report.events.all()] == ["pending", "reported"]
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == (OrderStatus.SHIPPED, "sf", "SF1234567890")
    assert [(signal["order_id"], signal["all_delivered"]) for signal in shipped_signals] == [(order.pk, True)]


def test_shipping_the_same_parcel_again_reports_nothing_new(sandbox, paid, staff, run_tasks):
    order, _payment = paid
    with run_tasks():
        order_parcels_ship(order=order, parcels=[ParcelInput("sf", "SF1234567890")], staff_user=staff)
    with run_tasks() as callbacks:
        again = order_parcels_ship(order=order, parcels=[ParcelInput("sf", " sf1234567890 ")], staff_user=staff)

    assert again == [] and callbacks == []
    assert shipping_report_send(order_id=order.pk) == "nothing to report"
    assert Shipment.objects.filter(order=order).count() == 1
    assert [shipping["uploads"] for shipping in sandbox.shippings()] == [1]
    assert len(sandbox.received(UPLOAD)) == 1


def test_a_report_waiting_with_nothing_new_for_wechat_is_not_uploaded_again(sandbox, paid, staff, run_tasks):
    order, _payment = paid
    with run_tasks():
        order_parcels_ship(order=order, parcels=[ParcelInput("zto", "75611788998298")], staff_user=staff)
    # Staff ask again though WeChat has it all (e.g. a retried click): the same upload is not sent twice.
    ShippingReport.objects.filter(order=order).update(status=ShippingReportStatus.FAILED)
    with run_tasks():
        shipping_report_retry(order=order, staff_user=staff)

    assert ShippingReport.objects.get(order=order).status == ShippingReportStatus.REPORTED
    assert len(sandbox.received(UPLOAD)) == 1


def test_a_split_shipment_tells_wechat_each_parcel_and_when_all_are_sent(sandbox, paid, staff, run_tasks):
    order, _payment = paid
    with run_tasks():
        order_parcels_ship(
            order=order, parcels=[ParcelInput("zto", "75611788998298")], staff_user=staff, more_to_follow=True
        )
    [first] = sandbox.shippings()
    assert (first["delivery_mode"], first["is_all_delivered"], len(first["shipping_list"])) == (2, False, 1)

    with run_tasks():
        order_parcels_ship(order=order, parcels=[ParcelInput("yto", "YT3750696145732")], staff_user=staff)

    [second] = sandbox.shippings()
    assert (second["delivery_mode"], second["is_all_delivered"], second["uploads"]) == (2, True, 2)
    assert [parcel["express_company"] for parcel in second["shipping_list"]] == ["ZTO", "YTO"]
    assert second["reshipped"] is False  # completing a split shipment is not WeChat's one re-shipping
    with pytest.raises(OrderFullyShipped):
        order_parcels_ship(order=order, parcels=[ParcelInput("sto", "773317004754982")], staff_user=staff)


def test_virtual_goods_cannot_follow_parcels(sandbox, paid, staff):
    order, _payment = paid
    order_parcels_ship(
        order=order, parcels=[ParcelInput("zto", "75611788998298")], staff_user=staff, more_to_follow=True
    )

    with pytest.raises(VirtualGoodsNotInParcels):
        order_parcels_ship(order=order, parcels=[], staff_user=staff, virtual=True)
    assert Shipment.objects.filter(order=order).count() == 1


def test_virtual_goods_are_reported_without_a_parcel(sandbox, paid, staff, run_tasks):
    order, _payment = paid
    with run_tasks():
        order_parcels_ship(order=order, parcels=[], staff_user=staff, virtual=True)

    [shipping] = sandbox.shippings()
    assert (shipping["logistics_type"], shipping["delivery_mode"]) == (3, 1)
    assert shipping["shipping_list"] == [{"item_desc": "Ceramic mug*2"}]
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.tracking_number == ""


def test_a_tracking_number_is_corrected_once_and_refused_the_second_time(sandbox, paid, staff, run_tasks):
    order, _payment = paid
    with run_tasks():
        [parcel] = order_parcels_ship(order=order, parcels=[ParcelInput("sf", "SF1234567890")], staff_user=staff)
    with run_tasks():
        shipment_tracking_correct(shipment=parcel, tracking_number="SF1234567899", staff_user=staff)

    [shipping] = sandbox.shippings()
    assert shipping["shipping_list"][0]["tracking_no"] == "SF1234567899"
    assert (shipping["uploads"], shipping["reshipped"]) == (2, True)
    order.refresh_from_db()
    assert order.tracking_number == "SF1234567899"
    with pytest.raises(CorrectionUsed):
        shipment_tracking_correct(shipment=parcel, tracking_number="SF1234567800", staff_user=staff)
    parcel.refresh_from_db()
    assert (parcel.tracking_number, parcel.replaced_tracking_number) == ("SF1234567899", "SF1234567890")


def test_wechats_refusal_is_shown_in_staffs_words_and_can_be_asked_again(sandbox, paid, staff, run_tasks):
    order, _payment = paid
    sandbox.add_fault(UPLOAD, errcode=10060020, errmsg="该笔支付单不支持发货")
    with run_tasks():
        order_parcels_ship(order=order, parcels=[ParcelInput("jd", "JDVA12345678901")], staff_user=staff)

    report = ShippingReport.objects.get(order=order)
    assert (report.status, report.error_code) == (ShippingReportStatus.FAILED, "10060020")
    assert "no shipping management at WeChat" in shipping_report_problem(report)
    assert sandbox.shippings() == []

    with run_tasks():
        shipping_report_retry(order=order, staff_user=staff)
    report.refresh_from_db()
    assert (report.status, report.error_code) == (ShippingReportStatus.REPORTED, "")
    assert len(sandbox.shippings()) == 1


def test_wechat_busy_leaves_the_report_waiting_for_the_retry(sandbox, paid, staff, django_capture_on_commit_callbacks):
    order, _payment = paid
    with django_capture_on_commit_callbacks(execute=False):  # the task runs below, by hand
        order_parcels_ship(order=order, parcels=[ParcelInput("sf", "SF1234567890")], staff_user=staff)
    sandbox.add_fault(UPLOAD, errcode=-1)

    with pytest.raises(WeChatTransientError):
        shipping_report_send(order_id=order.pk)
    assert ShippingReport.objects.get(order=order).status == ShippingReportStatus.PENDING

    assert shipping_report_send(order_id=order.pk) == "reported"
    assert len(sandbox.shippings()) == 1
