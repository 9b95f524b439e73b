import hashlib

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wechat.models import MiniProgram


class Customer(models.Model):
    """A Mini Program user, known by the openid WeChat gives them in the Mini Program they logged in through.

    An openid is per app (one person has another in each Mini Program), so it is unique per Mini
    Program. Customers from before Mini Programs were rows have none: the settings' default, which
    adopts them at their next login there.
    """

    mini_program = models.ForeignKey(
        MiniProgram,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        editable=False,
        verbose_name=_("Mini Program"),
    )
    openid = models.CharField(max_length=64, verbose_name=_("openid"))
    # The same person across our Official Account and Mini Program, when WeChat shares it.
    unionid = models.CharField(max_length=64, blank=True, default="", db_index=True, verbose_name=_("unionid"))
    # What the customer chose to show us (头像昵称填写能力: the Mini Program's nickname input and
    # chooseAvatar button; WeChat no longer hands them over at login). Blank until the client sends them.
    nickname = models.CharField(_("nickname"), max_length=64, blank=True, default="")
    avatar_url = models.URLField(_("avatar"), max_length=500, blank=True, default="")
    # Needed server side to decrypt data the client forwards (phone number, ...); never sent out.
    session_key = models.CharField(max_length=64, blank=True, default="", editable=False, verbose_name=_("session key"))
    # The first campaign the customer logged in with (campaigns/sources.py), with that login's scene and
    # page: set once, never overwritten. The code as sent; `first_campaign` when it is one of ours.
    first_source_campaign = models.CharField(
        _("first campaign code"), max_length=64, blank=True, default="", db_default="", editable=False
    )
    first_source_scene = models.PositiveIntegerField(_("first campaign's scene"), null=True, blank=True, editable=False)
    first_source_path = models.CharField(
        _("first campaign's page"), max_length=256, blank=True, default="", db_default="", editable=False
    )
    first_source_at = models.DateTimeField(_("first campaign logged in at"), null=True, blank=True, editable=False)
    first_campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="first_customers",
        editable=False,
        verbose_name=_("first campaign"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_login_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last login at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [("revoke_tokens_customer", _("Can log a customer out of every device"))]
        constraints = [
            models.UniqueConstraint(fields=["mini_program", "openid"], name="customers_customer_openid_per_app"),
            # NULLs are distinct in a unique constraint: customers without a Mini Program need their own.
            models.UniqueConstraint(
                fields=["openid"], condition=Q(mini_program__isnull=True), name="customers_customer_openid_no_app"
            ),
        ]

    def __str__(self) -> str:
        # Staff know people by name; the openid stays beside it, as it is what WeChat and the logs name.
        return f"{self.nickname} ({self.openid})" if self.nickname else self.openid

    # DRF treats whatever authentication returns as request.user.
    @property
    def is_authenticated(self) -> bool:
        return True


class CustomerToken(models.Model):
    """A bearer token the Mini Program sends on every API call. Only its SHA-256 is stored."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("customer"))
    key_digest = models.CharField(max_length=64, unique=True, verbose_name=_("key digest"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("expires at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer token")
        verbose_name_plural = _("customer tokens")

    def __str__(self) -> str:
        return f"token of {self.customer_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
