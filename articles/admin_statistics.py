"""WeChat's statistics of articles and followers, for Marketing to read: stored by the daily sync, never edited."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from articles.models import (
    ArticleDailyStatistics,
    ArticleTotalStatistics,
    FollowerDailyStatistics,
    FollowerSourceDailyStatistics,
    StatisticsDay,
)
from config.admin_read_only import ReadOnlyAdmin

FIGURES = [
    "int_page_read_user",
    "int_page_read_count",
    "share_user",
    "share_count",
    "add_to_fav_count",
]


@admin.register(ArticleDailyStatistics)
class ArticleDailyStatisticsAdmin(ReadOnlyAdmin):
    list_display = ["day", "title", "account", "msgid", *FIGURES, "ori_page_read_user"]
    list_filter = ["account", "day"]
    list_select_related = ["account"]
    search_fields = ["title", "msgid"]
    date_hierarchy = "day"


@admin.register(ArticleTotalStatistics)
class ArticleTotalStatisticsAdmin(ReadOnlyAdmin):
    list_display = ["stat_date", "title", "account", "sent_on", "target_user", *FIGURES, "read_rate"]
    list_filter = ["account", "sent_on"]
    list_select_related = ["account"]
    search_fields = ["title", "msgid"]
    date_hierarchy = "stat_date"

    @admin.display(description=_("read rate"))
    def read_rate(self, statistics: ArticleTotalStatistics) -> str:
        if not statistics.target_user:
            return "–"
        return f"{statistics.int_page_read_user / statistics.target_user:.1%}"


@admin.register(FollowerSourceDailyStatistics)
class FollowerSourceDailyStatisticsAdmin(ReadOnlyAdmin):
    list_display = ["day", "account", "user_source", "new_user", "cancel_user"]
    list_filter = ["account", "user_source", "day"]
    list_select_related = ["account"]
    date_hierarchy = "day"


@admin.register(FollowerDailyStatistics)
class FollowerDailyStatisticsAdmin(ReadOnlyAdmin):
    list_display = ["day", "account", "cumulate_user"]
    list_filter = ["account"]
    list_select_related = ["account"]
    date_hierarchy = "day"


@admin.register(StatisticsDay)
class StatisticsDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "account", "synced_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    date_hierarchy = "day"
