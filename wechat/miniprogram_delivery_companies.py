"""WeChat's carrier list (get_delivery_list), kept in the shared cache and refreshed by beat.

The list changes rarely (WeChat adds a carrier now and then) and every shipment needs it, so it is
read from the cache; a miss fetches it once. The daily refresh (orders.tasks.refresh_delivery_companies)
keeps it current without a shipment ever waiting on WeChat.
"""

from dataclasses import asdict

from django.core.cache import cache

from wechat.miniprogram_shipping import DeliveryCompany, delivery_companies_fetch
from wechat.models import MiniProgram


def _cache_key(mini_program: MiniProgram | None) -> str:
    from django.conf import settings

    appid = mini_program.appid if mini_program is not None else settings.WECHAT_MINI_PROGRAM_APPID
    return f"wechat:delivery-companies:{appid}"


def delivery_companies_refresh(*, mini_program: MiniProgram | None = None) -> list[DeliveryCompany]:
    """Fetch the list from WeChat and keep it (no expiry: a stale list beats none when WeChat is down)."""
    companies = delivery_companies_fetch(mini_program=mini_program)
    cache.set(_cache_key(mini_program), [asdict(company) for company in companies], timeout=None)
    return companies


def delivery_companies(*, mini_program: MiniProgram | None = None) -> list[DeliveryCompany]:
    """The kept list; fetched from WeChat when nothing is kept yet (raises our WeChat errors then)."""
    kept = cache.get(_cache_key(mini_program))
    if kept is None:
        return delivery_companies_refresh(mini_program=mini_program)
    return [DeliveryCompany(**entry) for entry in kept]
