"""The payment gateway for a merchant: the backend serving its WeChat Pay API version (see wechat.pay.interface)."""

from django.conf import settings

from wechat.pay.interface import MerchantConfig, PaymentGateway
from wechat.pay.v2 import WeChatPayV2


def merchant_config() -> MerchantConfig:
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
    )


def payment_gateway(config: MerchantConfig | None = None) -> PaymentGateway:
    """The gateway for the settings' merchant (or `config`), by its API version."""
    config = config or merchant_config()
    if config.version == "v2":
        return WeChatPayV2(config)
    raise ValueError(f"no WeChat Pay backend for version {config.version!r}")
