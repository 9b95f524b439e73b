"""What config/settings.py checks at start, and the error that reports every problem found, one per line.

The entry points (manage.py, config.wsgi, config.celery) print a SettingsRefused's
lines alone and exit non-zero: an operator needs the list, not a traceback.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


class SettingsRefused(ImproperlyConfigured):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def non_public_address_kind(host: str) -> str | None:
    """'loopback', 'private', 'link-local' or 'non-public' for such a literal address or localhost, else None.

    Only literal addresses are judged: a name is not resolved at start, where DNS may not be up yet.
    """
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always the loopback
        return "loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            # The shorthand forms the resolver accepts too, such as 127.1 or 0x7f000001.
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return None  # a host name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def wechat_base_url_problem(name: str, url: str, *, allow_private: bool) -> str | None:
    """Why production must not call WeChat at `url`, or None. `allow_private` admits a sandbox (staging)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"{name}={url!r} is not an http(s) URL such as https://api.weixin.qq.com/."
    if allow_private:
        return None
    opt_in = "set WECHAT_ALLOW_PRIVATE_BASE_URL=true to allow it (staging against the sandbox)"
    kind = non_public_address_kind(parts.hostname)
    if kind:
        return f"{name}={url} is a {kind} address, not WeChat: production must not call a sandbox; {opt_in}."
    if parts.scheme != "https":
        return f"{name}={url} is not https: WeChat's APIs are called over TLS only; {opt_in}."
    return None


def notify_url_problem(name: str, url: str) -> str | None:
    """Why WeChat Pay cannot post to `url`: 统一下单 wants an absolute URL it can reach, without parameters."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"{name}={url!r} is not an absolute http(s) URL such as https://shop.example.com/wechat/pay/notify/."
    if parts.query or parts.fragment:
        return f"{name}={url} has query parameters: WeChat Pay refuses a notify_url with them."
    return None
