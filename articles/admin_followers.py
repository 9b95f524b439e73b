"""Followers and tags as WeChat has them: read-only lists and the "sync now" action."""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from articles.models import FollowedAccount, Follower, FollowerSyncRun, FollowerSyncRunEvent, FollowerTag
from articles.tasks import sync_account_followers
from config.admin_read_only import ReadOnlyAdmin, ReadOnlyInline


@admin.register(Follower)
class FollowerAdmin(ReadOnlyAdmin):
    list_display = ["openid", "nickname", "account", "is_subscribed", "subscribed_at", "unsubscribed_at", "synced_at"]
    list_filter = ["account", "is_subscribed"]
    list_select_related = ["account"]
    search_fields = ["openid__exact", "nickname"]
    # Counting a large account's followers on every page costs more than the page itself.
    show_full_result_count = False


@admin.register(FollowerTag)
class FollowerTagAdmin(ReadOnlyAdmin):
    list_display = ["name", "tag_id", "account", "follower_count"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["name"]


@admin.register(FollowedAccount)
class FollowedAccountAdmin(ReadOnlyAdmin):
    list_display = ["name", "appid", "subscribed_followers", "tags", "last_sync"]
    search_fields = ["name", "appid"]
    fields = ["name", "appid", "account_type"]
    actions = ["sync_followers_now"]

    def get_queryset(self, request):
        tags = FollowerTag.objects.filter(account=OuterRef("pk")).values("account").annotate(count=Count("pk"))
        last_sync = FollowerSyncRun.objects.filter(account=OuterRef("pk")).order_by("-started_at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                subscribed_count=Count("followers", filter=Q(followers__is_subscribed=True)),
                last_sync_status=Subquery(last_sync.values("status")[:1]),
                last_sync_at=Subquery(last_sync.values("started_at")[:1]),
                last_sync_error=Subquery(last_sync.values("error")[:1]),
                tag_count=Coalesce(Subquery(tags.values("count")), 0),
            )
        )

    @admin.display(description="subscribed followers", ordering="subscribed_count")
    def subscribed_followers(self, account) -> int:
        return account.subscribed_count

    @admin.display(description="tags", ordering="tag_count")
    def tags(self, account) -> int:
        return account.tag_count

    @admin.display(description="last sync", ordering="last_sync_at")
    def last_sync(self, account) -> str:
        if account.last_sync_at is None:
            return "never"
        at = timezone.localtime(account.last_sync_at).strftime("%Y-%m-%d %H:%M")
        if account.last_sync_status == FollowerSyncRun.Status.FAILED:
            return f"{at} failed: {account.last_sync_error}"
        return f"{at} {account.last_sync_status}"

    def has_sync_permission(self, request) -> bool:
        return request.user.has_perm("articles.sync_followedaccount")

    @admin.action(description="Sync followers from WeChat now", permissions=["sync"])
    def sync_followers_now(self, request, queryset):
        account_ids = list(queryset.values_list("pk", flat=True))
        for account_id in account_ids:
            sync_account_followers.delay(account_id)
        self.message_user(
            request,
            f"Follower sync queued for {len(account_ids)} account(s); the lists fill in as it runs.",
            messages.SUCCESS,
        )


class FollowerSyncRunEventInline(ReadOnlyInline):
    """The sync's timeline; events are appended by the follower sync status service only."""

    model = FollowerSyncRunEvent
    verbose_name_plural = "timeline"
    fields = ["at", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields


@admin.register(FollowerSyncRun)
class FollowerSyncRunAdmin(ReadOnlyAdmin):
    list_display = ["account", "status", "started_at", "finished_at", "followers", "unsubscribed", "tags", "error"]
    list_filter = ["status", "account"]
    list_select_related = ["account"]
    inlines = [FollowerSyncRunEventInline]
