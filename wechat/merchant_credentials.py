"""What a WeChat Pay merchant needs to be usable, by API version, and checks of the keys staff paste.

From 微信支付 APIv3 文档, 开发必要参数说明: a v3 merchant signs requests with its merchant API
private key (apiclient_key.pem, RSA 2048) naming its certificate's serial number, decrypts
notifications with its APIv3 key, and checks WeChat Pay's signatures with WeChat Pay's public key
(微信支付公钥, with its id PUB_KEY_ID_...) or, for merchants from before public keys, with the
platform certificates it downloads. A v2 merchant (V2 开发文档, 安全规范) signs with its API key.
"""

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from wechat.models import Merchant

V3_REQUIRED = ("apiv3_key", "private_key", "certificate_serial")
PUBLIC_KEY_REQUIRED = ("wechatpay_public_key", "wechatpay_public_key_id")


def merchant_private_key_clean(text: str) -> str:
    """A PEM RSA private key, as the certificate tool writes apiclient_key.pem; blank stays blank."""
    text = text.strip()
    if not text:
        return ""
    try:
        key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError(_("Not a PEM private key without a password (apiclient_key.pem).")) from None
    if not isinstance(key, RSAPrivateKey):
        raise ValidationError(_("WeChat Pay merchant keys are RSA keys."))
    return text + "\n"


def wechatpay_public_key_clean(text: str) -> str:
    """A PEM RSA public key, as the merchant platform gives WeChat Pay's (pub_key.pem); blank stays blank."""
    text = text.strip()
    if not text:
        return ""
    try:
        key = load_pem_public_key(text.encode())
    except (ValueError, TypeError):
        raise ValidationError(_("Not a PEM public key (pub_key.pem).")) from None
    if not isinstance(key, RSAPublicKey):
        raise ValidationError(_("WeChat Pay's public key is an RSA key."))
    return text + "\n"


def merchant_credentials_missing(values: dict) -> dict[str, str]:
    """Field name -> why it is needed, for the credentials a merchant of that API version lacks."""
    required: tuple[str, ...] = ("api_key",)
    if values.get("api_version") == Merchant.ApiVersion.V3:
        required = V3_REQUIRED
        if values.get("verification") == Merchant.Verification.PUBLIC_KEY:
            required += PUBLIC_KEY_REQUIRED
    version = values.get("api_version") or Merchant.ApiVersion.V2
    return {
        name: _("Required for an %(version)s merchant.") % {"version": version}
        for name in required
        if not values.get(name)
    }
