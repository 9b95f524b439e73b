from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.status_machine import StatusEvent
from customers.models import Customer
from orders.models import Order
from subscribe_messages.order_values import OrderField
from wechat.models import MiniProgram


class OrderMilestone(models.TextChoices):
    """The moments of an order a buyer is told about, each at most once an order."""

    PAID = "paid", _("paid")
    SHIPPED = "shipped", _("shipped")
    REFUNDED = "refunded", _("refunded")


class SubscribeMessageTemplate(models.Model):
    """A template the Mini Program has in the MP console (订阅消息 → 我的模板), sent on one event of an order."""

    mini_program = models.ForeignKey(
        MiniProgram, on_delete=models.PROTECT, related_name="subscribe_templates", verbose_name=_("Mini Program")
    )
    template_id = models.CharField(
        _("template ID"),
        max_length=64,
        validators=[
            RegexValidator(r"^[A-Za-z0-9_-]+$", message=_("A template ID is made of letters, digits, “-” and “_”."))
        ],
        help_text=_("As the MP console shows it under 订阅消息 → 我的模板."),
    )
    title = models.CharField(_("title"), max_length=40, help_text=_("The template's title, e.g. 订单发货通知."))
    event = models.CharField(_("sent when the order is"), max_length=16, choices=OrderMilestone.choices)
    page = models.CharField(
        _("page to open"),
        max_length=200,
        blank=True,
        help_text=_(
            "The Mini Program page the message opens, e.g. pages/order/detail?order_no={order_no}; "
            "{order_no} becomes the order's number. Empty: the message opens nothing."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["mini_program", "event"]
        verbose_name = _("subscribe message template")
        verbose_name_plural = _("subscribe message templates")
        constraints = [
            models.UniqueConstraint(
                fields=["mini_program", "template_id"], name="subscribe_template_once_per_mini_program"
            ),
            models.UniqueConstraint(
                fields=["mini_program", "event"],
                condition=Q(enabled=True),
                name="subscribe_template_one_enabled_per_event",
                violation_error_message=_("Another enabled template is sent on this event already."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.template_id})"


class TemplateKeyword(models.Model):
    """One keyword of a template (its name in WeChat, e.g. thing1) and the order field it shows."""

    template = models.ForeignKey(
        SubscribeMessageTemplate, on_delete=models.CASCADE, related_name="keywords", verbose_name=_("template")
    )
    keyword = models.CharField(
        _("keyword"), max_length=32, help_text=_("The keyword's name in the template's details, e.g. thing1, amount2.")
    )
    order_field = models.CharField(_("shows"), max_length=32, choices=OrderField.choices)
    fixed_text = models.CharField(_("fixed text"), max_length=40, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("keyword")
        verbose_name_plural = _("keywords")
        constraints = [models.UniqueConstraint(fields=["template", "keyword"], name="subscribe_keyword_once")]

    def __str__(self) -> str:
        return self.keyword


class SubscriptionResult(models.TextChoices):
    """wx.requestSubscribeMessage's answer per template id."""

    ACCEPT = "accept", _("accepted")
    REJECT = "reject", _("rejected")
    BAN = "ban", _("banned by WeChat")
    FILTER = "filter", _("filtered by WeChat (same title)")


class SubscriptionAcceptance(models.Model):
    """How many messages of a template a buyer still allows: each "accept" in the Mini Program allows one."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="subscription_acceptances", verbose_name=_("customer")
    )
    template = models.ForeignKey(
        SubscribeMessageTemplate, on_delete=models.CASCADE, related_name="acceptances", verbose_name=_("template")
    )
    available = models.PositiveIntegerField(_("messages allowed"), default=0)
    accepted_total = models.PositiveIntegerField(_("times accepted"), default=0)
    last_result = models.CharField(_("last answer"), max_length=8, choices=SubscriptionResult.choices)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("subscription acceptance")
        verbose_name_plural = _("subscription acceptances")
        constraints = [
            models.UniqueConstraint(fields=["customer", "template"], name="subscribe_acceptance_once_per_template")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.template_id} × {self.available}"


class SubscribeMessageStatus(models.TextChoices):
    SENDING = "sending", _("sending")
    RETRYING = "retrying", _("waiting to retry")
    SENT = "sent", _("sent")
    NOT_SENT = "not_sent", _("not sent")
    UNKNOWN = "unknown", _("outcome unknown")


class SubscribeMessageOutcome(models.TextChoices):
    """Why a message is where it is, in staff's words."""

    SENT = "sent", _("WeChat accepted the message")
    NO_TEMPLATE = "no_template", _("no enabled template for this event: nothing sent")
    NOT_ACCEPTED = "not_accepted", _("the buyer has not accepted this template (or used up their acceptances)")
    VALUE_REFUSED = "value_refused", _("a value does not fit its keyword's type: not sent")
    WECHAT_NOT_ACCEPTED = "wechat_not_accepted", _("WeChat says the buyer did not accept the message (43101)")
    WECHAT_VALUE_REFUSED = "wechat_value_refused", _("WeChat refused a value (47003)")
    WECHAT_TEMPLATE_UNKNOWN = "wechat_template_unknown", _("WeChat does not know the template ID (40037)")
    WECHAT_REFUSED = "wechat_refused", _("WeChat refused the message")
    WECHAT_BUSY = "wechat_busy", _("WeChat was busy or unreachable")
    GAVE_UP = "gave_up", _("WeChat stayed busy or unreachable: gave up")
    NO_ANSWER = "no_answer", _("no answer from WeChat: it may have been sent, so it is not sent again")
    INTERRUPTED = "interrupted", _("interrupted while WeChat was asked; it may have been sent, so it is not sent again")


class SubscribeMessage(models.Model):
    """The message of one event of one order: claimed before WeChat is asked, so no event sends twice."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="subscribe_messages", verbose_name=_("order")
    )
    event = models.CharField(_("event"), max_length=16, choices=OrderMilestone.choices)
    template = models.ForeignKey(
        SubscribeMessageTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("template"),
    )
    status = models.CharField(_("status"), max_length=16, choices=SubscribeMessageStatus.choices)
    outcome = models.CharField(_("outcome"), max_length=32, choices=SubscribeMessageOutcome.choices)
    errcode = models.IntegerField(_("WeChat errcode"), null=True, blank=True)
    # Not the "detail" of an address (详细地址): WeChat's or our words on the outcome.
    detail = models.CharField(pgettext_lazy("outcome", "detail"), max_length=300, blank=True)
    values = models.JSONField(_("values sent"), default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The Celery task that claimed it: the same task finding its own claim again was stopped mid-call.
    claimed_by = models.CharField(_("claimed by"), max_length=64, blank=True, editable=False)
    msgid = models.CharField(_("WeChat msgid"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("subscribe message")
        verbose_name_plural = _("subscribe messages")
        constraints = [
            models.UniqueConstraint(fields=["order", "event"], name="subscribe_message_once_per_order_event")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.event}"


class SubscribeMessageEvent(StatusEvent):
    """One status change of a subscribe message, appended by its status service and never edited."""

    subject_field = "message"

    message = models.ForeignKey(
        SubscribeMessage, on_delete=models.CASCADE, related_name="events", verbose_name=_("subscribe message")
    )
    from_status = models.CharField(_("from status"), max_length=16, choices=SubscribeMessageStatus.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=16, choices=SubscribeMessageStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("subscribe message event")
        verbose_name_plural = _("subscribe message events")
