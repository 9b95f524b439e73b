"""Revenue by source (orders/revenue.py, issue 17 item 5): attribution per push, article, campaign and scene,
unknown sources apart, refunds netted, buyers distinct, Beijing days, and a query count that does not grow.

Orders are placed through order_create and paid through payment_paid_record, as the Mini Program's do.
"""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from articles.models import ArticleDailyStatistics, PushBatch, PushStatus
from campaigns.models import Campaign
from campaigns.services import campaign_automatic_ensure, campaign_create
from customers.models import Customer
from orders.models import Order, RefundStatus
from orders.revenue import BEIJING, RevenueGrouping, revenue_by_source
from orders.services.payments import PaidOutcome, payment_paid_record
from orders.services.placement import OrderSource, order_create
from tests.factories import (
    AddressFactory,
    ArticleFactory,
    CustomerFactory,
    OfficialAccountFactory,
    PaymentFactory,
    PushFactory,
    RefundFactory,
    SkuFactory,
)

pytestmark = pytest.mark.django_db

FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2026, 11, 30)
IN_RANGE = datetime(2026, 11, 15, 12, 0, tzinfo=BEIJING)


def paid_order(total_fen: int, *, customer=None, code: str = "", scene: int | None = None, at=IN_RANGE):
    """An order of `total_fen` placed with campaign `code` and launch `scene`, paid at `at`."""
    customer = customer or CustomerFactory()
    address = AddressFactory(customer=customer)
    sku = SkuFactory(price_fen=total_fen, stock=5)
    order = order_create(
        customer=customer,
        address_id=address.pk,
        items=[{"sku_id": sku.pk, "quantity": 1}],
        source=OrderSource(scene=scene, campaign=code, path="pages/product/detail"),
    )
    payment = PaymentFactory(order=order)
    outcome = payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id=f"42{payment.pk:026d}",
        amount_fen=total_fen,
        paid_at=at,
        reason="payment notification",
    )
    assert outcome == PaidOutcome.APPLIED
    # The order's paid_at is when we recorded the payment (the status machine's clock): put it on the day wanted.
    Order.objects.filter(pk=order.pk).update(paid_at=at)
    payment.refresh_from_db()
    return payment


def refund(payment, amount_fen: int, *, status=RefundStatus.SUCCEEDED):
    return RefundFactory(payment=payment, amount_fen=amount_fen, status=status)


def visitor(campaign_code: str, *, scene: int | None = 1058, at=IN_RANGE) -> Customer:
    """A customer whose first login carried `campaign_code`, as customer_login records it."""
    campaign = Campaign.objects.filter(code=campaign_code).first()
    return CustomerFactory(
        first_source_campaign=campaign_code, first_source_scene=scene, first_source_at=at, first_campaign=campaign
    )


@pytest.fixture
def funnel():
    """A sent push of two articles (campaigns p<id>, a<id>, a<id>), an unsent article, and a poster."""
    account = OfficialAccountFactory()
    push = PushFactory(account=account, status=PushStatus.SENT, sent_at=IN_RANGE - timedelta(days=5))
    push.campaign = campaign_automatic_ensure(channel=Campaign.Channel.PUSH, number=push.pk, name=push.title)
    push.save(update_fields=["campaign"])
    articles = []
    for position in (1, 2, 3):
        article = ArticleFactory()
        article.campaign = campaign_automatic_ensure(
            channel=Campaign.Channel.ARTICLE, number=article.pk, name=article.title
        )
        article.save(update_fields=["campaign"])
        if position < 3:  # the third article never went out
            push.push_articles.create(article=article, position=position)
        articles.append(article)
    poster = campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER, code="poster-0412")
    PushBatch.objects.create(push=push, number=1, clientmsgid="p-1", msg_data_id="2247483651")
    return {"account": account, "push": push, "articles": articles, "poster": poster}


def _rows(report) -> dict:
    return {row.key: row for row in report.rows}


def _report(grouping, first_day=FIRST_DAY, last_day=LAST_DAY):
    return revenue_by_source(grouping=grouping, first_day=first_day, last_day=last_day)


def test_orders_count_under_their_push_whether_they_came_from_the_push_or_one_of_its_articles(funnel):
    push, (first, second, unsent) = funnel["push"], funnel["articles"]
    paid_order(1000, code=push.campaign.code, scene=1035)
    paid_order(2000, code=first.campaign.code, scene=1058)
    paid_order(3000, code=second.campaign.code, scene=1058)
    paid_order(400, code=unsent.campaign.code, scene=1058)  # an article no push carried out
    paid_order(500, code="poster-0412", scene=1047)
    paid_order(60, code="", scene=1001)  # no code
    paid_order(7, code="printed-before-entered", scene=1047)  # a code that is not ours

    rows = _rows(_report(RevenueGrouping.PUSH))

    assert (rows[f"push:{push.pk}"].orders, rows[f"push:{push.pk}"].revenue_fen) == (3, 6000)
    assert (rows["other"].orders, rows["other"].revenue_fen) == (2, 900)
    assert (rows["unknown"].orders, rows["unknown"].revenue_fen) == (2, 67)
    assert (rows["total"].orders, rows["total"].buyers, rows["total"].revenue_fen) == (7, 7, 6967)
    assert set(rows) == {f"push:{push.pk}", "other", "unknown", "total"}


def test_orders_count_under_the_article_whose_card_they_came_from(funnel):
    push, (first, second, unsent) = funnel["push"], funnel["articles"]
    paid_order(2000, code=first.campaign.code)
    paid_order(3000, code=second.campaign.code)
    paid_order(400, code=unsent.campaign.code)
    paid_order(1000, code=push.campaign.code)  # the push's own code: no article's

    rows = _rows(_report(RevenueGrouping.ARTICLE))

    assert rows[f"article:{first.pk}"].revenue_fen == 2000
    assert rows[f"article:{second.pk}"].revenue_fen == 3000
    assert rows[f"article:{unsent.pk}"].revenue_fen == 400
    assert (rows["other"].orders, rows["other"].revenue_fen) == (1, 1000)
    assert rows["unknown"].orders == 0
    assert rows["total"].revenue_fen == 6400


def test_every_campaign_has_its_own_row_by_its_code_and_unknown_codes_are_counted_apart(funnel):
    push, (first, _, _) = funnel["push"], funnel["articles"]
    paid_order(1000, code=push.campaign.code)
    paid_order(2000, code=first.campaign.code)
    paid_order(500, code="poster-0412")
    paid_order(7, code="printed-before-entered")
    paid_order(60)

    report = _report(RevenueGrouping.CAMPAIGN)
    rows = _rows(report)

    assert [row.key for row in report.sources] == [
        f"campaign:{first.campaign.code}",
        f"campaign:{push.campaign.code}",
        "campaign:poster-0412",
    ]  # highest revenue first
    assert rows["campaign:poster-0412"].label == "Spring poster (poster-0412)"
    assert (rows["unknown"].orders, rows["unknown"].revenue_fen) == (2, 67)
    assert report.other is None
    assert sum(row.revenue_fen for row in report.sources) + rows["unknown"].revenue_fen == rows["total"].revenue_fen


def test_by_scene_each_launch_scene_has_a_row_and_orders_without_one_are_unknown():
    paid_order(1000, code="", scene=1058)
    paid_order(2000, code="", scene=1058)
    paid_order(500, code="", scene=1047)
    paid_order(60, code="", scene=None)

    rows = _rows(_report(RevenueGrouping.SCENE))

    assert (rows["scene:1058"].orders, rows["scene:1058"].revenue_fen) == (2, 3000)
    assert rows["scene:1058"].label == "1058 Official Account article"
    assert rows["scene:1047"].revenue_fen == 500
    assert (rows["unknown"].orders, rows["unknown"].revenue_fen) == (1, 60)
    assert rows["total"].orders == 4


def test_revenue_is_net_of_succeeded_refunds_only(funnel):
    payment = paid_order(10000, code="poster-0412")
    refund(payment, 1500)
    refund(payment, 2000, status=RefundStatus.FAILED)  # gave nothing back
    refund(payment, 3000, status=RefundStatus.PROCESSING)  # not yet given back

    rows = _rows(_report(RevenueGrouping.CAMPAIGN))

    assert rows["campaign:poster-0412"].revenue_fen == 8500
    assert rows["total"].revenue_fen == 8500


def test_a_partial_refund_lowers_the_revenue_by_exactly_its_amount(funnel):
    push, (first, _, _) = funnel["push"], funnel["articles"]
    payment = paid_order(3990, code=first.campaign.code)
    paid_order(1000, code=first.campaign.code)
    before = {grouping: _rows(_report(grouping)) for grouping in RevenueGrouping}

    refund(payment, 1234)

    after = {grouping: _rows(_report(grouping)) for grouping in RevenueGrouping}
    for key in (f"push:{push.pk}", "total"):
        assert before["push"][key].revenue_fen - after["push"][key].revenue_fen == 1234
    assert (
        before["article"][f"article:{first.pk}"].revenue_fen - after["article"][f"article:{first.pk}"].revenue_fen
        == 1234
    )
    campaign_key = f"campaign:{first.campaign.code}"
    assert before["campaign"][campaign_key].revenue_fen - after["campaign"][campaign_key].revenue_fen == 1234
    assert after["campaign"][campaign_key].orders == 2  # a partly refunded order is still an order


def test_buyers_are_distinct_customers_within_a_row_and_across_the_total(funnel):
    push, (first, second, _) = funnel["push"], funnel["articles"]
    regular = CustomerFactory()
    paid_order(100, customer=regular, code=push.campaign.code)
    paid_order(200, customer=regular, code=first.campaign.code)
    paid_order(300, customer=regular, code=second.campaign.code)
    paid_order(400, customer=regular, code="poster-0412")
    paid_order(500, code="poster-0412")

    by_push = _rows(_report(RevenueGrouping.PUSH))
    by_campaign = _rows(_report(RevenueGrouping.CAMPAIGN))

    assert (by_push[f"push:{push.pk}"].orders, by_push[f"push:{push.pk}"].buyers) == (3, 1)
    assert (by_campaign["campaign:poster-0412"].orders, by_campaign["campaign:poster-0412"].buyers) == (2, 2)
    assert (by_push["total"].orders, by_push["total"].buyers) == (5, 2)


def test_the_range_is_beijing_calendar_days():
    inside_first = datetime(2026, 11, 1, 0, 0, tzinfo=BEIJING)  # 16:00 UTC on 31 October
    inside_last = datetime(2026, 11, 30, 23, 59, 59, tzinfo=BEIJING)
    before = datetime(2026, 10, 31, 23, 59, 59, tzinfo=BEIJING)  # still 31 October in Beijing
    after = datetime(2026, 12, 1, 0, 0, tzinfo=BEIJING)  # 30 November in UTC, 1 December here
    for fen, at in ((1, inside_first), (10, inside_last), (100, before), (1000, after)):
        paid_order(fen, scene=1058, at=at)

    assert _rows(_report(RevenueGrouping.SCENE))["total"].revenue_fen == 11
    assert _rows(_report(RevenueGrouping.SCENE, last_day=date(2026, 12, 1)))["total"].revenue_fen == 1011


def test_unpaid_orders_count_nowhere():
    customer = CustomerFactory()
    address = AddressFactory(customer=customer)
    order_create(customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory(stock=5).pk, "quantity": 1}])

    assert _rows(_report(RevenueGrouping.CAMPAIGN))["total"].orders == 0


def test_visitors_are_customers_whose_first_campaign_is_the_rows_and_who_came_in_the_range(funnel):
    push, (first, _, _) = funnel["push"], funnel["articles"]
    buyer = visitor(first.campaign.code)
    visitor(first.campaign.code)
    visitor(first.campaign.code, at=datetime(2026, 10, 31, 23, 0, tzinfo=BEIJING))  # came before the range
    visitor(push.campaign.code, scene=1035)
    visitor("poster-0412", scene=1047)
    visitor("printed-before-entered", scene=1047)
    paid_order(990, customer=buyer, code=first.campaign.code)

    by_article = _rows(_report(RevenueGrouping.ARTICLE))
    by_push = _rows(_report(RevenueGrouping.PUSH))
    by_campaign = _rows(_report(RevenueGrouping.CAMPAIGN))
    by_scene = _rows(_report(RevenueGrouping.SCENE))

    assert by_article[f"article:{first.pk}"].visitors == 2
    assert str(by_article[f"article:{first.pk}"].conversion) == "0.5000"
    assert by_push[f"push:{push.pk}"].visitors == 3  # the push's own and its articles'
    assert by_push["other"].visitors == 1  # the poster
    assert by_push["unknown"].visitors == 1  # a code not ours
    assert by_campaign["campaign:poster-0412"].visitors == 1
    assert by_campaign["campaign:poster-0412"].conversion is None or by_campaign["campaign:poster-0412"].buyers == 0
    assert (by_scene["scene:1058"].visitors, by_scene["scene:1047"].visitors, by_scene["scene:1035"].visitors) == (
        2,
        2,
        1,
    )
    assert by_campaign["total"].visitors == 5


def test_readers_come_from_wechats_daily_statistics_of_the_pushs_articles(funnel):
    account, push, (first, second, _) = funnel["account"], funnel["push"], funnel["articles"]
    for day, index, readers in ((date(2026, 11, 10), 1, 300), (date(2026, 11, 11), 1, 50), (date(2026, 11, 10), 2, 20)):
        ArticleDailyStatistics.objects.create(
            account=account,
            day=day,
            msgid=f"2247483651_{index}",
            msg_data_id="2247483651",
            article_index=index,
            int_page_read_user=readers,
        )
    ArticleDailyStatistics.objects.create(  # the day after the range
        account=account, day=date(2026, 12, 1), msgid="2247483651_1", msg_data_id="2247483651", article_index=1
    )
    ArticleDailyStatistics.objects.create(  # a send from WeChat's console: no push of ours
        account=account, day=date(2026, 11, 10), msgid="999_1", msg_data_id="999", article_index=1, int_page_read_user=9
    )
    paid_order(100, code="poster-0412", scene=1047)

    by_push = _rows(_report(RevenueGrouping.PUSH))
    by_article = _rows(_report(RevenueGrouping.ARTICLE))
    by_campaign = _rows(_report(RevenueGrouping.CAMPAIGN))
    by_scene = _rows(_report(RevenueGrouping.SCENE))

    assert by_push[f"push:{push.pk}"].readers == 370
    assert (by_article[f"article:{first.pk}"].readers, by_article[f"article:{second.pk}"].readers) == (350, 20)
    assert by_campaign[f"campaign:{push.campaign.code}"].readers == 370
    assert by_campaign[f"campaign:{first.campaign.code}"].readers == 350
    assert by_campaign["campaign:poster-0412"].readers is None  # a poster has no readers
    assert by_scene["scene:1047"].readers is None
    assert by_push["total"].readers == 370


@pytest.mark.parametrize("grouping", list(RevenueGrouping))
def test_the_query_count_does_not_grow_with_orders_or_sources(funnel, grouping, django_assert_max_num_queries):
    def more(count: int):
        for number in range(count):
            poster = campaign_create(name=f"Poster {number}", channel=Campaign.Channel.POSTER)
            paid_order(100 + number, code=poster.code, scene=1047)
            visitor(poster.code, scene=1047)
        for article in funnel["articles"]:
            paid_order(50, code=article.campaign.code, scene=1058)

    more(2)
    with django_assert_max_num_queries(10) as few:
        _report(grouping)
    more(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        report = _report(grouping)
    assert report.total.orders == 16


def test_the_default_range_works_with_todays_orders():
    today = timezone.now().astimezone(BEIJING).date()
    paid_order(100, scene=1058, at=timezone.now())

    assert _report(RevenueGrouping.SCENE, first_day=today - timedelta(days=29), last_day=today).total.orders == 1


def test_an_article_sent_in_several_pushes_counts_under_the_first_that_went_out(funnel):
    account, push, (first, _, unsent) = funnel["account"], funnel["push"], funnel["articles"]
    later = PushFactory(account=account, status=PushStatus.SENT, sent_at=push.sent_at + timedelta(days=1))
    later.push_articles.create(article=first, position=1)
    later.push_articles.create(article=unsent, position=2)  # went out only with the later push
    never_sent = PushFactory(account=account, status=PushStatus.DRAFT, sent_at=None)
    never_sent.push_articles.create(article=first, position=1)
    paid_order(2000, code=first.campaign.code)
    paid_order(400, code=unsent.campaign.code)

    rows = _rows(_report(RevenueGrouping.PUSH))

    assert (rows[f"push:{push.pk}"].orders, rows[f"push:{push.pk}"].revenue_fen) == (1, 2000)
    assert (rows[f"push:{later.pk}"].orders, rows[f"push:{later.pk}"].revenue_fen) == (1, 400)
    assert f"push:{never_sent.pk}" not in rows
    assert rows["other"].orders == 0


def test_a_sources_refunds_and_buyers_add_up_with_its_orders_in_every_grouping(funnel):
    first = funnel["articles"][0]
    regular = CustomerFactory()
    refund(paid_order(1000, customer=regular, code=first.campaign.code, scene=1058), 300)
    refund(paid_order(2000, customer=regular, code=first.campaign.code, scene=1058), 500)
    paid_order(4000, code=first.campaign.code, scene=1058)
    refund(paid_order(80, code="", scene=None), 30)  # unknown in every grouping

    for grouping, key in (
        (RevenueGrouping.PUSH, f"push:{funnel['push'].pk}"),
        (RevenueGrouping.ARTICLE, f"article:{first.pk}"),
        (RevenueGrouping.CAMPAIGN, f"campaign:{first.campaign.code}"),
        (RevenueGrouping.SCENE, "scene:1058"),
    ):
        rows = _rows(_report(grouping))
        assert (rows[key].orders, rows[key].buyers, rows[key].revenue_fen) == (3, 2, 6200), grouping
        assert (rows["unknown"].orders, rows["unknown"].buyers, rows["unknown"].revenue_fen) == (1, 1, 50), grouping
        assert (rows["total"].orders, rows["total"].buyers, rows["total"].revenue_fen) == (4, 3, 6250), grouping
