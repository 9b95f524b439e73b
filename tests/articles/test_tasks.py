"""The mass_send queue's tasks: beat's claim, the send task in a real worker, retries, and a worker killed mid-send."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from articles.models import Push, PushAudience, PushBatch, PushMode, PushStatus
from articles.services.dispatch import pushes_due_claim, pushes_stalled_claim
from articles.tasks import dispatch_pushes, send_push
from config import celery_app
from tests import real_services
from tests.articles.pushes import account_registered, push_created, stored_image, wait_for

SENDALL = "/cgi-bin/message/mass/sendall"


@pytest.mark.django_db
def test_beat_dispatches_pushes_every_minute_on_the_mass_send_queue():
    task = PeriodicTask.objects.get(name="Send due pushes")
    assert task.task == "articles.tasks.dispatch_pushes"
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)
    for name in ("articles.tasks.dispatch_pushes", "articles.tasks.send_push", "articles.tasks.check_publication"):
        assert celery_app.amqp.router.route({}, name)["queue"].name == settings.MASS_SEND_QUEUE


def test_the_demo_worker_consumes_the_mass_send_queue():
    procfile = (Path(settings.BASE_DIR) / "Procfile.demo").read_text()
    worker = next(line for line in procfile.splitlines() if line.startswith("worker:"))
    assert "mass_send" in worker.split("--queues ")[1].split()[0].split(",")


# --- beat's claim ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_due_scheduled_pushes_are_claimed_and_each_change_is_recorded(sandbox):
    account = account_registered(sandbox)
    due, later, draft = (push_created(account, status=status) for status in ("scheduled", "scheduled", "draft"))
    now = timezone.now()
    Push.objects.filter(pk=due.pk).update(scheduled_at=now - timedelta(seconds=1))
    Push.objects.filter(pk=later.pk).update(scheduled_at=now + timedelta(minutes=5))

    assert pushes_due_claim(now=now) == [due.pk]

    statuses = dict(Push.objects.values_list("pk", "status"))
    assert statuses == {due.pk: PushStatus.SENDING, later.pk: PushStatus.SCHEDULED, draft.pk: PushStatus.DRAFT}
    assert due.events.last().to_status == PushStatus.SENDING
    assert pushes_due_claim(now=now) == []  # claimed once


@pytest.mark.django_db(transaction=True)
def test_a_push_another_beat_run_holds_is_skipped_not_waited_for(sandbox):
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")  # SKIP LOCKED
    account = account_registered(sandbox)
    held, free = push_created(account, status="scheduled"), push_created(account, status="scheduled")
    Push.objects.update(scheduled_at=timezone.now() - timedelta(seconds=1))
    other = connections.create_connection("default")  # another beat process, mid-claim
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM articles_push WHERE id = %s FOR UPDATE", [held.pk])
            assert pushes_due_claim(now=timezone.now()) == [free.pk]
            cursor.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.django_db
def test_a_sending_push_whose_progress_stalled_is_resumed_and_a_finished_one_is_not(sandbox):
    account = account_registered(sandbox)
    now = timezone.now()
    stalled, recent, all_accepted, published = (push_created(account) for _ in range(4))
    PushBatch.objects.create(push=all_accepted, number=1, clientmsgid=f"t{all_accepted.pk}", msg_id="7")
    Push.objects.filter(pk=published.pk).update(mode=PushMode.PUBLISH_ONLY, publish_id="123")
    Push.objects.exclude(pk=recent.pk).update(send_progress_at=now - timedelta(minutes=20))
    Push.objects.filter(pk=recent.pk).update(send_progress_at=now - timedelta(minutes=1))

    assert pushes_stalled_claim(now=now, stalled_for=timedelta(minutes=15)) == [stalled.pk]
    assert pushes_stalled_claim(now=now, stalled_for=timedelta(minutes=15)) == []  # it has until the next lapse


# --- a real worker -----------------------------------------------------------------------------


def wait_until_accepted(push: Push, batches: int = 1, timeout: float = 60) -> list[PushBatch]:
    def accepted():
        found = list(PushBatch.objects.filter(push=push).exclude(msg_id="").order_by("number"))
        return found if len(found) == batches else None

    return wait_for(accepted, timeout=timeout, what=f"{batches} accepted batch(es) of push {push.pk}")


@pytest.mark.django_db(transaction=True)
def test_a_due_push_is_sent_by_the_worker_once_though_the_task_runs_twice(celery_worker, sandbox):
    account = account_registered(sandbox)
    push = push_created(account, status="scheduled")
    Push.objects.filter(pk=push.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    marker = push_created(account)  # sent after the two runs: the worker takes tasks in order
    Push.objects.filter(pk=marker.pk).update(send_progress_at=timezone.now())  # not stalled: beat leaves it

    dispatch_pushes()
    send_push.delay(push.pk)
    send_push.delay(marker.pk)

    wait_until_accepted(marker)
    [batch] = wait_until_accepted(push)
    sent = sandbox.mass_sends(account.appid)
    assert sent["per_clientmsgid"][batch.clientmsgid] == 1
    assert sent["count"] == 2
    assert len(sandbox.received("/cgi-bin/draft/add")) == 2  # one per push


@pytest.mark.django_db(transaction=True)
def test_wechat_busy_is_retried_by_the_worker_until_it_sends(celery_worker, sandbox):
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=-1, times=2)

    send_push.delay(push.pk)

    wait_until_accepted(push)
    assert [call["errcode"] for call in sandbox.received(SENDALL)] == [-1, -1, None]
    assert sandbox.mass_sends(account.appid)["count"] == 1


@pytest.mark.django_db
def test_wechat_busy_past_the_last_retry_fails_the_push_with_the_error(sandbox):
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=45009)

    send_push.apply(args=[push.pk], retries=settings.PUSH_SEND_MAX_RETRIES)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert push.failure_reason.startswith(f"batch 1: WeChat stayed unavailable after {settings.PUSH_SEND_MAX_RETRIES}")
    assert "45009" in push.failure_reason
    assert sandbox.mass_sends(account.appid)["count"] == 0


# --- a worker killed between two steps ------------------------------------------------------------


@contextmanager
def worker_process(queue: str, sandbox_url: str, **environment):
    """A `celery worker` of tests.articles.dying_worker on `queue`; stopped on exit unless it died."""
    log_path = Path(settings.VAR_DIR) / f"test-dying-worker-{uuid.uuid4().hex[:8]}.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "USE_TEST_DATABASE": "1",
        "WECHAT_API_BASE_URL": sandbox_url,
        **environment,
    }
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.articles.dying_worker", "worker", "--pool=solo"]
            + ["--loglevel=INFO", "--queues", queue, "--without-mingle", "--without-gossip", "--without-heartbeat"]
            + ["--hostname", f"dying-{uuid.uuid4().hex[:8]}@localhost"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "ready." in log_path.read_text() or worker.poll() is not None, timeout=60, what="the worker")
        assert worker.poll() is None, log_path.read_text()[-3000:]
        yield worker
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        log_path.unlink(missing_ok=True)


STEPS = ["inline_images", "covers", "draft", "batch:1:answered", "batch:1", "batch:2:answered", "batch:2"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", STEPS)
def test_a_worker_killed_after_any_step_is_resumed_and_sends_each_batch_once(
    step, sandbox, sandbox_server, live_server
):
    account = account_registered(sandbox, callback_base_url=live_server.url)
    followers = sandbox.add_followers(account.appid, count=6_000)["openids"]
    openids = [*followers, *(f"o-not-following-{number:011d}" for number in range(4_001))]  # two batches
    photo, chart = stored_image("photo.jpg"), stored_image("chart.png", fmt="PNG")
    contents = [f'<img src="{photo}"><img src="{chart}">', f'<img src="{photo}">']
    push = push_created(account, articles=2, contents=contents, audience=PushAudience.OPENIDS, openids=openids)
    queue = f"{settings.MASS_SEND_QUEUE}-dying-{uuid.uuid4().hex[:8]}"

    with worker_process(queue, sandbox_server.url, DIE_AFTER_STEP=step) as dying:
        send_push.apply_async(args=[push.pk], queue=queue)
        dying.wait(timeout=90)
    assert dying.returncode == -signal.SIGKILL

    # Beat finds the push stalled (no progress since the kill) unless nothing is left to send.
    resumed = pushes_stalled_claim(now=timezone.now() + timedelta(seconds=1), stalled_for=timedelta(0))
    assert resumed == ([] if step == "batch:2" else [push.pk])
    with worker_process(queue, sandbox_server.url):
        send_push.apply_async(args=[push.pk], queue=queue)  # as beat queues it (or a redelivery would)
        batches = wait_until_accepted(push, batches=2)
        push = wait_for(
            lambda: Push.objects.exclude(status=PushStatus.SENDING).filter(pk=push.pk).first(),
            timeout=60,
            what="both MASSSENDJOBFINISH events",
        )

    sent = sandbox.mass_sends(account.appid)
    assert sent["per_clientmsgid"] == {batch.clientmsgid: 1 for batch in batches}
    assert sent["count"] == 2
    assert {batch.msg_id for batch in batches} == {str(send["msg_id"]) for send in sent["sends"]}
    assert len(sandbox.received("/cgi-bin/media/uploadimg")) == 2
    assert len(sandbox.received("/cgi-bin/draft/add")) == 1
    assert push.status == PushStatus.SENT
    assert sum(batch.sent_count for batch in push.batches.all()) == 6_000


@pytest.mark.django_db(transaction=True)
def test_45066_makes_the_worker_wait_a_minute_before_retrying(celery_worker, sandbox):
    """群发接口和原创校验: 45066 "same clientmsgid retry too fast" — WeChat asks for a minute's wait.

    The retry's ETA is read from the worker (it holds the retry until then); nobody sleeps a minute.
    """
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=45066, errmsg="same clientmsgid retry too fast", times=1)
    before = time.time()

    send_push.delay(push.pk)

    def retry_held() -> list[dict]:
        replies = celery_app.control.inspect(destination=[celery_worker.node_name], timeout=1).scheduled() or {}
        return [
            entry for entries in replies.values() for entry in entries if entry["request"]["name"] == send_push.name
        ]

    [retry] = wait_for(retry_held, timeout=30, what="the worker to hold the send's retry")
    assert datetime.fromisoformat(retry["eta"]).timestamp() - before >= 60
    assert [call["errcode"] for call in sandbox.received(SENDALL)] == [45066]
    push.refresh_from_db()
    assert push.status == PushStatus.SENDING and not push.batches.exclude(msg_id="").exists()
