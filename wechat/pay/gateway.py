"""The payment gateway for a merchant: the backend serving its WeChat Pay API version (see wechat.pay.interface)."""

import re
from dataclasses import replace

from django.conf import settings

from wechat.merchants import payment_parties_for_message
from wechat.models import Merchant, MiniProgram
from wechat.pay.interface import InvalidPayMessage, MerchantConfig, PaymentGateway
from wechat.pay.v2 import WeChatPayV2
from wechat.pay.v3 import WeChatPayV3

# An appid or mch_id as a message may carry it: letters, digits, '_' or '-', at most 32.
IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,32}")


def merchant_config(mini_program: MiniProgram | None = None, *, merchant: Merchant | None = None) -> MerchantConfig:
    """How to pay through `mini_program`'s merchant; without one, the settings' merchant (no database).

    Credentials come from the merchant's row; where WeChat Pay is (base URLs, CA bundle, timeout)
    from the settings, as it is the same for every merchant. The product passes the Mini Program
    (`merchant_config(mini_program_default())` for the single shop), so staff's changes to its
    merchant apply; tests and benches may leave it out. `merchant`: another than the Mini Program's
    own now (the one an earlier payment was made through).
    """
    if mini_program is None:
        return _settings_merchant_config()
    merchant = merchant or mini_program.merchant
    cert_path, key_path = _certificate_paths(merchant)
    config = MerchantConfig(
        appid=mini_program.appid,
        mch_id=merchant.mch_id,
        api_key=merchant.api_key or "",
        api_base_url=settings.WECHAT_PAY_API_BASE_URL,
        timeout=settings.WECHAT_HTTP_TIMEOUT,
        sign_type=merchant.sign_type,
        cert_path=cert_path,
        key_path=key_path,
        secapi_base_url=settings.WECHAT_PAY_SECAPI_BASE_URL,
        ca_bundle=settings.WECHAT_PAY_CA_BUNDLE,
        version=merchant.api_version,
        v3_base_url=settings.WECHAT_PAY_V3_BASE_URL,
    )
    if merchant.api_version != Merchant.ApiVersion.V3:
        return config
    return replace(
        config,
        private_key=merchant.private_key or "",
        certificate_serial=merchant.certificate_serial,
        apiv3_key=merchant.apiv3_key or "",
        verification=merchant.verification,
        wechatpay_public_key=merchant.wechatpay_public_key or "",
        wechatpay_public_key_id=merchant.wechatpay_public_key_id,
    )


def _settings_merchant_config() -> MerchantConfig:
    return MerchantConfig(
        appid=settings.WECHAT_MINI_PROGRAM_APPID,
        mch_id=settings.WECHAT_PAY_MCH_ID,
        api_key=settings.WECHAT_PAY_API_KEY,
        api_base_url=settings.WECHAT_PAY_API_BASE_URL,
        timeout=settings.WECHAT_HTTP_TIMEOUT,
        sign_type=settings.WECHAT_PAY_SIGN_TYPE,
        cert_path=settings.WECHAT_PAY_CERT_PATH,
        key_path=settings.WECHAT_PAY_KEY_PATH,
        secapi_base_url=settings.WECHAT_PAY_SECAPI_BASE_URL,
        ca_bundle=settings.WECHAT_PAY_CA_BUNDLE,
        v3_base_url=settings.WECHAT_PAY_V3_BASE_URL,
    )


def _certificate_paths(merchant: Merchant) -> tuple[str | None, str | None]:
    """The v2 API certificate and key files: the row's, or for the settings' merchant the settings'."""
    if merchant.certificate_path or merchant.mch_id != settings.WECHAT_PAY_MCH_ID:
        return merchant.certificate_path or None, merchant.certificate_key_path or None
    return settings.WECHAT_PAY_CERT_PATH, settings.WECHAT_PAY_KEY_PATH


def payment_gateway(config: MerchantConfig | None = None) -> PaymentGateway:
    """The gateway for `config` (the settings' merchant when None), by its API version."""
    config = config or merchant_config()
    if config.version == "v2":
        return WeChatPayV2(config)
    if config.version == "v3":
        return WeChatPayV3(config)
    raise ValueError(f"no WeChat Pay backend for version {config.version!r}")


def payment_gateway_for_message(*, appid: str, mch_id: str, version: str | None = None) -> PaymentGateway:
    """The gateway of the Mini Program and merchant a WeChat Pay message names, to verify it with their keys.

    `version`: the API version the message came by (a v2 endpoint's XML is v2's to verify, whatever
    the merchant uses now). Raises InvalidPayMessage when the pair is not ours: no key to trust it with.
    The rows are this process's copies (`payment_parties_for_message`: a key staff changed reaches
    other processes within seconds, and WeChat resends what was refused meanwhile).
    """
    if not (IDENTIFIER.fullmatch(appid) and IDENTIFIER.fullmatch(mch_id)):  # before the database sees them
        raise InvalidPayMessage("the message names no app or merchant of ours")
    parties = payment_parties_for_message(appid=appid, mch_id=mch_id)
    if parties is None:
        raise InvalidPayMessage("the message is for another app or merchant")
    mini_program, merchant = parties
    config = merchant_config(mini_program, merchant=merchant)
    return payment_gateway(replace(config, version=version) if version else config)
