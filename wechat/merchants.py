"""Mini Programs and WeChat Pay merchants: which one a shopper logs in through and pays through.

The settings name the single shop's Mini Program and merchant (`WECHAT_MINI_PROGRAM_*`,
`WECHAT_PAY_*`). They stay the default: the first time the default is needed and it has no row,
its rows are created from the settings, so a fresh install, the demo and the tests need no setup.
Rows staff add in the admin serve other Mini Programs (and merchants) beside it.
"""

import re
import threading
import time

from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save

from wechat.merchant_v3_settings import merchant_v3_settings_apply
from wechat.models import Merchant, MiniProgram

_MINI_PROGRAM_FIELDS = ("merchant",)


def mini_program_default() -> MiniProgram:
    """The settings' Mini Program (`WECHAT_MINI_PROGRAM_APPID`), its row created from the settings if it has none.

    With WECHAT_PAY_API_VERSION=v3 its merchant, if the settings' own, is kept v3 with the settings'
    credentials (wechat/merchant_v3_settings.py: in development the sandbox issues them afresh).
    """
    found = MiniProgram.objects.select_related(*_MINI_PROGRAM_FIELDS).filter(appid=settings.WECHAT_MINI_PROGRAM_APPID)
    mini_program = found.first() or _mini_program_default_create()
    if (
        settings.WECHAT_PAY_API_VERSION == Merchant.ApiVersion.V3
        and mini_program.merchant.mch_id == settings.WECHAT_PAY_MCH_ID
    ):
        merchant_v3_settings_apply(mini_program.merchant)
    return mini_program


def mini_program_for_appid(appid: str) -> MiniProgram | None:
    """The Mini Program of `appid`, the settings' default included; None for one we do not serve."""
    if appid == settings.WECHAT_MINI_PROGRAM_APPID:
        return mini_program_default()
    return MiniProgram.objects.select_related(*_MINI_PROGRAM_FIELDS).filter(appid=appid).first()


# A login needs its Mini Program's row (id, appid, secret) before it calls WeChat; rows change rarely
# (staff edit a secret in the admin), so each process keeps them this long instead of a query a login.
LOGIN_ROW_SECONDS = 30


class _RowsKeptInProcess:
    """Rows this process keeps for `seconds` after loading them; an empty answer is not kept."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        self._kept: dict = {}
        self._lock = threading.Lock()

    def get(self, key, load):
        kept = self._kept.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        rows = load()
        if rows:
            with self._lock:
                self._kept[key] = (time.monotonic() + self.seconds, rows)
        return rows

    def forget(self, **kwargs) -> None:
        with self._lock:
            self._kept.clear()


_login_rows = _RowsKeptInProcess(LOGIN_ROW_SECONDS)


def mini_program_for_login(appid: str | None) -> MiniProgram | None:
    """mini_program_for_appid (None: the settings' Mini Program), kept in this process for LOGIN_ROW_SECONDS.

    Only for calling WeChat as the app and naming it on a customer: its merchant may be as old as
    that, so payments read the row afresh. A save or delete in this process drops the copies at once;
    other processes see it within LOGIN_ROW_SECONDS. Unknown appids are not kept (nor is their answer).
    """
    appid = appid or settings.WECHAT_MINI_PROGRAM_APPID
    return _login_rows.get(appid, lambda: mini_program_for_appid(appid))


def mini_program_login_rows_forget(**kwargs) -> None:
    """Drop this process's copies (a Mini Program saved or deleted, the settings changed, a test's end)."""
    _login_rows.forget()


post_save.connect(mini_program_login_rows_forget, sender=MiniProgram, dispatch_uid="mini-program-login-rows")
post_delete.connect(mini_program_login_rows_forget, sender=MiniProgram, dispatch_uid="mini-program-login-rows")
setting_changed.connect(mini_program_login_rows_forget, dispatch_uid="mini-program-login-rows")


def merchant_for_mch_id(mch_id: str) -> Merchant | None:
    """The merchant `mch_id`, the settings' default included; None for one we do not have."""
    if mch_id == settings.WECHAT_PAY_MCH_ID:
        mini_program_default()  # its row is made with the settings' Mini Program's
    return Merchant.objects.filter(mch_id=mch_id).first()


def payment_parties(*, appid: str, mch_id: str) -> tuple[MiniProgram, Merchant] | None:
    """Our Mini Program `appid` and merchant `mch_id`, as a payment made through them names them; else None.

    Not necessarily the Mini Program's merchant now: staff may have moved it to another since, and
    the payments made before still belong to the merchant that took them.
    """
    mini_program = mini_program_for_appid(appid)
    merchant = mini_program.merchant if mini_program and mini_program.merchant.mch_id == mch_id else None
    merchant = merchant or (merchant_for_mch_id(mch_id) if mini_program else None)
    return (mini_program, merchant) if mini_program and merchant else None


def _mini_program_default_create() -> MiniProgram:
    # Two processes may need the default at once: the unique appid and mch_id decide, the loser reads.
    try:
        with transaction.atomic():
            merchant, _ = Merchant.objects.get_or_create(
                mch_id=settings.WECHAT_PAY_MCH_ID, defaults=_merchant_defaults()
            )
            return MiniProgram.objects.create(
                name=str(settings.WECHAT_MINI_PROGRAM_APPID),
                appid=settings.WECHAT_MINI_PROGRAM_APPID,
                app_secret=settings.WECHAT_MINI_PROGRAM_SECRET,
                merchant=merchant,
            )
    except IntegrityError:
        return MiniProgram.objects.select_related(*_MINI_PROGRAM_FIELDS).get(appid=settings.WECHAT_MINI_PROGRAM_APPID)


def _merchant_defaults() -> dict:
    """The settings' merchant, as the settings configure it (v3 credentials are applied by mini_program_default)."""
    return {
        "name": str(settings.WECHAT_PAY_MCH_ID),
        "api_version": Merchant.ApiVersion.V2,  # v3 once its credentials are applied
        "api_key": settings.WECHAT_PAY_API_KEY,
        "sign_type": settings.WECHAT_PAY_SIGN_TYPE,
        # Blank: the files WECHAT_PAY_CERT_PATH / _KEY_PATH name, read when a refund is made (in
        # development the sandbox writes them afresh each start).
    }


def mini_program_of_merchant(mch_id: str | None = None) -> MiniProgram | None:
    """A Mini Program paying through merchant `mch_id` (None: the settings' merchant), to call WeChat Pay as.

    A merchant's bill is the same whichever of its apps asks (下载交易账单: 使用其中任何一个appid
    都可以请求下载对账单); the settings' Mini Program first. None for a merchant no app pays through.
    """
    default = mini_program_default()
    if mch_id is None or default.merchant.mch_id == mch_id:
        return default
    return (
        MiniProgram.objects.select_related(*_MINI_PROGRAM_FIELDS).filter(merchant__mch_id=mch_id).order_by("pk").first()
    )


def merchants_taking_payments() -> list[str]:
    """The mch_ids some Mini Program pays through, the settings' merchant first."""
    default = mini_program_default().merchant.mch_id
    others = (
        Merchant.objects.filter(mini_programs__isnull=False)
        .exclude(mch_id=default)
        .distinct()
        .order_by("mch_id")
        .values_list("mch_id", flat=True)
    )
    return [default, *others]


def merchants_for_wechatpay_serial(serial: str) -> list[Merchant]:
    """The v3 merchants a v3 notification or answer signed under `serial` (its Wechatpay-Serial header) may be for.

    A v3 notification names its merchant only inside its ciphertext, so the key to decrypt it with
    is chosen by the key that signed it: WeChat Pay's public key id (微信支付公钥ID, PUB_KEY_ID_...)
    belongs to one merchant; a platform certificate's serial is checked by each merchant in
    platform-certificate mode against the certificates it downloaded. Whoever decrypts must still
    hold the resource's mchid and appid against the payment's (`payment_parties`).
    """
    if not re.fullmatch(r"[A-Za-z0-9_]{1,80}", serial):  # a header's text, before the database sees it
        return []
    if settings.WECHAT_PAY_API_VERSION == Merchant.ApiVersion.V3:
        mini_program_default()  # the settings' merchant's row up to date with the settings' keys
    v3 = Merchant.objects.filter(api_version=Merchant.ApiVersion.V3)
    by_public_key = list(v3.filter(verification=Merchant.Verification.PUBLIC_KEY, wechatpay_public_key_id=serial))
    if by_public_key:
        return by_public_key
    return list(v3.filter(verification=Merchant.Verification.PLATFORM_CERTIFICATE).order_by("mch_id"))


# A WeChat Pay notification is verified with the keys of the Mini Program and merchant it names (v2:
# appid and mch_id; v3: the key that signed it, then the appid inside), read before anything else it
# does; rows change rarely (staff edit a key in the admin), so each process keeps them this long
# instead of a query a notification. A save or delete in this process drops the copies at once;
# another process verifies with the old keys for up to this long, so a notification signed with
# new keys is refused there (answered FAIL, or a v3 4xx) and WeChat Pay sends it again on its
# schedule (15 s, 15 s, 30 s, 3 min, ...): it is applied late, never lost. Payments, refunds and the
# bill read the rows afresh. Unknown appids, merchants and serials are not kept.
PAY_MESSAGE_ROWS_SECONDS = 30
_pay_message_rows = _RowsKeptInProcess(PAY_MESSAGE_ROWS_SECONDS)


def payment_parties_for_message(*, appid: str, mch_id: str) -> tuple[MiniProgram, Merchant] | None:
    """payment_parties, kept in this process for PAY_MESSAGE_ROWS_SECONDS: only to verify a WeChat Pay message."""
    return _pay_message_rows.get(("parties", appid, mch_id), lambda: payment_parties(appid=appid, mch_id=mch_id))


def merchants_for_wechatpay_serial_for_message(serial: str) -> list[Merchant]:
    """merchants_for_wechatpay_serial, kept as payment_parties_for_message is: only to verify a notification."""
    return _pay_message_rows.get(("serial", serial), lambda: merchants_for_wechatpay_serial(serial)) or []


def pay_message_rows_forget(**kwargs) -> None:
    """Drop this process's copies (a Mini Program or merchant saved or deleted, the settings changed, a test's end)."""
    _pay_message_rows.forget()


for _model in (MiniProgram, Merchant):
    post_save.connect(pay_message_rows_forget, sender=_model, dispatch_uid="pay-message-rows")
    post_delete.connect(pay_message_rows_forget, sender=_model, dispatch_uid="pay-message-rows")
setting_changed.connect(pay_message_rows_forget, dispatch_uid="pay-message-rows")
