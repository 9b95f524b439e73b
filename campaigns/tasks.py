"""Celery entry points of campaigns. Thin: each calls a service."""

import logging

from celery import shared_task

from campaigns.code_services import mini_program_code_generate, mini_program_code_give_up
from wechat.errors import WeChatRateLimited, WeChatTransientError

logger = logging.getLogger(__name__)

MINI_PROGRAM_CODE_MAX_RETRIES = 3
MINI_PROGRAM_CODE_RETRY_SECONDS = 30


# Idempotent (a code no longer queued is left alone), so a redelivered message is harmless.
@shared_task(bind=True, acks_late=True, max_retries=None)
def generate_mini_program_code(self, code_id: int) -> None:
    try:
        mini_program_code_generate(code_id=code_id)
    except WeChatTransientError as error:
        retries = self.request.retries
        if retries >= MINI_PROGRAM_CODE_MAX_RETRIES:
            mini_program_code_give_up(code_id=code_id, error=error)
            return
        # getwxacodeunlimit's 45009 is a per-minute limit (5,000 a minute): a minute's wait is enough.
        countdown = 60 if isinstance(error, WeChatRateLimited) else MINI_PROGRAM_CODE_RETRY_SECONDS * 2**retries
        logger.warning("Mini Program code %s: %s; retry %d in %ds", code_id, error, retries + 1, countdown)
        raise self.retry(exc=error, countdown=countdown) from error
