"""Secrets the sandbox must never show or keep in clear: app secrets, login codes, tokens, session keys.

The sandbox keeps them only as SHA-256 digests (compared in constant time), and its
access log and received log show a short fingerprint instead, enough to tell two
values apart and to match one a test holds, never to recover it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import unquote_plus

# Parameter and field names whose values are credentials, wherever they appear
# (query string, JSON body, control input).
SECRET_NAMES = frozenset(
    {
        "secret",
        "appsecret",
        "js_code",
        "code",
        "access_token",
        "session_key",
        "refresh_token",
        "token",
        "encoding_aes_key",
        "signature",
    }
)
FINGERPRINT_HEX_CHARS = 8
_SECRET_NAMES_PATTERN = "|".join(sorted(SECRET_NAMES))
# name=value in a query string (up to &, #, whitespace or a quote), for log lines.
_SECRET_QUERY_PAIR = re.compile(rf"""((?<![\w%])(?:{_SECRET_NAMES_PATTERN})=)([^&#\s'"]*)""", re.IGNORECASE)
# A "name": "value" member with a secret name, for bodies that do not parse as JSON.
_SECRET_JSON_MEMBER = re.compile(rf'("(?:{_SECRET_NAMES_PATTERN})"\s*:\s*)"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def digest(value: str) -> str:
    """The SHA-256 of a secret, hex: what the sandbox keeps instead of the secret."""
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(value), expected_digest)


def fingerprint(value: str) -> str:
    """What logs show in place of a secret: "sha256:" and the first 8 hex of its digest."""
    return f"sha256:{digest(value)[:FINGERPRINT_HEX_CHARS]}"


def redact_query(query: dict[str, str]) -> dict[str, str]:
    return {name: fingerprint(value) if name.lower() in SECRET_NAMES else value for name, value in query.items()}


def redact_body(text: str) -> str:
    """A request body with every secret field fingerprinted: as received when it names none; else JSON
    re-serialised, anything else scrubbed by pattern."""
    lowered = text.lower()
    if "\\" not in text and not any(name in lowered for name in SECRET_NAMES):
        # No secret name anywhere, nor an escape that could spell one: nothing to hide, kept as received
        # (walking a batchget body of 100 members cost more than answering it).
        return text
    try:
        return json.dumps(_redact_value(json.loads(text)), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested past what is worth walking
        return _SECRET_JSON_MEMBER.sub(lambda match: f'{match.group(1)}"{fingerprint(match.group(2))}"', text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            name: fingerprint(item) if name.lower() in SECRET_NAMES and isinstance(item, str) else _redact_value(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    return value


def redact_log_line(line: str) -> str:
    """A log line with every secret-named name=value pair of a URL in it fingerprinted (value taken as sent)."""
    return _SECRET_QUERY_PAIR.sub(lambda match: f"{match.group(1)}{fingerprint(unquote_plus(match.group(2)))}", line)
