"""The settings' merchant on WeChat Pay APIv3 (WECHAT_PAY_API_VERSION=v3): its credentials, kept on its row.

They come from the WECHAT_PAY_V3_* settings, or from a description file naming them
(WECHAT_PAY_V3_CREDENTIALS_FILE: JSON with apiv3_key, certificate_serial, wechatpay_public_key_id,
private_key_path and wechatpay_public_key_path; in development the sandbox writes it as it issues the
merchant's keys, afresh at each start). The merchant's row is brought up to date with them whenever
they change, so every reader (the gateway, the notification endpoints) reads one place: the row.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from wechat.models import Merchant

logger = logging.getLogger(__name__)

_FIELDS = ("apiv3_key", "private_key", "certificate_serial", "wechatpay_public_key", "wechatpay_public_key_id")
# The description file as last read, by path: (mtime in ns, credentials). A process re-reads it only
# when it changes (the sandbox replaced the keys), so a request costs one stat.
_read: dict[str, tuple[int, "SettingsV3Credentials | None"]] = {}


@dataclass(frozen=True)
class SettingsV3Credentials:
    apiv3_key: str
    private_key: str
    certificate_serial: str
    wechatpay_public_key: str
    wechatpay_public_key_id: str


def settings_v3_credentials() -> SettingsV3Credentials | None:
    """The settings' v3 credentials; None when they are not (yet) to be had, e.g. the sandbox has not written them."""
    if settings.WECHAT_PAY_APIV3_KEY:
        return _cached(
            settings.WECHAT_PAY_V3_PRIVATE_KEY_PATH,
            lambda: _credentials(
                apiv3_key=settings.WECHAT_PAY_APIV3_KEY,
                private_key_path=settings.WECHAT_PAY_V3_PRIVATE_KEY_PATH,
                certificate_serial=settings.WECHAT_PAY_V3_CERTIFICATE_SERIAL,
                wechatpay_public_key_path=settings.WECHAT_PAY_V3_PUBLIC_KEY_PATH,
                wechatpay_public_key_id=settings.WECHAT_PAY_V3_PUBLIC_KEY_ID,
            ),
        )
    path = settings.WECHAT_PAY_V3_CREDENTIALS_FILE
    return _cached(path, lambda: _credentials_described(json.loads(Path(path).read_text()))) if path else None


def _cached(path: str, read) -> SettingsV3Credentials | None:
    """`read()`, again only once the file at `path` changed (the sandbox writes the key files, then the description)."""
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        return None
    cached = _read.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        credentials = read()
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("the WeChat Pay v3 credentials in %s cannot be read", path)  # never their contents
        return None
    _read[path] = (mtime, credentials)
    return credentials


def _credentials_described(description: dict) -> SettingsV3Credentials:
    return _credentials(
        apiv3_key=description["apiv3_key"],
        private_key_path=description["private_key_path"],
        certificate_serial=description["certificate_serial"],
        wechatpay_public_key_path=description["wechatpay_public_key_path"],
        wechatpay_public_key_id=description["wechatpay_public_key_id"],
    )


def merchant_v3_settings_apply(merchant: Merchant) -> Merchant:
    """The settings' merchant as the settings say: v3 with their credentials, saved if anything differed."""
    credentials = settings_v3_credentials()
    if credentials is None:
        return merchant
    wanted = {name: getattr(credentials, name) for name in _FIELDS}
    wanted |= {"api_version": Merchant.ApiVersion.V3, "verification": Merchant.Verification.PUBLIC_KEY}
    changed = [name for name, value in wanted.items() if (getattr(merchant, name) or "") != value]
    if changed:
        for name in changed:
            setattr(merchant, name, wanted[name])
        merchant.save(update_fields=[*changed, "updated_at"])
    return merchant


def _credentials(
    *,
    apiv3_key: str,
    private_key_path: str,
    certificate_serial: str,
    wechatpay_public_key_path: str,
    wechatpay_public_key_id: str,
) -> SettingsV3Credentials:
    return SettingsV3Credentials(
        apiv3_key=apiv3_key,
        private_key=Path(private_key_path).read_text().strip() + "\n",
        certificate_serial=certificate_serial,
        wechatpay_public_key=Path(wechatpay_public_key_path).read_text().strip() + "\n",
        wechatpay_public_key_id=wechatpay_public_key_id,
    )
