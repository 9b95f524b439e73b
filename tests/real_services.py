"""Which real services this run can reach, and what to do when one is missing.

On a developer's machine a test that needs Redis or PostgreSQL is skipped without
it; under CI=true the same absence fails the test, so CI can never go green by
silently skipping the real-service tests.
"""

import os
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def require(available: bool, what: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not reachable", pytrace=False)
    pytest.skip(f"{what} not reachable on this machine")


def require_redis() -> str:
    require(reachable(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    return REDIS_URL
