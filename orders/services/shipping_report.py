"""Telling WeChat's shipping service (小程序发货信息管理服务) what an order shipped, once per change.

The report task calls `shipping_report_send`: it builds the upload from the order's parcels, skips
it when WeChat already has exactly that (a digest of what was accepted), calls WeChat outside any
transaction, then records the answer under the report's row lock. WeChat has no idempotency key
here: a worker killed between WeChat's answer and our write uploads again on redelivery, which
WeChat takes as the payment's one re-shipping (or refuses with 10060003); see docs/api.md.
"""

import hashlib
import json
from dataclasses import replace

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.celery import app as celery_app
from config.status_machine import StatusActor, StatusMachine
from orders.models import Carrier, Order, Payment, PaymentStatus
from orders.shipment_models import Shipment, ShippingReport, ShippingReportEvent, ShippingReportStatus
from orders.shipping_exceptions import ShippingReportTransitionNotAllowed
from wechat.errors import WeChatError
from wechat.miniprogram_delivery_companies import delivery_companies
from wechat.miniprogram_shipping import (
    LOGISTICS_EXPRESS,
    LOGISTICS_VIRTUAL,
    MAX_ITEM_DESC_CHARACTERS,
    OrderKey,
    ParcelShipped,
    ShippingRefused,
    ShippingUpload,
    mask_phone,
    shipping_info_upload,
)
from wechat.models import MiniProgram

R = ShippingReportStatus
REPORT_TASK = "orders.tasks.report_shipping_to_wechat"

# Our carriers and WeChat's delivery_id for each (获取运力id列表, get_delivery_list).
WECHAT_DELIVERY_IDS: dict[str, str] = {
    Carrier.SF_EXPRESS: "SF",
    Carrier.ZTO: "ZTO",
    Carrier.YTO: "YTO",
    Carrier.YUNDA: "YD",
    Carrier.STO: "STO",
    Carrier.JD_LOGISTICS: "JD",
    Carrier.EMS: "EMS",
    Carrier.JT_EXPRESS: "JTSD",
    Carrier.CHINA_POST: "YZPY",
    Carrier.DEPPON: "DBL",
}

REPORT_STATUS = StatusMachine(
    model=ShippingReport,
    event_model=ShippingReportEvent,
    transitions={
        (R.PENDING, R.REPORTED): {StatusActor.SYSTEM},
        (R.PENDING, R.FAILED): {StatusActor.SYSTEM},
        # Something new to tell WeChat (a parcel, a correction), or staff asking again after a refusal.
        (R.REPORTED, R.PENDING): {StatusActor.STAFF},
        (R.FAILED, R.PENDING): {StatusActor.STAFF},
    },
    refused=ShippingReportTransitionNotAllowed,
)


def shipping_report_problem(report: ShippingReport) -> str:
    """WeChat's last refusal as staff act on it (发货信息录入, 错误码), in the reader's language; "" if none."""
    code, detail = report.error_code, report.error_message
    if not code:
        return ""
    if code == "busy":
        return _("WeChat stayed busy: the shipping is not reported yet.")
    if code == "no_payment":
        return _("No WeChat Pay payment to report.")
    if code == "10060001":
        return _("WeChat Pay does not know this payment (yet).")
    if code in ("10060002", "10060003"):
        return _("WeChat has this order's shipping already and takes no further change to it.")
    if code == "10060004":
        return _("WeChat takes no shipping for this payment now: it is refunded, or its receipt is confirmed.")
    if code == "10060020":
        return _("This Mini Program has no shipping management at WeChat: enable it in the Mini Program's console.")
    return _("WeChat refused the shipping (error %(code)s): %(detail)s") % {"code": code, "detail": detail}


def _item_description(order: Order) -> str:
    """商品信息, e.g. "微信红包抱枕*1个", "限120个字以内": every line, shortened to fit."""
    text = "；".join(f"{line.title}*{line.quantity}" for line in order.lines.all())
    return text if len(text) <= MAX_ITEM_DESC_CHARACTERS else text[: MAX_ITEM_DESC_CHARACTERS - 1] + "…"


def _upload_for(order: Order, payment: Payment, report: ShippingReport, shipments: list[Shipment]) -> ShippingUpload:
    item_desc = _item_description(order) or order.order_no
    contact = mask_phone(order.phone)
    if shipments and all(not shipment.tracking_number for shipment in shipments):
        parcels = (ParcelShipped(item_desc=item_desc),)
        logistics_type = LOGISTICS_VIRTUAL
    else:
        parcels = tuple(
            ParcelShipped(
                item_desc=item_desc,
                tracking_no=shipment.tracking_number,
                express_company=shipment.delivery_id,
                receiver_contact=contact,
            )
            for shipment in shipments
        )
        logistics_type = LOGISTICS_EXPRESS
    if payment.transaction_id:
        order_key = OrderKey(transaction_id=payment.transaction_id)
    else:
        order_key = OrderKey(mchid=payment.mch_id or settings.WECHAT_PAY_MCH_ID, out_trade_no=payment.out_trade_no)
    return ShippingUpload(
        order_key=order_key,
        payer_openid=order.customer.openid,
        logistics_type=logistics_type,
        parcels=parcels,
        all_delivered=report.all_delivered,
    )


def _payment_of(order: Order) -> Payment | None:
    """The payment WeChat ships against: the paid one, or (once refunds began) the last that was paid."""
    paid = Payment.objects.filter(order=order, status=PaymentStatus.PAID).first()
    return paid or Payment.objects.filter(order=order, transaction_id__isnull=False).order_by("-paid_at").first()


def _digest(upload: ShippingUpload) -> str:
    what = {
        "logistics_type": upload.logistics_type,
        "all_delivered": upload.all_delivered,
        "parcels": [parcel.as_json() for parcel in upload.parcels],
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def wechat_delivery_id(carrier: str) -> str:
    return WECHAT_DELIVERY_IDS.get(carrier, "")


def carrier_choices() -> list[tuple[str, str]]:
    """Our carriers that WeChat lists, by WeChat's Chinese name for them; all of ours if the list is unavailable."""
    try:
        names = {company.delivery_id: company.name for company in delivery_companies()}
    except WeChatError:  # WeChat unreachable and nothing kept: staff still ship, the report waits
        return list(Carrier.choices)
    return [
        (carrier.value, names[wechat_delivery_id(carrier)] or carrier.label)
        for carrier in Carrier
        if wechat_delivery_id(carrier) in names
    ]


def _report_task_queue(order_id: int) -> None:
    # By name: orders.tasks imports these services. Through a signature so that routing applies
    # (and eager mode, when so configured), as refunds queue theirs.
    transaction.on_commit(celery_app.signature(REPORT_TASK, args=[order_id]).delay)


def shipping_report_mark_pending(
    *, order: Order, all_delivered: bool, staff_user: AbstractBaseUser | None, reason: str
):
    """Under the caller's transaction: the order's report waits to be sent (created if new); the send is queued."""
    report = ShippingReport.objects.select_for_update().filter(order=order).first()
    if report is None:
        report = ShippingReport.objects.create(order=order, all_delivered=all_delivered)
        REPORT_STATUS.record_creation(report, actor=StatusActor.STAFF, reason=reason, staff_user=staff_user)
    else:
        if report.all_delivered != all_delivered:
            report.all_delivered = all_delivered
            report.save(update_fields=["all_delivered", "updated_at"])
        if report.status != R.PENDING:
            REPORT_STATUS.change(
                report, to_status=R.PENDING, actor=StatusActor.STAFF, reason=reason, staff_user=staff_user
            )
    _report_task_queue(order.pk)
    return report


def shipping_report_retry(*, order: Order, staff_user: AbstractBaseUser) -> ShippingReport:
    """Staff ask again after WeChat refused (the cause fixed at WeChat's side, e.g. the service enabled)."""
    with transaction.atomic():
        report = REPORT_STATUS.lock(ShippingReport.objects.get(order=order).pk)
        REPORT_STATUS.change(
            report, to_status=R.PENDING, actor=StatusActor.STAFF, reason=_("asked again"), staff_user=staff_user
        )
        _report_task_queue(order.pk)
    return report


def shipping_report_send(*, order_id: int) -> str:
    """Send the order's shipping to WeChat if it has something new; returns what happened (for the task's log).

    Raises ShippingBusy / WeChatTransientError for the task to retry; refusals are recorded, not raised.
    """
    report = ShippingReport.objects.filter(order_id=order_id).select_related("order__customer").first()
    if report is None or report.status != R.PENDING:
        return "nothing to report"
    order = report.order
    payment = _payment_of(order)
    shipments = list(Shipment.objects.filter(order=order))
    if payment is None or not shipments:
        _report_record(order_id, R.FAILED, digest="", error_code="no_payment", message="")
        return "no payment"
    upload = _upload_for(order, payment, report, shipments)
    digest = _digest(upload)
    if digest == report.reported_digest:
        _report_record(order_id, R.REPORTED, digest=digest)
        return "unchanged"
    mini_program = MiniProgram.objects.filter(appid=payment.appid).first() if payment.appid else None
    # 上传时间 "用于标识请求的先后顺序": each upload later than the one before.
    upload = replace(upload, upload_time=timezone.localtime())
    try:
        shipping_info_upload(upload=upload, mini_program=mini_program)
    except ShippingRefused as refusal:
        detail = str(refusal.body.get("errmsg", "")) if refusal.body else str(refusal)
        _report_record(order_id, R.FAILED, digest="", error_code=str(refusal.errcode), message=detail)
        return "refused"
    _report_record(order_id, R.REPORTED, digest=digest)
    return "reported"


def _current_digest(report: ShippingReport) -> str:
    order = report.order
    payment = _payment_of(order)
    shipments = list(Shipment.objects.filter(order=order))
    if payment is None or not shipments:
        return ""
    return _digest(_upload_for(order, payment, report, shipments))


def shipping_report_failure_record(*, order_id: int, detail: str) -> None:
    """The task's last retry failed (WeChat busy or unreachable): staff see it and may ask again."""
    _report_record(order_id, R.FAILED, digest="", error_code="busy", message=detail)


@transaction.atomic
def _report_record(
    order_id: int, to_status: str, *, digest: str, error_code: str = "", message: str = "", reason: str = ""
) -> None:
    report = ShippingReport.objects.select_for_update().filter(order_id=order_id).first()
    if report is None or report.status != R.PENDING:
        return  # recorded by an earlier run of the task
    fields = {"error_code": error_code, "error_message": message[:300]}
    if to_status == R.REPORTED:
        fields |= {"reported_digest": digest, "reported_at": timezone.now()}
        if _current_digest(report) != digest:  # a parcel or correction came while we were uploading
            for name, value in fields.items():
                setattr(report, name, value)
            report.save(update_fields=[*fields, "updated_at"])
            _report_task_queue(order_id)
            return
    # The event names WeChat's code as WeChat sent it; the order page words it in the reader's language.
    reason = f"WeChat {error_code}: {message}" if error_code else reason
    REPORT_STATUS.change(report, to_status=to_status, actor=StatusActor.SYSTEM, reason=reason, fields=fields)
