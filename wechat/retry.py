"""Bounded retries of transient WeChat failures for callers that cannot wait long (a user's request)."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from wechat.errors import WeChatRateLimited, WeChatTimeout, WeChatTransientError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def retry_transient(call: Callable[[], T]) -> T:
    """`call`, retried after each of the WECHAT_INTERACTIVE_BACKOFF_SECONDS while WeChat is busy."""
    for delay in settings.WECHAT_INTERACTIVE_BACKOFF_SECONDS:
        try:
            return call()
        except WeChatTimeout:
            raise  # the user has already waited a full timeout; another would double it
        except WeChatRateLimited:
            raise  # WeChat refuses again until a minute or a day has passed, far beyond this wait
        except WeChatTransientError as error:
            logger.warning("WeChat busy (%s); retrying in %.2fs", error, delay)
            time.sleep(delay)
    return call()
