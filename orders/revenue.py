"""Revenue by source: what each push, article, campaign or launch scene earned over Beijing days.

A selector (it only reads). What each figure counts, for a range of Beijing calendar days
(docs/architecture.md, "Revenue by source", says the same for staff):
- orders: orders *paid* in the range (`paid_at`), whatever their status now;
- buyers: distinct customers among them;
- revenue_fen: their totals less their *succeeded* refunds (whenever refunded), in fen;
- visitors: customers whose first campaign is the row's and whose login with it (`first_source_at`)
  fell in the range: the Mini Program users the source brought in, not returning ones;
- readers: WeChat's daily readers (getarticlesummary's int_page_read_user) of the row's articles on
  the range's days, summed over days (someone reading on two days counts twice), for rows of pushes
  and articles and their campaigns; None (shown blank) where no article is read;
- conversion: buyers / visitors; None where no visitor came. It can pass 100 %: a customer whose
  first campaign was another one is a buyer here but a visitor there.

An order belongs to the campaign of the code it carried when ours (`Order.campaign`). Its push is
that campaign's push, or, for an article's campaign (the Mini Program cards and links in an article
carry the article's code a<id>, articles/content.py), the first push that went out with the
article. Orders whose campaign is unknown (no code, or a code not ours) are the `unknown` row; by
scene it is the orders that sent no scene. By push and by article, orders of our campaigns that
are no push's or article's (a poster, the menu, an article never sent) are the `other` row. Each
grouping's rows, other and unknown add up to the total, whose buyers are counted once across rows.

A fixed number of queries whatever the number of orders and sources. Orders are summed in one SQL
statement, every grouping key an integer, from indexes of paid orders read in (source, buyer) order
into streaming aggregates, not hash tables of a million orders (docs/benchmarks.md,
bench/attribution.py).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, TextChoices
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from articles.models import Article, ArticleDailyStatistics, Push, PushArticle, PushBatch
from campaigns.models import Campaign
from customers.models import Customer
from orders.models import Order, Payment, Refund, RefundStatus

BEIJING = ZoneInfo("Asia/Shanghai")
# Source ids the statement gives orders that are no row's: integers, so grouping stays on integers.
UNKNOWN_SOURCE = -1
OTHER_SOURCE = -2
# PostgreSQL's memory for the report's aggregation, for its transaction only (docs/benchmarks.md, bench/attribution.py).
REPORT_WORK_MEM = "64MB"

# Launch scenes (场景值, WeChat's 场景值列表) staff meet most; any other shows as its number.
SCENE_NAMES = {
    1001: _("Discover's Mini Programs entry"),
    1007: _("card in a single chat"),
    1008: _("card in a group chat"),
    1011: _("QR code scanned"),
    1035: _("Official Account's menu"),
    1037: _("another Mini Program"),
    1043: _("Official Account's template message"),
    1047: _("Mini Program code scanned"),
    1048: _("Mini Program code long-pressed"),
    1049: _("Mini Program code from the photo album"),
    1058: _("Official Account article"),
    1074: _("card in an Official Account session"),
    1082: _("link in an Official Account session"),
    1089: _("chat list's drop-down, recently used"),
    1154: _("Moments, single-page mode"),
}


class RevenueGrouping(TextChoices):
    PUSH = "push", _("by push")
    ARTICLE = "article", _("by article")
    CAMPAIGN = "campaign", _("by campaign")
    SCENE = "scene", _("by scene")


@dataclass(frozen=True)
class RevenueRow:
    """One source's figures; `key` is what the report's markup names it by (push:12, campaign:p12, unknown, ...)."""

    key: str
    label: str
    orders: int = 0
    buyers: int = 0
    revenue_fen: int = 0
    visitors: int | None = None
    readers: int | None = None
    url: str = ""

    @property
    def conversion(self) -> Decimal | None:
        """Buyers per visitor, to four places; None without visitors."""
        if not self.visitors:
            return None
        return (Decimal(self.buyers) / Decimal(self.visitors)).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class RevenueReport:
    grouping: str
    first_day: date
    last_day: date
    sources: list[RevenueRow]  # highest revenue first
    other: RevenueRow | None  # by push and by article only
    unknown: RevenueRow
    total: RevenueRow

    @property
    def rows(self) -> list[RevenueRow]:
        """Every row in the report's order: the sources, other, unknown, then the total."""
        return [*self.sources, *([self.other] if self.other else []), self.unknown, self.total]


@dataclass
class _Figures:
    orders: int = 0
    buyers: int = 0
    revenue_fen: int = 0
    visitors: int = 0
    readers: int = 0
    has_readers: bool = False


def beijing_day_bounds(*, first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """The instants starting first_day and ending last_day, Beijing time: [start, end)."""
    start = datetime.combine(first_day, time(), BEIJING)
    return start, datetime.combine(last_day + timedelta(days=1), time(), BEIJING)


def revenue_by_source(*, grouping: str, first_day: date, last_day: date) -> RevenueReport:
    """The report over the Beijing days first_day..last_day (both included), grouped per `grouping`."""
    grouping = RevenueGrouping(grouping)
    start, end = beijing_day_bounds(first_day=first_day, last_day=last_day)
    figures: dict[int, _Figures] = defaultdict(_Figures)
    total = _Figures()

    for source_id, orders, buyers, revenue_fen in _orders_by_source(grouping=grouping, start=start, end=end):
        if source_id is None:  # the row of the range's distinct buyers
            total.buyers = buyers
            continue
        # A source's orders come in one row, its refunds (if any) in another: they add up.
        figures[source_id].orders += orders
        figures[source_id].buyers += buyers
        figures[source_id].revenue_fen += revenue_fen
        total.orders += orders
        total.revenue_fen += revenue_fen

    visitors = _visitors(grouping=grouping, start=start, end=end)
    readers_by_push, readers_by_article = _readers(first_day=first_day, last_day=last_day)
    campaigns = _campaigns(grouping=grouping, ids={campaign_id for campaign_id, _ in visitors if campaign_id})
    for (campaign_id, scene), count in visitors.items():
        total.visitors += count
        figures[_visitor_source(grouping, campaign_id, scene, campaigns)].visitors += count
    total.readers = sum(readers_by_push.values())
    total.has_readers = bool(readers_by_push)

    if grouping in (RevenueGrouping.PUSH, RevenueGrouping.ARTICLE):
        readers = readers_by_push if grouping == RevenueGrouping.PUSH else readers_by_article
        for source_id, count in readers.items():
            figures[source_id].readers += count
            figures[source_id].has_readers = True
    elif grouping == RevenueGrouping.CAMPAIGN:
        # A push's or an article's campaign reads as its push or article does; other campaigns have no readers.
        push_campaigns = _campaigns_of(Push, readers_by_push)
        article_campaigns = _campaigns_of(Article, readers_by_article)
        for campaign_id, push_id in push_campaigns.items():
            figures[campaign_id].readers += readers_by_push[push_id]
            figures[campaign_id].has_readers = True
        for campaign_id, article_id in article_campaigns.items():
            figures[campaign_id].readers += readers_by_article[article_id]
            figures[campaign_id].has_readers = True

    labels = _labels(grouping=grouping, ids={key for key in figures if key >= 0}, campaigns=campaigns)
    sources = [
        _row(f"{grouping}:{labels[key][2]}", labels[key][0], figures[key], url=labels[key][1], readers=True)
        for key in figures
        if key >= 0
    ]
    sources.sort(key=lambda row: (-row.revenue_fen, -row.orders, -(row.visitors or 0), row.key))
    has_other = grouping in (RevenueGrouping.PUSH, RevenueGrouping.ARTICLE)
    return RevenueReport(
        grouping=grouping,
        first_day=first_day,
        last_day=last_day,
        sources=sources,
        other=_row("other", gettext("Other campaigns"), figures[OTHER_SOURCE], readers=False) if has_other else None,
        unknown=_row(
            "unknown",
            gettext("No scene sent") if grouping == RevenueGrouping.SCENE else gettext("Unknown source"),
            figures[UNKNOWN_SOURCE],
            readers=False,
        ),
        total=_row("total", gettext("Total"), total, readers=True),
    )


def _row(key: str, label: str, figures: _Figures, *, url: str = "", readers: bool) -> RevenueRow:
    return RevenueRow(
        key=key,
        label=label,
        orders=figures.orders,
        buyers=figures.buyers,
        revenue_fen=figures.revenue_fen,
        visitors=figures.visitors,
        readers=figures.readers if readers and figures.has_readers else None,
        url=url,
    )


# --- orders: one statement -------------------------------------------------------------------


def _campaign_sources_sql(grouping: RevenueGrouping) -> str:
    """(campaign_id, source_id): which push or article each of our campaigns counts for."""
    push, article, push_article = Push._meta.db_table, Article._meta.db_table, PushArticle._meta.db_table
    article_campaigns = f"SELECT a.campaign_id, a.id AS source_id FROM {article} a WHERE a.campaign_id IS NOT NULL"
    if grouping == RevenueGrouping.ARTICLE:
        return article_campaigns
    # An article's card leads to the first push that went out with it (no push sent before it carried the
    # article); one that never went out, to none: no row. An anti-join, not a subquery per article, so
    # the report's statement stays one PostgreSQL can run in parallel workers.
    return f"""
        SELECT p.campaign_id, p.id AS source_id FROM {push} p WHERE p.campaign_id IS NOT NULL
        UNION ALL
        SELECT a.campaign_id, pa.push_id AS source_id
        FROM {article} a
        JOIN {push_article} pa ON pa.article_id = a.id
        JOIN {push} sent ON sent.id = pa.push_id AND sent.sent_at IS NOT NULL
        WHERE a.campaign_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {push_article} earlier_pa JOIN {push} earlier ON earlier.id = earlier_pa.push_id
            WHERE earlier_pa.article_id = a.id AND earlier.sent_at IS NOT NULL
              AND (earlier.sent_at < sent.sent_at OR (earlier.sent_at = sent.sent_at AND earlier.id < sent.id))
        )
    """


def orders_by_source_sql(grouping: str) -> str:
    """The statement summing orders paid in [start, end) per source id, then the range's buyers (source id NULL).

    Public so the bench (bench/attribution.py) can EXPLAIN what the report runs.
    """
    grouping = RevenueGrouping(grouping)
    order, payment, refund = Order._meta.db_table, Payment._meta.db_table, Refund._meta.db_table
    campaign = Campaign._meta.db_table
    in_range = "o.paid_at >= %(start)s AND o.paid_at < %(end)s"
    # Each source's orders are read in (source, buyer) order from an index of paid orders
    # (orders_order_paid_by_campaign, orders_order_paid_by_scene) into one streaming aggregate: the
    # buyers' COUNT(DISTINCT) then sorts rows that come sorted, and nothing hashes the orders.
    if grouping in (RevenueGrouping.CAMPAIGN, RevenueGrouping.SCENE):
        key = "o.campaign_id" if grouping == RevenueGrouping.CAMPAIGN else "o.source_scene"
        refunded_source = f"COALESCE({key}, {UNKNOWN_SOURCE})"
        refunded_mapping = ""
        # Grouped on the indexed column itself (NULL is its unknown group), so the index's order serves.
        sources = f"""
            SELECT COALESCE(source_key, {UNKNOWN_SOURCE}) AS source_id, orders, buyers, fen FROM (
                SELECT {key} AS source_key, COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS buyers,
                       SUM(o.total_fen) AS fen
                FROM {order} o WHERE {in_range} GROUP BY {key}
            ) per_key
        """
    else:
        # Every campaign of ours with the source it counts for (other: none), in source order: the
        # planner then reads each campaign's orders in turn from the index (a nested loop), so they
        # arrive grouped by source. Orders without a campaign are the unknown row, summed beside.
        all_campaigns = f"""
            SELECT c.id AS campaign_id, COALESCE(s.source_id, {OTHER_SOURCE}) AS source_id
            FROM {campaign} c LEFT JOIN ({_campaign_sources_sql(grouping)}) s ON s.campaign_id = c.id
            ORDER BY 2, 1
        """
        refunded_source = (
            f"CASE WHEN o.campaign_id IS NULL THEN {UNKNOWN_SOURCE} ELSE COALESCE(m.source_id, {OTHER_SOURCE}) END"
        )
        refunded_mapping = f"LEFT JOIN ({_campaign_sources_sql(grouping)}) m ON m.campaign_id = o.campaign_id"
        sources = f"""
            SELECT m.source_id, COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS buyers, SUM(o.total_fen) AS fen
            FROM {order} o JOIN ({all_campaigns}) m ON m.campaign_id = o.campaign_id
            WHERE {in_range}
            GROUP BY m.source_id
            UNION ALL
            SELECT CAST({UNKNOWN_SOURCE} AS BIGINT), COUNT(*), COUNT(DISTINCT o.customer_id), SUM(o.total_fen)
            FROM {order} o WHERE o.campaign_id IS NULL AND {in_range}
        """
    # Three independent parts, each reading its own index, which PostgreSQL hands to parallel workers
    # (a Parallel Append; only while every part's columns have the same types, hence the casts): the
    # sources' rows; the refunds (few), each refunded order's day and source looked up in
    # orders_order_paid_by_id, as rows of their source that take their amount off; and the range's
    # distinct buyers for the total row (source id NULL), read in buyer order from
    # orders_order_paid_by_customer. Over a narrow range the planner reads orders_order_paid_for_revenue.
    return f"""
        SELECT source_id, orders, buyers, fen FROM ({sources}) sources
        UNION ALL
        SELECT {refunded_source}, CAST(0 AS BIGINT), CAST(0 AS BIGINT), -SUM(r.amount_fen)
        FROM {refund} r JOIN {payment} pay ON pay.id = r.payment_id JOIN {order} o ON o.id = pay.order_id
        {refunded_mapping}
        WHERE r.status = '{RefundStatus.SUCCEEDED.value}' AND {in_range}
        GROUP BY 1
        UNION ALL
        SELECT NULL, NULL, COUNT(*), NULL FROM (SELECT DISTINCT o.customer_id FROM {order} o WHERE {in_range}) buyers
    """


def _orders_by_source(*, grouping: RevenueGrouping, start: datetime, end: datetime) -> list[tuple]:
    ops = connection.ops
    bounds = {"start": ops.adapt_datetimefield_value(start), "end": ops.adapt_datetimefield_value(end)}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The buyers' COUNT(DISTINCT)s sort in memory, not on disk.
            cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
            # Over a wide range the statement's estimated cost passes jit_above_cost, and compiling it
            # would take longer than running it.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(orders_by_source_sql(grouping), bounds)
        return [
            (None if source_id is None else int(source_id), int(orders or 0), int(buyers or 0), int(revenue or 0))
            for source_id, orders, buyers, revenue in cursor.fetchall()
        ]


# --- visitors, readers, names ----------------------------------------------------------------


def _visitors(*, grouping: RevenueGrouping, start: datetime, end: datetime) -> dict[tuple, int]:
    """(first campaign id, first scene) -> customers who first logged in with it in [start, end)."""
    rows = (
        Customer.objects.filter(first_source_at__gte=start, first_source_at__lt=end)
        .values_list("first_campaign_id", "first_source_scene")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(campaign_id, scene): count for campaign_id, scene, count in rows}


def _visitor_source(grouping: RevenueGrouping, campaign_id: int | None, scene: int | None, campaigns: dict) -> int:
    if grouping == RevenueGrouping.SCENE:
        return UNKNOWN_SOURCE if scene is None else scene
    if campaign_id is None:
        return UNKNOWN_SOURCE
    if grouping == RevenueGrouping.CAMPAIGN:
        return campaign_id
    source_id = campaigns.get(campaign_id, {}).get("source_id")
    return OTHER_SOURCE if source_id is None else source_id


def _readers(*, first_day: date, last_day: date) -> tuple[dict[int, int], dict[int, int]]:
    """WeChat's daily readers in the range, summed per push and per article: one query.

    A statistics row names the send (msg_data_id, which our batch stored) and the article's place in it;
    rows of sends that are not ours (WeChat's console) match no batch and are left out.
    """
    statistics, batch = ArticleDailyStatistics._meta.db_table, PushBatch._meta.db_table
    push, push_article = Push._meta.db_table, PushArticle._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT b.push_id, pa.article_id, SUM(s.int_page_read_user)
            FROM {statistics} s
            JOIN {batch} b ON b.msg_data_id = s.msg_data_id
            JOIN {push} p ON p.id = b.push_id AND p.account_id = s.account_id
            LEFT JOIN {push_article} pa ON pa.push_id = b.push_id AND pa.position = s.article_index
            WHERE s.day >= %s AND s.day <= %s AND s.msg_data_id <> '' AND s.article_index IS NOT NULL
            GROUP BY b.push_id, pa.article_id
            """,
            [first_day, last_day],
        )
        rows = cursor.fetchall()
    by_push: dict[int, int] = defaultdict(int)
    by_article: dict[int, int] = defaultdict(int)
    for push_id, article_id, readers in rows:
        by_push[push_id] += int(readers)
        if article_id is not None:
            by_article[article_id] += int(readers)
    return dict(by_push), dict(by_article)


def _campaigns(*, grouping: RevenueGrouping, ids: set[int]) -> dict[int, dict]:
    """Our campaigns `ids` with their name and code, and (by push or article) the source each counts for."""
    if not ids:
        return {}
    campaigns = {
        row["pk"]: {**row, "source_id": None}
        for row in Campaign.objects.filter(pk__in=ids).values("pk", "code", "name", "channel")
    }
    if grouping in (RevenueGrouping.PUSH, RevenueGrouping.ARTICLE):
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(campaigns))
            cursor.execute(
                f"SELECT campaign_id, source_id FROM ({_campaign_sources_sql(grouping)}) m "
                f"WHERE campaign_id IN ({placeholders})",
                list(campaigns),
            )
            for campaign_id, source_id in cursor.fetchall():
                campaigns[campaign_id]["source_id"] = source_id
    return campaigns


def _campaigns_of(model, ids: dict[int, int]) -> dict[int, int]:
    """campaign id -> push (or article) id, for the pushes (or articles) `ids`."""
    if not ids:
        return {}
    return dict(model.objects.filter(pk__in=ids, campaign__isnull=False).values_list("campaign_id", "pk"))


def _labels(*, grouping: RevenueGrouping, ids: set[int], campaigns: dict[int, dict]) -> dict[int, tuple[str, str, str]]:
    """source id -> (what staff read, a link to the source's admin page, the key's value)."""
    if grouping == RevenueGrouping.SCENE:
        return {scene: (_scene_label(scene), "", str(scene)) for scene in ids}
    if grouping == RevenueGrouping.CAMPAIGN:
        missing = ids - set(campaigns)
        campaigns = {**campaigns, **_campaigns(grouping=grouping, ids=missing)}
        return {
            pk: (
                f"{campaigns[pk]['name']} ({campaigns[pk]['code']})",
                reverse("admin:campaigns_campaign_change", args=[pk]),
                campaigns[pk]["code"],
            )
            for pk in ids
        }
    model = Push if grouping == RevenueGrouping.PUSH else Article
    titles = dict(model.objects.filter(pk__in=ids).values_list("pk", "title"))
    url_name = f"admin:articles_{model._meta.model_name}_change"
    return {pk: (titles.get(pk, f"#{pk}"), reverse(url_name, args=[pk]), str(pk)) for pk in ids}


def _scene_label(scene: int) -> str:
    name = SCENE_NAMES.get(scene)
    return f"{scene} {name}" if name else str(scene)
