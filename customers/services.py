import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.exceptions import (
    InvalidLoginCode,
    LoginBlocked,
    UnknownMiniProgram,
    WeChatLoginMisconfigured,
    WeChatUnavailable,
)
from customers.models import Customer, CustomerToken
from wechat import miniprogram
from wechat.errors import WeChatError, WeChatMisconfigured, WeChatQuotaExhausted, WeChatTransientError
from wechat.merchants import mini_program_default, mini_program_for_appid
from wechat.models import MiniProgram

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Login:
    customer: Customer
    token: str
    expires_at: datetime


def customer_login(*, code: str, appid: str | None = None) -> Login:
    """Log a Mini Program user in with their wx.login() code: find or create them, issue a token.

    `appid` is the Mini Program the request came from (None: the settings' single shop); the
    customer belongs to it, and their orders are paid through its merchant. Raises
    UnknownMiniProgram for an app we do not serve.
    """
    mini_program = mini_program_for_appid(appid) if appid else mini_program_default()
    if mini_program is None:
        raise UnknownMiniProgram()
    try:
        session = miniprogram.code_to_session(code=code, mini_program=mini_program)
    except miniprogram.LoginCodeRefused as error:
        raise InvalidLoginCode() from error
    except miniprogram.BlockedUser as error:
        raise LoginBlocked() from error
    except WeChatMisconfigured as error:
        # No login can succeed until an operator fixes the app's credentials or WeChat-side settings.
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
        mini_program=mini_program, openid=session.openid, unionid=session.unionid, session_key=session.session_key
    )


@transaction.atomic
def _customer_login_record(*, mini_program: MiniProgram, openid: str, unionid: str | None, session_key: str) -> Login:
    customer = _customer_get_or_create(mini_program=mini_program, openid=openid)
    customer.session_key = session_key
    customer.last_login_at = timezone.now()
    update_fields = ["session_key", "last_login_at"]
    if unionid and unionid != customer.unionid:
        customer.unionid = unionid
        update_fields.append("unionid")
    customer.save(update_fields=update_fields)

    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS)
    CustomerToken.objects.create(customer=customer, key_digest=CustomerToken.digest(token), expires_at=expires_at)
    return Login(customer=customer, token=token, expires_at=expires_at)


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
