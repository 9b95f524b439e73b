"""Followers and tags as WeChat has them: read-only lists, the "sync now" action and the first sync's offer."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from articles.models import FollowedAccount, Follower, FollowerSyncRun, FollowerSyncRunEvent, FollowerTag
from articles.selectors import accounts_never_synced
from articles.tasks import sync_account_followers
from config.admin_read_only import ReadOnlyAdmin, ReadOnlyInline

SYNC_PERMISSION = "articles.sync_followedaccount"


class FirstSyncOfferMixin:
    """Until an account's followers are synced once, its counts read 0: the list says so and offers the sync.

    Beat syncs every account once a day; a new installation (or a new account) would wait for it.
    """

    change_list_template = "admin/articles/followers_change_list.html"

    def changelist_view(self, request, extra_context=None):
        offer = []
        if request.user.has_perm(SYNC_PERMISSION):
            offer = list(accounts_never_synced())
        extra_context = {**(extra_context or {}), "never_synced_accounts": offer}
        return super().changelist_view(request, extra_context)


@admin.register(Follower)
class FollowerAdmin(FirstSyncOfferMixin, ReadOnlyAdmin):
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
class FollowedAccountAdmin(FirstSyncOfferMixin, ReadOnlyAdmin):
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

    @admin.display(description=_("subscribed followers"), ordering="subscribed_count")
    def subscribed_followers(self, account) -> int:
        return account.subscribed_count

    @admin.display(description=_("tags"), ordering="tag_count")
    def tags(self, account) -> int:
        return account.tag_count

    @admin.display(description=_("last sync"), ordering="last_sync_at")
    def last_sync(self, account) -> str:
        if account.last_sync_at is None:
            return _("never")
        at = timezone.localtime(account.last_sync_at).strftime("%Y-%m-%d %H:%M")
        if account.last_sync_status == FollowerSyncRun.Status.FAILED:
            return _("%(at)s failed: %(last_sync_error)s") % {"at": at, "last_sync_error": account.last_sync_error}
        return f"{at} {account.last_sync_status}"

    def has_sync_permission(self, request) -> bool:
        return request.user.has_perm(SYNC_PERMISSION)

    def get_urls(self):
        first_sync = path(
            "first-sync/",
            self.admin_site.admin_view(require_POST(self.first_sync_view)),
            name="articles_followedaccount_first_sync",
        )
        return [first_sync, *super().get_urls()]

    def first_sync_view(self, request):
        """The notice's button: sync every account never synced, then back to the list it was pressed on."""
        if not self.has_sync_permission(request):
            raise PermissionDenied
        names = []
        for account in accounts_never_synced():
            sync_account_followers.delay(account.pk)
            names.append(account.name)
        if names:
            self.message_user(
                request,
                _("Follower sync started for %(accounts)s; the counts fill in as it runs.")
                % {"accounts": ", ".join(names)},
                messages.SUCCESS,
            )
        back = request.POST.get("next", "")
        allowed = {reverse("admin:articles_follower_changelist"), reverse("admin:articles_followedaccount_changelist")}
        return redirect(back if back in allowed else "admin:articles_followedaccount_changelist")

    @admin.action(description=_("Sync followers from WeChat now"), permissions=["sync"])
    def sync_followers_now(self, request, queryset):
        account_ids = list(queryset.values_list("pk", flat=True))
        for account_id in account_ids:
            sync_account_followers.delay(account_id)
        self.message_user(
            request,
            _("Follower sync queued for %(count)s account(s); the lists fill in as it runs.")
            % {"count": len(account_ids)},
            messages.SUCCESS,
        )


class FollowerSyncRunEventInline(ReadOnlyInline):
    """The sync's timeline; events are appended by the follower sync status service only."""

    model = FollowerSyncRunEvent
    verbose_name_plural = _("timeline")
    fields = ["at", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields


@admin.register(FollowerSyncRun)
class FollowerSyncRunAdmin(ReadOnlyAdmin):
    list_display = ["account", "status", "started_at", "finished_at", "followers", "unsubscribed", "tags", "error"]
    list_filter = ["status", "account"]
    list_select_related = ["account"]
    inlines = [FollowerSyncRunEventInline]
