"""Bounded retries of transient WeChat failures for callers that cannot wait long (a user's request)."""

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from wechat.errors import WeChatTimeout, WeChatTransientError

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A person is waiting: three tries within about a second, then give up.
INTERACTIVE_BACKOFF_SECONDS = (0.2, 0.6)


def retry_transient(call: Callable[[], T], *, backoff: Sequence[float] = INTERACTIVE_BACKOFF_SECONDS) -> T:
    for delay in backoff:
        try:
            return call()
        except WeChatTimeout:
            raise  # the user has already waited a full timeout; another would double it
        except WeChatTransientError as error:
            logger.warning("WeChat busy (%s); retrying in %.1fs", error, delay)
            time.sleep(delay)
    return call()
