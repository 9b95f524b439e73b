"""WeChat's statistics of an account's articles and followers, a row per thing per Beijing day, as datacube gives them.

数据统计 (图文分析, 用户分析): WeChat advises keeping what it answers ("请开发者在调用接口获取数据后，
将数据保存在自身数据库中"). Each row is unique per account and day (and article or channel), so a
sync run again for a day rewrites the same rows (articles/services/statistics.py upserts them).
Imported by articles/models.py, so Django sees them as the articles app's.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatisticsDay(models.Model):
    """A Beijing day whose statistics were all stored for an account: what the sync skips when it runs again."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="statistics_days", verbose_name=_("account")
    )
    day = models.DateField(verbose_name=_("day"))
    synced_at = models.DateTimeField(verbose_name=_("synced at"))

    class Meta:
        ordering = ["account", "-day"]
        verbose_name = _("statistics day synced")
        verbose_name_plural = _("statistics days synced")
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="articles_statisticsday_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}"


class ArticleFigures(models.Model):
    """The figures WeChat gives an article (图文分析), on a day or accumulated to it."""

    int_page_read_user = models.PositiveIntegerField(_("readers"), default=0)
    int_page_read_count = models.PositiveIntegerField(_("reads"), default=0)
    ori_page_read_user = models.PositiveIntegerField(_("original page readers"), default=0)
    ori_page_read_count = models.PositiveIntegerField(_("original page reads"), default=0)
    share_user = models.PositiveIntegerField(_("sharers"), default=0)
    share_count = models.PositiveIntegerField(_("shares"), default=0)
    add_to_fav_user = models.PositiveIntegerField(_("followers who saved it"), default=0)
    add_to_fav_count = models.PositiveIntegerField(_("saves"), default=0)

    class Meta:
        abstract = True


class ArticleDailyStatistics(ArticleFigures):
    """getarticlesummary: one mass-sent article's figures on one day (articles with fewer than 3 are not listed)."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account")
    )
    day = models.DateField(verbose_name=_("day"))
    # WeChat's "<msg_data_id>_<index>": the send (PushBatch.msg_data_id) and the article's 1-based place in it.
    msgid = models.CharField(_("WeChat msgid"), max_length=64)
    msg_data_id = models.CharField(_("msg data id"), max_length=32, blank=True)
    article_index = models.PositiveSmallIntegerField(_("article number"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)

    class Meta:
        ordering = ["account", "-day", "msgid"]
        verbose_name = _("article statistics by day")
        verbose_name_plural = _("article statistics by day")
        constraints = [
            models.UniqueConstraint(fields=["account", "day", "msgid"], name="articles_articledailystats_once")
        ]
        indexes = [models.Index(fields=["account", "msg_data_id"], name="articles_articledaily_send")]

    def __str__(self) -> str:
        return f"{self.day} {self.msgid}"


class ArticleTotalStatistics(ArticleFigures):
    """One entry of getarticletotal's details: an article's figures from its send to stat_date."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account")
    )
    msgid = models.CharField(_("WeChat msgid"), max_length=64)
    msg_data_id = models.CharField(_("msg data id"), max_length=32, blank=True)
    article_index = models.PositiveSmallIntegerField(_("article number"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    sent_on = models.DateField(_("sent on"))
    stat_date = models.DateField(_("up to"))
    target_user = models.PositiveIntegerField(_("recipients"), default=0)
    # Everything WeChat sent for this stat_date: where readers came from (int_page_from_*), shares by place.
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["account", "-stat_date", "msgid"]
        verbose_name = _("article statistics to date")
        verbose_name_plural = _("article statistics to date")
        constraints = [
            models.UniqueConstraint(fields=["account", "msgid", "stat_date"], name="articles_articletotalstats_once")
        ]

    def __str__(self) -> str:
        return f"{self.msgid} → {self.stat_date}"


class FollowerSource(models.IntegerChoices):
    """用户分析 (getusersummary, user_source): the channel a follower came (or left) through."""

    OTHER = 0, _("other")
    SEARCH = 1, _("account search")
    BUSINESS_CARD = 17, _("business card shared")
    QR_CODE = 30, _("QR code scanned")
    ARTICLE_ACCOUNT_NAME = 57, _("account name in an article")
    ADVERTISEMENT = 100, _("WeChat advertisement")
    MINI_PROGRAM = 149, _("Mini Program")
    REPOST = 161, _("reposted by others")
    CHANNELS = 200, _("WeChat Channels")
    LIVE = 201, _("live stream")


class FollowerSourceDailyStatistics(models.Model):
    """getusersummary: followers gained and lost through one channel on one day."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account")
    )
    day = models.DateField(verbose_name=_("day"))
    # Kept as WeChat sends it: a channel WeChat adds later is stored too, shown as its number.
    user_source = models.PositiveIntegerField(_("channel"), choices=FollowerSource.choices)
    new_user = models.PositiveIntegerField(_("new followers"), default=0)
    cancel_user = models.PositiveIntegerField(_("unfollowed"), default=0)

    class Meta:
        ordering = ["account", "-day", "user_source"]
        verbose_name = _("follower changes by channel")
        verbose_name_plural = _("follower changes by channel")
        constraints = [
            models.UniqueConstraint(fields=["account", "day", "user_source"], name="articles_followersourcestats_once")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.user_source}"


class FollowerDailyStatistics(models.Model):
    """getusercumulate: how many followed the account at the end of one day."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account")
    )
    day = models.DateField(verbose_name=_("day"))
    cumulate_user = models.PositiveIntegerField(_("followers"), default=0)

    class Meta:
        ordering = ["account", "-day"]
        verbose_name = _("followers by day")
        verbose_name_plural = _("followers by day")
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="articles_followerdailystats_once")]

    def __str__(self) -> str:
        return f"{self.day} {self.cumulate_user}"
