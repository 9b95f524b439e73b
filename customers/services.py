import logging
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns.selectors import campaign_id_for_code
from campaigns.sources import Source
from customers.exceptions import (
    InvalidLoginCode,
    LoginBlocked,
    UnknownMiniProgram,
    WeChatLoginMisconfigured,
    WeChatUnavailable,
)
from customers.login_upsert import customer_login_upsert
from customers.models import Customer, CustomerToken
from wechat import miniprogram
from wechat.errors import WeChatError, WeChatMisconfigured, WeChatQuotaExhausted, WeChatTransientError
from wechat.merchants import mini_program_for_login, mini_program_login_rows_forget
from wechat.models import MiniProgram

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Login:
    customer: Customer
    token: str
    expires_at: datetime


def customer_login(*, code: str, appid: str | None = None, source: Source | None = None) -> Login:
    """Log a Mini Program user in with their wx.login() code: find or create them, issue a token.

    `appid` is the Mini Program the request came from (None: the settings' single shop); the
    customer belongs to it, and their orders are paid through its merchant. Raises
    UnknownMiniProgram for an app we do not serve. `source` is where the Mini Program was opened
    from: the first campaign a customer logs in with is theirs for good.
    """
    mini_program = mini_program_for_login(appid)
    if mini_program is None:
        raise UnknownMiniProgram()
    try:
        session = miniprogram.code_to_session(code=code, mini_program=mini_program)
    except miniprogram.LoginCodeRefused as error:
        raise InvalidLoginCode() from error
    except miniprogram.BlockedUser as error:
        raise LoginBlocked() from error
    except WeChatMisconfigured as error:
        # No login can succeed until an operator fixes the app's credentials or WeChat-side settings;
        # the next login reads the row again, in case another process's admin has just fixed them.
        mini_program_login_rows_forget()
        logger.error("Mini Program login is misconfigured at WeChat (errcode %s): %s", error.errcode, error)
        raise WeChatLoginMisconfigured() from error
    except WeChatTransientError as error:
        # Busy or rate limited: the customer may try again. A spent daily quota needs an operator.
        log = logger.error if isinstance(error, WeChatQuotaExhausted) else logger.warning
        log("Mini Program login refused for now by WeChat (errcode %s): %s", error.errcode, error)
        raise WeChatUnavailable() from error
    except WeChatError as error:
        logger.error("Mini Program login failed at WeChat (errcode %s): %s", error.errcode, error)
        raise WeChatUnavailable() from error
    return _customer_login_record(
        mini_program=mini_program,
        openid=session.openid,
        unionid=session.unionid,
        session_key=session.session_key,
        source=source or Source(),
    )


def _customer_login_record(
    *, mini_program: MiniProgram, openid: str, unionid: str | None, session_key: str, source: Source
) -> Login:
    """The customer found or created, their token issued: one statement on PostgreSQL, else the ORM's steps."""
    try:
        # A savepoint only inside a caller's transaction, which a failed statement would otherwise spoil.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            return _customer_login_write(
                mini_program=mini_program, openid=openid, unionid=unionid, session_key=session_key, source=source
            )
    except IntegrityError:
        # The process's copy of the row outlived it: another process's admin deleted the Mini Program.
        mini_program_login_rows_forget()
        if not MiniProgram.objects.filter(pk=mini_program.pk).exists():
            raise UnknownMiniProgram() from None
        raise


def _customer_login_write(
    *, mini_program: MiniProgram, openid: str, unionid: str | None, session_key: str, source: Source
) -> Login:
    if connection.vendor == "postgresql":
        token = secrets.token_urlsafe(32)
        now = timezone.now()
        expires_at = now + timedelta(days=settings.API_TOKEN_TTL_DAYS)
        customer = customer_login_upsert(
            mini_program=mini_program,
            openid=openid,
            unionid=unionid,
            session_key=session_key,
            source=source,
            now=now,
            token_digest=CustomerToken.digest(token),
            token_expires_at=expires_at,
            adopt_legacy=mini_program.appid == settings.WECHAT_MINI_PROGRAM_APPID,
        )
        if customer is not None:
            return Login(customer=customer, token=token, expires_at=expires_at)
    # Elsewhere, and for a customer from before Mini Programs were rows, whom the ORM's steps adopt.
    return _customer_login_record_orm(
        mini_program=mini_program, openid=openid, unionid=unionid, session_key=session_key, source=source
    )


@transaction.atomic
def _customer_login_record_orm(
    *, mini_program: MiniProgram, openid: str, unionid: str | None, session_key: str, source: Source
) -> Login:
    # Locked (or just inserted) by us until commit, so two logins cannot both set a first campaign.
    customer = _customer_get_or_create(mini_program=mini_program, openid=openid)
    customer.session_key = session_key
    customer.last_login_at = timezone.now()
    update_fields = ["session_key", "last_login_at"]
    if unionid and unionid != customer.unionid:
        customer.unionid = unionid
        update_fields.append("unionid")
    if source.campaign and not customer.first_source_campaign:
        update_fields += _customer_first_campaign_set(customer=customer, source=source)
    customer.save(update_fields=update_fields)

    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS)
    CustomerToken.objects.create(customer=customer, key_digest=CustomerToken.digest(token), expires_at=expires_at)
    return Login(customer=customer, token=token, expires_at=expires_at)


def _customer_first_campaign_set(*, customer: Customer, source: Source) -> list[str]:
    """Give the customer their first campaign (the code as sent, ours or not); the fields it set."""
    customer.first_source_campaign = source.campaign
    customer.first_source_scene = source.scene
    customer.first_source_path = source.path
    customer.first_source_at = customer.last_login_at
    customer.first_campaign_id = campaign_id_for_code(code=source.campaign)
    return ["first_source_campaign", "first_source_scene", "first_source_path", "first_source_at", "first_campaign"]


def _customer_get_or_create(*, mini_program: MiniProgram, openid: str) -> Customer:
    # Two first logins of one user can race; the unique (Mini Program, openid) decides, the loser reads the winner's.
    customer = Customer.objects.select_for_update().filter(mini_program=mini_program, openid=openid).first()
    if customer:
        return customer
    if mini_program.appid == settings.WECHAT_MINI_PROGRAM_APPID and (
        customer := _customer_without_mini_program_adopt(mini_program=mini_program, openid=openid)
    ):
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(mini_program=mini_program, openid=openid)
    except IntegrityError:
        return Customer.objects.select_for_update().get(mini_program=mini_program, openid=openid)


def _customer_without_mini_program_adopt(*, mini_program: MiniProgram, openid: str) -> Customer | None:
    """A customer from before Mini Programs were rows logs in through the settings' one, theirs all along."""
    customer = Customer.objects.select_for_update().filter(mini_program__isnull=True, openid=openid).first()
    if customer is not None:
        customer.mini_program = mini_program
        customer.save(update_fields=["mini_program"])
    return customer


def customer_tokens_purge_expired() -> int:
    deleted, _ = CustomerToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def customer_token_revoke(*, token: CustomerToken) -> None:
    """Log out: the token presented stops working now; the customer's other devices stay logged in."""
    CustomerToken.objects.filter(pk=token.pk).delete()


def customer_tokens_revoke(*, customer_ids: list[int]) -> int:
    """Staff log these customers out everywhere (a lost phone, a leaked token): every token of theirs stops working."""
    deleted, _ = CustomerToken.objects.filter(customer_id__in=customer_ids).delete()
    return deleted


def customer_profile_update(*, customer: Customer, changes: dict) -> Customer:
    """Keep the nickname and avatar URL the customer chose in the Mini Program (only the keys given change)."""
    fields = [name for name in ("nickname", "avatar_url") if name in changes]
    for name in fields:
        setattr(customer, name, changes[name])
    if fields:
        customer.save(update_fields=fields)
    return customer
