from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from catalog.models import Sku
from config.status_machine import StatusActor, StatusEvent
from customers.models import Customer

# A cart line or an order line never asks for more than this of one SKU: a typo
# ("1000" for "10") would otherwise reserve a whole warehouse until it expired.
MAX_LINE_QUANTITY = 999


class Address(models.Model):
    """An entry in a customer's address book. Orders copy it, so editing or deleting it changes no order."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("customer")
    )
    recipient = models.CharField(max_length=32, verbose_name=_("recipient"))
    phone = models.CharField(max_length=20, verbose_name=_("phone"))
    province = models.CharField(max_length=32, verbose_name=_("province"))
    city = models.CharField(max_length=32, verbose_name=_("city"))
    district = models.CharField(max_length=32, verbose_name=_("district"))
    detail = models.CharField(max_length=200, help_text=_("Street, building and room."), verbose_name=_("detail"))
    is_default = models.BooleanField(default=False, verbose_name=_("is default"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_default=True),
                name="orders_address_one_default_per_customer",
                violation_error_message="A customer has at most one default address.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient}, {self.province}{self.city}{self.district}{self.detail}"


class CartItem(models.Model):
    """One SKU in a customer's cart. Prices are never stored here: the cart always shows today's price."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="cart_items", verbose_name=_("customer")
    )
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="cart_items", verbose_name=_("sku"))
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("cart item")
        verbose_name_plural = _("cart items")
        constraints = [
            models.UniqueConstraint(fields=["customer", "sku"], name="orders_cartitem_one_line_per_sku"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY),
                name="orders_cartitem_quantity_in_range",
                violation_error_message=f"A cart line holds 1 to {MAX_LINE_QUANTITY} of a SKU.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku_id}"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("pending payment")
    PAID = "paid", _("paid")
    SHIPPED = "shipped", _("shipped")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("expired")
    REFUNDING = "refunding", _("refunding")
    REFUNDED = "refunded", _("refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")


# Who or what changed an order; its status machine allows each transition to some of them only.
# The name orders' code has always used for the actors every status machine shares.
OrderActor = StatusActor


class Carrier(models.TextChoices):
    """Carriers by the names printed on their waybills; the stored code never changes (the API names it).

    The labels are the carriers' own Chinese brand names, which staff read in either language, so
    they are not translated. orders/carriers.py holds each one's English name and tracking number format.
    """

    SF_EXPRESS = "sf", "顺丰速运"
    ZTO = "zto", "中通快递"
    YTO = "yto", "圆通速递"
    YUNDA = "yunda", "韵达快递"
    STO = "sto", "申通快递"
    JD_LOGISTICS = "jd", "京东物流"
    EMS = "ems", "EMS"
    JT_EXPRESS = "jtexpress", "极兔速递"
    CHINA_POST = "chinapost", "邮政快递包裹"
    DEPPON = "deppon", "德邦快递"


class Order(models.Model):
    """What a customer bought, at which prices, shipped where: every value is a copy taken at order time."""

    # 14 digits of Beijing time then 10 random digits: sorts by time, cannot be enumerated,
    # and fits WeChat Pay's out_trade_no (at most 32 letters and digits).
    order_no = models.CharField(max_length=32, editable=False, verbose_name=_("order no"))
    # No index of its own: orders_order_customer_recent leads with the customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="orders", db_index=False, verbose_name=_("customer")
    )
    status = models.CharField(
        max_length=32, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT, verbose_name=_("status")
    )
    total_fen = models.PositiveBigIntegerField(verbose_name=_("total fen"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))

    # The address as it was when the customer ordered.
    recipient = models.CharField(max_length=32, verbose_name=_("recipient"))
    phone = models.CharField(max_length=20, verbose_name=_("phone"))
    province = models.CharField(max_length=32, verbose_name=_("province"))
    city = models.CharField(max_length=32, verbose_name=_("city"))
    district = models.CharField(max_length=32, verbose_name=_("district"))
    address_detail = models.CharField(max_length=200, verbose_name=_("address detail"))

    # Attribution (campaigns/sources.py): the Mini Program's launch scene, the campaign code as the
    # Mini Program sent it, kept even when no campaign has it, and the page it opened.
    source_scene = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("source scene"))
    source_campaign = models.CharField(max_length=64, blank=True, verbose_name=_("source campaign"))
    # db_default: benches and other raw INSERTs that predate the column still fill it.
    source_path = models.CharField(max_length=256, blank=True, default="", db_default="", verbose_name=_("source page"))
    # The campaign of source_campaign when it is one of ours when the order is placed. No index of its
    # own: orders_order_by_campaign covers only the orders that have one.
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
        db_index=False,
        verbose_name=_("campaign"),
    )

    # A retried create with the same key returns this order; the digest tells a retry from a different request.
    idempotency_key = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("idempotency key"))
    request_digest = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("request digest"))

    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(
        help_text=_("Unpaid by then, the order expires and its stock returns."), verbose_name=_("expires at")
    )
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    shipped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("shipped at"))
    carrier = models.CharField(max_length=16, choices=Carrier.choices, blank=True, verbose_name=_("carrier"))
    tracking_number = models.CharField(max_length=40, blank=True, verbose_name=_("tracking number"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [("ship_order", "Can ship orders"), ("refund_order", "Can refund orders")]
        # Every index is written by each order placed: only those a query uses. Exact-match
        # btrees (no LIKE twins): staff search order numbers and phones whole.
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="orders_order_customer_recent"),
            models.Index(fields=["phone"], name="orders_order_phone"),
            # The revenue report's range of paid orders (orders/revenue.py), read from the index alone: written
            # when an order is paid, an update that already changes indexed columns (status).
            models.Index(
                fields=["paid_at"],
                include=["campaign", "customer", "total_fen", "source_scene"],
                condition=Q(paid_at__isnull=False),
                name="orders_order_paid_for_revenue",
            ),
            # The revenue report's buyers per source (orders/revenue.py): paid orders read in (source, buyer)
            # order into a streaming count, from the index alone. Partial to paid orders, so placing an order
            # writes none of them; payment writes one entry in each, an update that already changes indexed
            # columns. By push and by article the report reads the campaign index one campaign at a time.
            models.Index(
                fields=["campaign", "customer"],
                include=["paid_at", "total_fen"],
                condition=Q(paid_at__isnull=False),
                name="orders_order_paid_by_campaign",
            ),
            models.Index(
                fields=["source_scene", "customer"],
                include=["paid_at", "total_fen"],
                condition=Q(paid_at__isnull=False),
                name="orders_order_paid_by_scene",
            ),
            # The report's total: the range's distinct buyers, read in buyer order.
            models.Index(
                fields=["customer"],
                include=["paid_at"],
                condition=Q(paid_at__isnull=False),
                name="orders_order_paid_by_customer",
            ),
            # The report's refunds: each refunded order's payment day and source, looked up from the index alone.
            models.Index(
                fields=["id"],
                include=["paid_at", "campaign", "source_scene"],
                condition=Q(paid_at__isnull=False),
                name="orders_order_paid_by_id",
            ),
            # Orders per campaign (and a campaign's SET NULL on delete), written only by orders that have one.
            models.Index(fields=["campaign"], condition=Q(campaign__isnull=False), name="orders_order_by_campaign"),
            # The expiry task's claim: unpaid orders by deadline.
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending_payment"),
                name="orders_order_unpaid_by_expiry",
            ),
            # The automatic completion's claim: shipped orders by when they shipped.
            models.Index(fields=["shipped_at"], condition=Q(status="shipped"), name="orders_order_shipped_by_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order_no"], name="orders_order_order_no_unique"),
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="orders_order_one_order_per_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return self.order_no


class OrderLine(models.Model):
    # No index of its own: orders_orderline_one_line_per_sku leads with the order.
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="lines", db_index=False, verbose_name=_("order")
    )
    # PROTECT: a SKU that was sold is taken off shelf, not deleted, so sales figures keep it.
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("sku"))
    title = models.CharField(max_length=120, verbose_name=_("title"))
    specs = models.JSONField(default=dict, verbose_name=_("specs"))
    image = models.CharField(
        max_length=500, blank=True, help_text=_("URL of the product's main image then."), verbose_name=_("image")
    )
    price_fen = models.PositiveIntegerField(verbose_name=_("price fen"))
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))
    subtotal_fen = models.PositiveBigIntegerField(verbose_name=_("subtotal fen"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "sku"], name="orders_orderline_one_line_per_sku"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY),
                name="orders_orderline_quantity_in_range",
            ),
            models.CheckConstraint(
                # In 64 bits: a 32-bit product overflows for an expensive SKU bought by the hundred.
                condition=Q(subtotal_fen=Cast("price_fen", models.BigIntegerField()) * models.F("quantity")),
                name="orders_orderline_subtotal_is_price_times_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"


class OrderEvent(StatusEvent):
    """One status change, appended by the status service and never edited: the order's timeline."""

    subject_field = "order"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    from_status = models.CharField(
        max_length=32, choices=OrderStatus.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=32, choices=OrderStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("order event")
        verbose_name_plural = _("order events")


class SkuStockAndSales(Sku):
    """SKUs as operations read them beside orders: stock, units awaiting payment, units sold."""

    class Meta:
        proxy = True
        verbose_name = _("stock and sales")
        verbose_name_plural = _("stock and sales")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("awaiting payment")
    PAID = "paid", _("paid")
    CLOSED = "closed", _("closed at WeChat")
    FAILED = "failed", _("failed")


class Payment(models.Model):
    """One attempt to pay an order through WeChat Pay: one `out_trade_no`, one prepay.

    `refunded_fen` is the sum of the payment's refunds that are not failed; the database keeps
    it within the amount paid, so two concurrent refunds cannot together refund too much.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    out_trade_no = models.CharField(max_length=32, unique=True, editable=False, verbose_name=_("out trade no"))
    amount_fen = models.PositiveBigIntegerField(verbose_name=_("amount fen"))
    # The notification is signed the way the prepay was (and may not say which).
    sign_type = models.CharField(max_length=16, verbose_name=_("sign type"))
    # The Mini Program and WeChat Pay merchant it was made through: every later call about it (query,
    # close, refund) goes to that merchant. Blank on payments made before merchants were rows: the
    # settings' Mini Program and merchant.
    appid = models.CharField(_("Mini Program app ID"), max_length=32, blank=True, default="", editable=False)
    mch_id = models.CharField(_("merchant id"), max_length=32, blank=True, default="", editable=False)
    prepay_id = models.CharField(max_length=64, blank=True, verbose_name=_("prepay id"))
    prepay_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("prepay expires at"))
    # When we last asked WeChat for its unified order: WeChat refuses to close one younger than 5 minutes.
    prepay_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("prepay requested at"))
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING, verbose_name=_("status")
    )
    transaction_id = models.CharField(
        max_length=32, null=True, blank=True, unique=True, verbose_name=_("transaction id")
    )
    refunded_fen = models.PositiveBigIntegerField(default=0, verbose_name=_("refunded fen"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="paid"), name="orders_payment_one_paid_per_order"
            ),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=models.F("amount_fen")),
                name="orders_payment_refunds_within_amount",
                violation_error_message="The refunds would exceed what was paid.",
            ),
        ]
        indexes = [models.Index(fields=["paid_at"], name="orders_payment_paid_at")]

    def __str__(self) -> str:
        return self.out_trade_no


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("requested")
    PROCESSING = "processing", _("processing at WeChat")
    SUCCEEDED = "succeeded", _("refunded")
    FAILED = "failed", _("failed")


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    out_refund_no = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("out refund no"))
    amount_fen = models.PositiveBigIntegerField(verbose_name=_("amount fen"))
    reason = models.CharField(max_length=80, verbose_name=_("reason"))
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED, verbose_name=_("status")
    )
    refund_id = models.CharField(max_length=32, null=True, blank=True, unique=True, verbose_name=_("refund id"))
    failure_reason = models.CharField(max_length=200, blank=True, verbose_name=_("failure reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    settled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("settled at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="orders_refund_amount_positive"),
        ]
        indexes = [
            # The settling task's claim: refunds WeChat has not reported on, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["requested", "processing"]),
                name="orders_refund_unsettled_by_age",
            ),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class NotificationOutcome(models.TextChoices):
    APPLIED = "applied", _("marked the order paid")
    DUPLICATE = "duplicate", _("duplicate: nothing changed")
    AMOUNT_MISMATCH = "amount_mismatch", _("amount differs from ours: not paid, staff check")
    ORDER_NOT_PAYABLE = "order_not_payable", _("money taken for an order no longer payable: staff refund")
    NOT_PAID = "not_paid", _("WeChat reports the payment failed")


class PaymentNotification(models.Model):
    """A payment notification from WeChat Pay whose signature checked out, as received; appended, never edited.

    Every copy is kept, duplicates included, so staff can see what WeChat told us and when.
    """

    # Outcomes staff must act on: money may have moved that our books do not show as paid.
    NEEDS_ATTENTION = (NotificationOutcome.AMOUNT_MISMATCH, NotificationOutcome.ORDER_NOT_PAYABLE)

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="notifications", verbose_name=_("payment")
    )
    out_trade_no = models.CharField(max_length=32, verbose_name=_("out trade no"))
    transaction_id = models.CharField(max_length=32, verbose_name=_("transaction id"))
    total_fee = models.PositiveBigIntegerField(
        help_text=_("The amount WeChat says was paid, in fen."), verbose_name=_("total fee")
    )
    result_code = models.CharField(max_length=16, verbose_name=_("result code"))
    outcome = models.CharField(max_length=32, choices=NotificationOutcome.choices, verbose_name=_("outcome"))
    raw_body = models.TextField(verbose_name=_("raw body"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("payment notification")
        verbose_name_plural = _("payment notifications")
        indexes = [
            models.Index(
                fields=["-received_at"],
                condition=Q(outcome__in=["amount_mismatch", "order_not_payable"]),
                name="orders_paynotify_attention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.out_trade_no} ({self.get_outcome_display()})"


class PaymentEvent(StatusEvent):
    """One status change of a payment, appended by the payment status service and never edited."""

    subject_field = "payment"

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events", verbose_name=_("payment"))
    from_status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=16, choices=PaymentStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")


class RefundEvent(StatusEvent):
    """One status change of a refund, appended by the refund status service and never edited."""

    subject_field = "refund"

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="events", verbose_name=_("refund"))
    from_status = models.CharField(
        max_length=16, choices=RefundStatus.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=16, choices=RefundStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("refund event")
        verbose_name_plural = _("refund events")


class ReconciliationRunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class ReconciliationTrigger(models.TextChoices):
    BEAT = "beat", _("daily schedule")
    COMMAND = "command", _("management command")
    ADMIN = "admin", _("admin")


class ReconciliationRun(models.Model):
    """One comparison of WeChat Pay's bill for a Beijing date with our payments and refunds.

    Every run is kept: a re-run of a date is a new row. At most one run of a date is running.
    """

    bill_date = models.DateField(help_text=_("The Beijing calendar day the bill covers."), verbose_name=_("bill date"))
    # Whose bill, and the WeChat Pay API version it was downloaded and read with (blank on runs from before).
    mch_id = models.CharField(_("merchant id"), max_length=32, blank=True, default="")
    api_version = models.CharField(_("WeChat Pay API version"), max_length=2, blank=True, default="")
    status = models.CharField(
        max_length=16,
        choices=ReconciliationRunStatus.choices,
        default=ReconciliationRunStatus.RUNNING,
        verbose_name=_("status"),
    )
    triggered_by = models.CharField(
        max_length=16, choices=ReconciliationTrigger.choices, verbose_name=_("triggered by")
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliation_runs",
        help_text=_("Who started it from the admin."),
        verbose_name=_("staff user"),
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    bill_found = models.BooleanField(
        default=True,
        help_text=_("False when WeChat answered “No Bill Exist”: it had no trades that day."),
        verbose_name=_("bill found"),
    )
    bill_columns = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("24 (older) or 27."), verbose_name=_("bill columns")
    )
    payment_rows = models.PositiveIntegerField(
        default=0, help_text=_("The bill's payment rows."), verbose_name=_("payment rows")
    )
    refund_rows = models.PositiveIntegerField(
        default=0, help_text=_("The bill's refund rows."), verbose_name=_("refund rows")
    )
    matched_count = models.PositiveIntegerField(
        default=0, help_text=_("Bill rows that agree with ours."), verbose_name=_("matched count")
    )
    discrepancy_count = models.PositiveIntegerField(
        default=0,
        help_text=_("Problems this run found, whether new or already open."),
        verbose_name=_("discrepancy count"),
    )
    repaired_count = models.PositiveIntegerField(default=0, verbose_name=_("repaired count"))
    # The bill's summary row, and what its rows add up to (fen; the trade count in rows).
    summary_trade_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("summary trade count"))
    summary_settlement_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("summary settlement fen"))
    summary_refund_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("summary refund fen"))
    summary_order_fen = models.BigIntegerField(
        null=True, blank=True, help_text=_("27-column bills only."), verbose_name=_("summary order fen")
    )
    rows_settlement_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("rows settlement fen"))
    rows_refund_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("rows refund fen"))
    rows_order_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("rows order fen"))
    error_message = models.TextField(blank=True, verbose_name=_("error message"))
    error_transient = models.BooleanField(
        default=False,
        help_text=_("WeChat may answer later (the bill not made yet, WeChat busy): worth retrying."),
        verbose_name=_("error transient"),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        permissions = [("start_reconciliationrun", "Can reconcile a date")]
        indexes = [models.Index(fields=["bill_date", "-started_at"], name="orders_reconrun_by_date")]
        constraints = [
            models.UniqueConstraint(
                fields=["bill_date", "mch_id"],
                condition=Q(status="running"),
                name="orders_reconrun_one_running_per_date_merchant",
                violation_error_message="This date is being reconciled for this merchant already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bill_date} #{self.pk}"


class DiscrepancyKind(models.TextChoices):
    MISSING_LOCALLY = "missing_locally", _("missing locally")
    MISSING_AT_WECHAT = "missing_at_wechat", _("missing at WeChat")
    AMOUNT_MISMATCH = "amount_mismatch", _("amount mismatch")
    STATUS_MISMATCH = "status_mismatch", _("status mismatch")
    TOTALS_MISMATCH = "totals_mismatch", _("totals mismatch")


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", _("open")
    RESOLVED = "resolved", _("resolved")


class Discrepancy(models.Model):
    """One problem reconciliation found in a date's bill, until staff (or a safe repair) settle it.

    A problem is recorded once per date (`problem_key`): a re-run that finds it again only moves
    `last_seen_run`, and one that finds it settled is not told to forget how it was settled.
    Resolving is the only status change and is final, so who, when and why live on the row.
    """

    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="discrepancies",
        help_text=_("The run that found it."),
        verbose_name=_("run"),
    )
    last_seen_run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="discrepancies_seen",
        help_text=_("The latest run that found it still there."),
        verbose_name=_("last seen run"),
    )
    bill_date = models.DateField(verbose_name=_("bill date"))
    kind = models.CharField(max_length=24, choices=DiscrepancyKind.choices, verbose_name=_("kind"))
    # kind, then the order and refund numbers (or the summary figure): what makes it the same problem.
    problem_key = models.CharField(max_length=160, editable=False, verbose_name=_("problem key"))
    out_trade_no = models.CharField(max_length=32, blank=True, verbose_name=_("out trade no"))
    out_refund_no = models.CharField(max_length=64, blank=True, verbose_name=_("out refund no"))
    transaction_id = models.CharField(max_length=32, blank=True, verbose_name=_("transaction id"))
    bill_line = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Line of the bill, if it has one."), verbose_name=_("bill line")
    )
    local_amount_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("local amount fen"))
    wechat_amount_fen = models.BigIntegerField(null=True, blank=True, verbose_name=_("wechat amount fen"))
    local_status = models.CharField(max_length=16, blank=True, verbose_name=_("local status"))
    wechat_status = models.CharField(max_length=16, blank=True, verbose_name=_("wechat status"))
    # Not the "detail" of an address (详细地址): what the comparison found.
    detail = models.CharField(max_length=500, verbose_name=pgettext_lazy("discrepancy", "detail"))
    repaired = models.BooleanField(default=False, verbose_name=_("repaired"))
    repair_note = models.CharField(
        max_length=300, blank=True, help_text=_("What the automatic repair changed."), verbose_name=_("repair note")
    )
    status = models.CharField(
        max_length=16, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN, verbose_name=_("status")
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolved_discrepancies",
        help_text=_("Empty when reconciliation settled it itself."),
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    resolution_note = models.TextField(blank=True, verbose_name=_("resolution note"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-bill_date", "id"]
        verbose_name = _("discrepancy")
        verbose_name_plural = _("discrepancies")
        permissions = [("resolve_discrepancy", "Can resolve discrepancies")]
        indexes = [models.Index(fields=["status", "-bill_date"], name="orders_discrepancy_open")]
        constraints = [
            models.UniqueConstraint(fields=["bill_date", "problem_key"], name="orders_discrepancy_once_per_problem"),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | Q(status="resolved", resolved_at__isnull=False),
                name="orders_discrepancy_resolved_has_a_time",
            ),
            models.CheckConstraint(
                condition=Q(repaired=False) | Q(status="resolved"), name="orders_discrepancy_repaired_is_resolved"
            ),
        ]

    def __str__(self) -> str:
        subject = self.out_refund_no or self.out_trade_no or self.problem_key
        return f"{self.bill_date} {self.get_kind_display()}: {subject}"


class ReconciliationRunEvent(StatusEvent):
    """One status change of a reconciliation run, appended by its status service and never edited."""

    subject_field = "run"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="events", verbose_name=_("run"))
    from_status = models.CharField(
        max_length=16, choices=ReconciliationRunStatus.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=16, choices=ReconciliationRunStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("reconciliation run event")
        verbose_name_plural = _("reconciliation run events")


class DiscrepancyEvent(StatusEvent):
    """One status change of a discrepancy, appended by its status service and never edited."""

    subject_field = "discrepancy"

    discrepancy = models.ForeignKey(
        Discrepancy, on_delete=models.CASCADE, related_name="events", verbose_name=_("discrepancy")
    )
    from_status = models.CharField(
        max_length=16, choices=DiscrepancyStatus.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=16, choices=DiscrepancyStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("discrepancy event")
        verbose_name_plural = _("discrepancy events")


# Parcels and WeChat's shipping service's view of them live in their own module.
from orders.shipment_models import Shipment, ShippingReport, ShippingReportEvent, ShippingReportStatus  # noqa: E402, F401
