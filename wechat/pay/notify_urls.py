"""Where WeChat Pay posts a merchant's notifications: v2's XML endpoints or v3's JSON ones, by its API version.

统一下单 / JSAPI下单 and 申请退款 each take a notify_url; a v3 merchant's notifications are v3's
(signed with WeChat Pay's key, the resource encrypted), so they go to /wechat/pay/v3/... .
"""

from urllib.parse import urljoin

from django.conf import settings

from wechat.merchants import merchant_for_mch_id, mini_program_default
from wechat.models import Merchant


def payment_notify_url(*, mch_id: str) -> str:
    """notify_url for a prepay through merchant `mch_id` (blank: the settings' merchant)."""
    if _api_version(mch_id) == Merchant.ApiVersion.V3:
        # Unset: beside v2's, e.g. https://shop.example.com/wechat/pay/v3/notify/.
        return settings.WECHAT_PAY_V3_NOTIFY_URL or urljoin(settings.WECHAT_PAY_NOTIFY_URL, "../v3/notify/")
    return settings.WECHAT_PAY_NOTIFY_URL


def refund_notify_url(*, mch_id: str) -> str | None:
    """notify_url for a refund through merchant `mch_id`; None: the URL set in the merchant platform."""
    if _api_version(mch_id) == Merchant.ApiVersion.V3:
        v2_url = settings.WECHAT_PAY_REFUND_NOTIFY_URL
        return settings.WECHAT_PAY_V3_REFUND_NOTIFY_URL or (urljoin(v2_url, "../v3/refund-notify/") if v2_url else None)
    return settings.WECHAT_PAY_REFUND_NOTIFY_URL or None


def _api_version(mch_id: str) -> str:
    merchant = merchant_for_mch_id(mch_id) if mch_id else mini_program_default().merchant
    return merchant.api_version if merchant else Merchant.ApiVersion.V2
