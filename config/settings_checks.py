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


# Django's own deploy check (security.W009) asks for at least 50 characters of a secret key.
SECRET_KEY_MIN_LENGTH = 50
# 微信支付 V2 开发文档, 安全规范 / 签名算法: the API密钥 is 32 characters, set in the merchant platform.
PAY_API_KEY_LENGTH = 32


def secret_key_problem(secret_key: str) -> str | None:
    if len(secret_key) < SECRET_KEY_MIN_LENGTH:
        return (
            f"DJANGO_SECRET_KEY is {len(secret_key)} characters: production needs at least "
            f"{SECRET_KEY_MIN_LENGTH}, long and random."
        )
    return None


def allowed_hosts_problem(allowed_hosts: list[str]) -> str | None:
    if "*" in allowed_hosts:
        return "DJANGO_ALLOWED_HOSTS=* answers any Host header: name this site's host names instead."
    return None


def pay_api_key_problem(api_key: str) -> str | None:
    if len(api_key) != PAY_API_KEY_LENGTH:
        return (
            f"WECHAT_PAY_API_KEY is {len(api_key)} characters: WeChat Pay's API key is exactly "
            f"{PAY_API_KEY_LENGTH}, as set in the merchant platform."
        )
    return None


def public_notify_url_problem(name: str, url: str) -> str | None:
    """Production: WeChat Pay posts from the internet, over https, to a host it can reach."""
    parts = urlsplit(url)
    kind = non_public_address_kind(parts.hostname or "")
    if kind:
        return f"{name}={url} is a {kind} address: WeChat Pay posts from the internet, to this site's public host."
    if parts.scheme != "https":
        return f"{name}={url} is not https: production receives payment results over TLS only."
    return None


def certificate_pair_problem(cert_path: str, key_path: str) -> str | None:
    """Why the merchant certificate and its key cannot be used for secapi/ (refunds), or None."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    except OSError as error:
        return f"WECHAT_PAY_CERT_PATH={cert_path} cannot be read: {error.strerror}."
    except ValueError:
        return f"WECHAT_PAY_CERT_PATH={cert_path} is not a PEM certificate (apiclient_cert.pem)."
    try:
        key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
    except OSError as error:
        return f"WECHAT_PAY_KEY_PATH={key_path} cannot be read: {error.strerror}."
    except (ValueError, TypeError):
        return f"WECHAT_PAY_KEY_PATH={key_path} is not an unencrypted PEM private key (apiclient_key.pem)."
    public_format = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if certificate.public_key().public_bytes(*public_format) != key.public_key().public_bytes(*public_format):
        return f"WECHAT_PAY_KEY_PATH={key_path} is not the key of the certificate WECHAT_PAY_CERT_PATH={cert_path}."
    return None
