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
    openid = models.CharField(max_length=64)
    # The same person across our Official Account and Mini Program, when WeChat shares it.
    unionid = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # Needed server side to decrypt data the client forwards (phone number, ...); never sent out.
    session_key = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["mini_program", "openid"], name="customers_customer_openid_per_app"),
            # NULLs are distinct in a unique constraint: customers without a Mini Program need their own.
            models.UniqueConstraint(
                fields=["openid"], condition=Q(mini_program__isnull=True), name="customers_customer_openid_no_app"
            ),
        ]

    def __str__(self) -> str:
        return self.openid

    # DRF treats whatever authentication returns as request.user.
    @property
    def is_authenticated(self) -> bool:
        return True


class CustomerToken(models.Model):
    """A bearer token the Mini Program sends on every API call. Only its SHA-256 is stored."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tokens")
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token of {self.customer_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
