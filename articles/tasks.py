from celery import shared_task

from articles.services.followers import followers_sync
from wechat.errors import WeChatQuotaExhausted, WeChatTransientError
from wechat.models import OfficialAccount


# Idempotent (a run upserts what WeChat lists and skips while another holds the account), so a
# redelivered message is harmless. The service already retries each WeChat call; a run that
# still fails transiently is retried whole, later. A spent daily quota waits for tomorrow's run.
@shared_task(
    acks_late=True,
    autoretry_for=(WeChatTransientError,),
    dont_autoretry_for=(WeChatQuotaExhausted,),
    retry_backoff=300,
    retry_backoff_max=3600,
    max_retries=3,
)
def sync_account_followers(account_id: int) -> int:
    account = OfficialAccount.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    return followers_sync(account=account).followers


@shared_task
def sync_followers_of_every_account() -> int:
    """Beat's daily entry: one sync task per account, so accounts sync side by side and fail alone."""
    account_ids = list(OfficialAccount.objects.values_list("pk", flat=True))
    for account_id in account_ids:
        sync_account_followers.delay(account_id)
    return len(account_ids)
