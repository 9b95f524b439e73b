"""Reconciliation in the admin: Operations read runs and their discrepancies, reconcile a date, resolve with a note."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from config.celery import app as celery_app
from orders.models import Discrepancy, DiscrepancyKind, Payment, ReconciliationRun, ReconciliationTrigger
from orders.services.reconciliation import beijing_today, reconciliation_run_from_lines
from tests.orders.reconciliation_helpers import sample_day_record, sample_lines, sandbox_now

pytestmark = pytest.mark.django_db


def _member(client, django_user_model, group: str):
    user = django_user_model.objects.create_user(username=group.lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def operator(client, django_user_model):
    return _member(client, django_user_model, "Operations")


@pytest.fixture
def reconciled_with_problems(wechat_sample):
    """The sample bill against our payments of that day, two of them not as WeChat has them."""
    sample_day_record()
    Payment.objects.filter(out_trade_no="20261122091458000001").update(amount_fen=3900)
    Payment.objects.filter(out_trade_no="20261122200501000003").update(status="closed")
    return reconciliation_run_from_lines(
        bill_date=date(2026, 11, 22), lines=sample_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )


def test_operations_read_a_run_with_its_discrepancies_inline_and_change_nothing(
    client, operator, reconciled_with_problems
):
    run = reconciled_with_problems

    listing = client.get(reverse("admin:orders_reconciliationrun_changelist"))
    page = client.get(reverse("admin:orders_reconciliationrun_change", args=[run.pk]))

    assert listing.status_code == 200 and "Reconcile a date" in listing.content.decode()
    text = page.content.decode()
    assert page.status_code == 200
    assert "20261122091458000001" in text and "¥39.90" in text and "¥39.00" in text  # the amount mismatch inline
    assert "20261122200501000003" in text
    assert "¥177.80 / ¥177.80" in text  # WeChat's settled total beside the rows' sum
    assert 'name="_save"' not in text
    assert client.post(reverse("admin:orders_reconciliationrun_change", args=[run.pk]), {}).status_code == 403
    assert client.get(reverse("admin:orders_reconciliationrun_add")).status_code == 403


def test_discrepancies_filter_by_status_and_kind(client, operator, reconciled_with_problems):
    changelist = reverse("admin:orders_discrepancy_changelist")

    amounts = client.get(changelist, {"kind__exact": DiscrepancyKind.AMOUNT_MISMATCH}).content.decode()
    resolved = client.get(changelist, {"status__exact": "resolved"}).content.decode()
    open_ones = client.get(changelist, {"status__exact": "open"}).content.decode()

    assert "20261122091458000001" in amounts and "20261122200501000003" not in amounts
    assert "20261122091458000001" in open_ones and "20261122200501000003" in open_ones
    assert "20261122091458000001" not in resolved


def test_resolving_asks_for_a_note_then_records_who_and_why(client, operator, reconciled_with_problems):
    changelist = reverse("admin:orders_discrepancy_changelist")
    amount = Discrepancy.objects.get(kind=DiscrepancyKind.AMOUNT_MISMATCH)
    selected = {"action": "resolve", "_selected_action": [amount.pk]}

    asked = client.post(changelist, selected)
    empty_note = client.post(changelist, {**selected, "note": "  "})
    done = client.post(changelist, {**selected, "note": "Customer paid the 0.90 difference in the shop."})

    assert asked.status_code == 200 and "How it was settled" in asked.content.decode()
    assert empty_note.status_code == 200 and "This field is required." in empty_note.content.decode()
    assert done.status_code == 302
    amount.refresh_from_db()
    assert (amount.status, amount.resolved_by, amount.resolution_note) == (
        "resolved",
        operator,
        "Customer paid the 0.90 difference in the shop.",
    )
    assert amount.resolved_at is not None
    assert Discrepancy.objects.filter(status="open").count() == 1


def test_resolving_again_leaves_a_resolved_discrepancy_as_it_was(client, operator, reconciled_with_problems):
    changelist = reverse("admin:orders_discrepancy_changelist")
    ids = list(Discrepancy.objects.values_list("pk", flat=True))
    client.post(changelist, {"action": "resolve", "_selected_action": ids[:1], "note": "First."})

    response = client.post(changelist, {"action": "resolve", "_selected_action": ids, "note": "Second."})

    notes = dict(Discrepancy.objects.values_list("pk", "resolution_note"))
    assert notes == {ids[0]: "First.", ids[1]: "Second."}
    assert [str(message) for message in get_messages(response.wsgi_request)][-2:] == [
        "1 discrepancies resolved.",
        "1 were resolved already and stay as they were.",
    ]


@pytest.fixture
def tasks_run_eagerly():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_reconciling_a_date_from_the_admin(
    client, operator, sandbox, tasks_run_eagerly, django_capture_on_commit_callbacks
):
    url = reverse("admin:orders_reconciliationrun_reconcile")
    quiet_day = sandbox_now(sandbox).date() - timedelta(days=2)

    form = client.get(url)
    future = client.post(url, {"bill_date": (beijing_today() + timedelta(days=1)).isoformat()})
    gone = client.post(url, {"bill_date": (beijing_today() - timedelta(days=200)).isoformat()})
    nonsense = client.post(url, {"bill_date": "yesterday"})
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(url, {"bill_date": quiet_day.isoformat()})

    assert form.status_code == 200
    assert future.status_code == 200 and "has not happened yet" in future.content.decode()
    assert gone.status_code == 200 and "three months" in gone.content.decode()
    assert nonsense.status_code == 200 and "Enter a valid date." in nonsense.content.decode()
    assert queued.status_code == 302
    [run] = ReconciliationRun.objects.all()  # only the valid date made a run
    assert (run.bill_date, run.triggered_by, run.staff_user, run.status) == (
        quiet_day,
        ReconciliationTrigger.ADMIN,
        operator,
        "succeeded",
    )
    assert not run.bill_found  # a day without trades: WeChat has no bill


def test_marketing_cannot_see_runs_reconcile_or_resolve(client, django_user_model, reconciled_with_problems):
    _member(client, django_user_model, "Marketing")
    amount = Discrepancy.objects.get(kind=DiscrepancyKind.AMOUNT_MISMATCH)

    assert client.get(reverse("admin:orders_reconciliationrun_changelist")).status_code == 403
    assert client.get(reverse("admin:orders_reconciliationrun_reconcile")).status_code == 403
    changelist = reverse("admin:orders_discrepancy_changelist")
    refused = client.post(changelist, {"action": "resolve", "_selected_action": [amount.pk], "note": "Nope."})
    assert refused.status_code == 403
    amount.refresh_from_db()
    assert amount.status == "open"


def test_the_discrepancy_list_runs_in_bounded_queries(
    client, operator, reconciled_with_problems, django_assert_max_num_queries
):
    for number in range(30):
        Discrepancy.objects.create(
            run=reconciled_with_problems,
            last_seen_run=reconciled_with_problems,
            bill_date=reconciled_with_problems.bill_date,
            kind=DiscrepancyKind.MISSING_LOCALLY,
            problem_key=f"missing_locally:EXTRA{number}:",
            out_trade_no=f"EXTRA{number}",
            detail="WeChat took ¥1.00 for it.",
        )

    with django_assert_max_num_queries(12):
        response = client.get(reverse("admin:orders_discrepancy_changelist"))

    assert response.status_code == 200 and "EXTRA29" in response.content.decode()


def test_reconcile_a_date_offers_yesterday_in_beijing(client, operator):
    form = client.get(reverse("admin:orders_reconciliationrun_reconcile")).context["form"]

    assert form["bill_date"].value() == beijing_today() - timedelta(days=1)
    assert f'value="{(beijing_today() - timedelta(days=1)).isoformat()}"' in str(form["bill_date"])


def test_a_date_asked_for_shows_its_run_at_once_before_any_worker_takes_it(
    client, operator, sandbox, django_capture_on_commit_callbacks
):
    url = reverse("admin:orders_reconciliationrun_reconcile")
    day = sandbox_now(sandbox).date() - timedelta(days=2)

    # No worker and no eager tasks: the queued message waits, as on a busy reconciliation queue.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(url, {"bill_date": day.isoformat()}, follow=True)
        again = client.post(url, {"bill_date": day.isoformat()})

    [run] = ReconciliationRun.objects.all()
    assert (run.bill_date, run.status, run.staff_user) == (day, "running", operator)
    assert response.context["cl"].result_count == 1  # the list shows it, not "0 runs"
    assert "being reconciled now" in again.content.decode()
    [callback] = queued
    celery_app.conf.task_always_eager = True
    try:
        callback()
    finally:
        celery_app.conf.task_always_eager = False
    run.refresh_from_db()
    assert run.status == "succeeded" and ReconciliationRun.objects.count() == 1  # the same row carried out
