from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from catalog.models import Sku
from config.status_machine import StatusActor, StatusEvent
from customers.models import Customer

# A cart line or an order line never asks for more than this of one SKU: a typo
# ("1000" for "10") would otherwise reserve a whole warehouse until it expired.
MAX_LINE_QUANTITY = 999


class Address(models.Model):
    """An entry in a customer's address book. Orders copy it, so editing or deleting it changes no order."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    recipient = models.CharField(max_length=32)
    phone = models.CharField(max_length=20)
    province = models.CharField(max_length=32)
    city = models.CharField(max_length=32)
    district = models.CharField(max_length=32)
    detail = models.CharField(max_length=200, help_text="Street, building and room.")
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        verbose_name = "address"
        verbose_name_plural = "addresses"
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

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cart_items")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="cart_items")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "cart item"
        verbose_name_plural = "cart items"
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
    PENDING_PAYMENT = "pending_payment", "pending payment"
    PAID = "paid", "paid"
    SHIPPED = "shipped", "shipped"
    COMPLETED = "completed", "completed"
    CANCELLED = "cancelled", "cancelled"
    EXPIRED = "expired", "expired"
    REFUNDING = "refunding", "refunding"
    REFUNDED = "refunded", "refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "partially refunded"


# Who or what changed an order; its status machine allows each transition to some of them only.
# The name orders' code has always used for the actors every status machine shares.
OrderActor = StatusActor


class Carrier(models.TextChoices):
    SF_EXPRESS = "sf", "SF Express"
    JD_LOGISTICS = "jd", "JD Logistics"
    ZTO = "zto", "ZTO Express"
    YTO = "yto", "YTO Express"
    STO = "sto", "STO Express"
    YUNDA = "yunda", "Yunda Express"
    EMS = "ems", "China Post EMS"


class Order(models.Model):
    """What a customer bought, at which prices, shipped where: every value is a copy taken at order time."""

    # 14 digits of Beijing time then 10 random digits: sorts by time, cannot be enumerated,
    # and fits WeChat Pay's out_trade_no (at most 32 letters and digits).
    order_no = models.CharField(max_length=32, editable=False)
    # No index of its own: orders_order_customer_recent leads with the customer.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", db_index=False)
    status = models.CharField(max_length=32, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT)
    total_fen = models.PositiveBigIntegerField()
    note = models.CharField(max_length=200, blank=True)

    # The address as it was when the customer ordered.
    recipient = models.CharField(max_length=32)
    phone = models.CharField(max_length=20)
    province = models.CharField(max_length=32)
    city = models.CharField(max_length=32)
    district = models.CharField(max_length=32)
    address_detail = models.CharField(max_length=200)

    # Attribution: the Mini Program's launch scene and a campaign tag (e.g. the push whose article linked here).
    source_scene = models.PositiveIntegerField(null=True, blank=True)
    source_campaign = models.CharField(max_length=64, blank=True)

    # A retried create with the same key returns this order; the digest tells a retry from a different request.
    idempotency_key = models.CharField(max_length=64, blank=True, editable=False)
    request_digest = models.CharField(max_length=64, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="Unpaid by then, the order expires and its stock returns.")
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=16, choices=Carrier.choices, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "order"
        verbose_name_plural = "orders"
        permissions = [("ship_order", "Can ship orders"), ("refund_order", "Can refund orders")]
        # Every index is written by each order placed: only those a query uses. Exact-match
        # btrees (no LIKE twins): staff search order numbers and phones whole.
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="orders_order_customer_recent"),
            models.Index(fields=["phone"], name="orders_order_phone"),
            # The expiry task's claim: unpaid orders by deadline.
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending_payment"),
                name="orders_order_unpaid_by_expiry",
            ),
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
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", db_index=False)
    # PROTECT: a SKU that was sold is taken off shelf, not deleted, so sales figures keep it.
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="order_lines")
    title = models.CharField(max_length=120)
    specs = models.JSONField(default=dict)
    image = models.CharField(max_length=500, blank=True, help_text="URL of the product's main image then.")
    price_fen = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField()
    subtotal_fen = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["id"]
        verbose_name = "order line"
        verbose_name_plural = "order lines"
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

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=32, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=32, choices=OrderStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "order event"
        verbose_name_plural = "order events"


class SkuStockAndSales(Sku):
    """SKUs as operations read them beside orders: stock, units awaiting payment, units sold."""

    class Meta:
        proxy = True
        verbose_name = "stock and sales"
        verbose_name_plural = "stock and sales"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "awaiting payment"
    PAID = "paid", "paid"
    CLOSED = "closed", "closed at WeChat"
    FAILED = "failed", "failed"


class Payment(models.Model):
    """One attempt to pay an order through WeChat Pay: one `out_trade_no`, one prepay.

    `refunded_fen` is the sum of the payment's refunds that are not failed; the database keeps
    it within the amount paid, so two concurrent refunds cannot together refund too much.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    out_trade_no = models.CharField(max_length=32, unique=True, editable=False)
    amount_fen = models.PositiveBigIntegerField()
    # The notification is signed the way the prepay was (and may not say which).
    sign_type = models.CharField(max_length=16)
    # The Mini Program and WeChat Pay merchant it was made through: every later call about it (query,
    # close, refund) goes to that merchant. Blank on payments made before merchants were rows: the
    # settings' Mini Program and merchant.
    appid = models.CharField(_("Mini Program app ID"), max_length=32, blank=True, default="", editable=False)
    mch_id = models.CharField(_("merchant id"), max_length=32, blank=True, default="", editable=False)
    prepay_id = models.CharField(max_length=64, blank=True)
    prepay_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    transaction_id = models.CharField(max_length=32, null=True, blank=True, unique=True)
    refunded_fen = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "payment"
        verbose_name_plural = "payments"
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
    REQUESTED = "requested", "requested"
    PROCESSING = "processing", "processing at WeChat"
    SUCCEEDED = "succeeded", "refunded"
    FAILED = "failed", "failed"


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField(max_length=64, unique=True, editable=False)
    amount_fen = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=80)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    refund_id = models.CharField(max_length=32, null=True, blank=True, unique=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "refund"
        verbose_name_plural = "refunds"
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
    APPLIED = "applied", "marked the order paid"
    DUPLICATE = "duplicate", "duplicate: nothing changed"
    AMOUNT_MISMATCH = "amount_mismatch", "amount differs from ours: not paid, staff check"
    ORDER_NOT_PAYABLE = "order_not_payable", "money taken for an order no longer payable: staff refund"
    NOT_PAID = "not_paid", "WeChat reports the payment failed"


class PaymentNotification(models.Model):
    """A payment notification from WeChat Pay whose signature checked out, as received; appended, never edited.

    Every copy is kept, duplicates included, so staff can see what WeChat told us and when.
    """

    # Outcomes staff must act on: money may have moved that our books do not show as paid.
    NEEDS_ATTENTION = (NotificationOutcome.AMOUNT_MISMATCH, NotificationOutcome.ORDER_NOT_PAYABLE)

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="notifications")
    out_trade_no = models.CharField(max_length=32)
    transaction_id = models.CharField(max_length=32)
    total_fee = models.PositiveBigIntegerField(help_text="The amount WeChat says was paid, in fen.")
    result_code = models.CharField(max_length=16)
    outcome = models.CharField(max_length=32, choices=NotificationOutcome.choices)
    raw_body = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "payment notification"
        verbose_name_plural = "payment notifications"
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

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=PaymentStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=PaymentStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "payment event"
        verbose_name_plural = "payment events"


class RefundEvent(StatusEvent):
    """One status change of a refund, appended by the refund status service and never edited."""

    subject_field = "refund"

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=RefundStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=RefundStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "refund event"
        verbose_name_plural = "refund events"


class ReconciliationRunStatus(models.TextChoices):
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class ReconciliationTrigger(models.TextChoices):
    BEAT = "beat", "daily schedule"
    COMMAND = "command", "management command"
    ADMIN = "admin", "admin"


class ReconciliationRun(models.Model):
    """One comparison of WeChat Pay's bill for a Beijing date with our payments and refunds.

    Every run is kept: a re-run of a date is a new row. At most one run of a date is running.
    """

    bill_date = models.DateField(help_text="The Beijing calendar day the bill covers.")
    # Whose bill, and the WeChat Pay API version it was downloaded and read with (blank on runs from before).
    mch_id = models.CharField(_("merchant id"), max_length=32, blank=True, default="")
    api_version = models.CharField(_("WeChat Pay API version"), max_length=2, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=ReconciliationRunStatus.choices, default=ReconciliationRunStatus.RUNNING
    )
    triggered_by = models.CharField(max_length=16, choices=ReconciliationTrigger.choices)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliation_runs",
        help_text="Who started it from the admin.",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    bill_found = models.BooleanField(
        default=True, help_text="False when WeChat answered “No Bill Exist”: it had no trades that day."
    )
    bill_columns = models.PositiveSmallIntegerField(null=True, blank=True, help_text="24 (older) or 27.")
    payment_rows = models.PositiveIntegerField(default=0, help_text="The bill's payment rows.")
    refund_rows = models.PositiveIntegerField(default=0, help_text="The bill's refund rows.")
    matched_count = models.PositiveIntegerField(default=0, help_text="Bill rows that agree with ours.")
    discrepancy_count = models.PositiveIntegerField(
        default=0, help_text="Problems this run found, whether new or already open."
    )
    repaired_count = models.PositiveIntegerField(default=0)
    # The bill's summary row, and what its rows add up to (fen; the trade count in rows).
    summary_trade_count = models.PositiveIntegerField(null=True, blank=True)
    summary_settlement_fen = models.BigIntegerField(null=True, blank=True)
    summary_refund_fen = models.BigIntegerField(null=True, blank=True)
    summary_order_fen = models.BigIntegerField(null=True, blank=True, help_text="27-column bills only.")
    rows_settlement_fen = models.BigIntegerField(null=True, blank=True)
    rows_refund_fen = models.BigIntegerField(null=True, blank=True)
    rows_order_fen = models.BigIntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_transient = models.BooleanField(
        default=False, help_text="WeChat may answer later (the bill not made yet, WeChat busy): worth retrying."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "reconciliation run"
        verbose_name_plural = "reconciliation runs"
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
    MISSING_LOCALLY = "missing_locally", "missing locally"
    MISSING_AT_WECHAT = "missing_at_wechat", "missing at WeChat"
    AMOUNT_MISMATCH = "amount_mismatch", "amount mismatch"
    STATUS_MISMATCH = "status_mismatch", "status mismatch"
    TOTALS_MISMATCH = "totals_mismatch", "totals mismatch"


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "open"
    RESOLVED = "resolved", "resolved"


class Discrepancy(models.Model):
    """One problem reconciliation found in a date's bill, until staff (or a safe repair) settle it.

    A problem is recorded once per date (`problem_key`): a re-run that finds it again only moves
    `last_seen_run`, and one that finds it settled is not told to forget how it was settled.
    Resolving is the only status change and is final, so who, when and why live on the row.
    """

    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.PROTECT, related_name="discrepancies", help_text="The run that found it."
    )
    last_seen_run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.PROTECT,
        related_name="discrepancies_seen",
        help_text="The latest run that found it still there.",
    )
    bill_date = models.DateField()
    kind = models.CharField(max_length=24, choices=DiscrepancyKind.choices)
    # kind, then the order and refund numbers (or the summary figure): what makes it the same problem.
    problem_key = models.CharField(max_length=160, editable=False)
    out_trade_no = models.CharField(max_length=32, blank=True)
    out_refund_no = models.CharField(max_length=64, blank=True)
    transaction_id = models.CharField(max_length=32, blank=True)
    bill_line = models.PositiveIntegerField(null=True, blank=True, help_text="Line of the bill, if it has one.")
    local_amount_fen = models.BigIntegerField(null=True, blank=True)
    wechat_amount_fen = models.BigIntegerField(null=True, blank=True)
    local_status = models.CharField(max_length=16, blank=True)
    wechat_status = models.CharField(max_length=16, blank=True)
    detail = models.CharField(max_length=500)
    repaired = models.BooleanField(default=False)
    repair_note = models.CharField(max_length=300, blank=True, help_text="What the automatic repair changed.")
    status = models.CharField(max_length=16, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolved_discrepancies",
        help_text="Empty when reconciliation settled it itself.",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-bill_date", "id"]
        verbose_name = "discrepancy"
        verbose_name_plural = "discrepancies"
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

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=ReconciliationRunStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=ReconciliationRunStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "reconciliation run event"
        verbose_name_plural = "reconciliation run events"


class DiscrepancyEvent(StatusEvent):
    """One status change of a discrepancy, appended by its status service and never edited."""

    subject_field = "discrepancy"

    discrepancy = models.ForeignKey(Discrepancy, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=DiscrepancyStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=DiscrepancyStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "discrepancy event"
        verbose_name_plural = "discrepancy events"
