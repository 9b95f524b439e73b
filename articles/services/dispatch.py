"""Which pushes beat hands to the send task: due scheduled ones, and sending ones whose progress stalled."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from articles.models import Push, PushBatch, PushMode, PushStatus
from articles.services.push_status import push_status_set

CLAIM_LIMIT = 100


@transaction.atomic
def pushes_due_claim(*, now: datetime, limit: int = CLAIM_LIMIT) -> list[int]:
    """Move scheduled pushes due by `now` to sending; rows another beat run holds are skipped, not waited for."""
    due = list(
        Push.objects.select_for_update(skip_locked=True)
        .filter(status=PushStatus.SCHEDULED, scheduled_at__lte=now)
        .order_by("scheduled_at", "pk")[:limit]
    )
    for push in due:
        # A push staff retried (failed → scheduled) starts a new attempt: its failed batches
        # and publication are history (the failure is in its events), not work to resume.
        PushBatch.objects.filter(push=push).delete()
        push_status_set(
            push=push, to_status=PushStatus.SENDING, extra_fields={"send_progress_at": now, "publish_id": ""}
        )
    return [push.pk for push in due]


@transaction.atomic
def pushes_stalled_claim(*, now: datetime, stalled_for: timedelta, limit: int = CLAIM_LIMIT) -> list[int]:
    """Sending pushes with a step still to do and no progress for `stalled_for`: their worker died.

    Safe to send again because every step skips what is stored and WeChat refuses a
    batch's clientmsgid twice. Marks them as progressing now, so the next run leaves them
    to the task for another `stalled_for`.
    """
    unsent_batch = PushBatch.objects.filter(push=OuterRef("pk"), msg_id="", finished_at__isnull=True)
    any_batch = PushBatch.objects.filter(push=OuterRef("pk"))
    work_left = Q(mode=PushMode.PUBLISH_ONLY, publish_id="") | Q(
        Q(mode=PushMode.MASS_SEND) & (Exists(unsent_batch) | ~Exists(any_batch))
    )
    stalled = list(
        Push.objects.select_for_update(skip_locked=True)
        .filter(work_left, status=PushStatus.SENDING)
        .filter(Q(send_progress_at__lt=now - stalled_for) | Q(send_progress_at__isnull=True))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    Push.objects.filter(pk__in=stalled).update(send_progress_at=now)
    return stalled


def publications_unconfirmed(*, now: datetime, waited: timedelta, limit: int = CLAIM_LIMIT) -> list[int]:
    """Publish-only pushes submitted `waited` ago whose PUBLISHJOBFINISH has not come: to ask freepublish/get."""
    return list(
        Push.objects.filter(
            status=PushStatus.SENDING,
            mode=PushMode.PUBLISH_ONLY,
            send_progress_at__lt=now - waited,
        )
        .exclude(publish_id="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def mass_send_results_unconfirmed(*, now: datetime, waited: timedelta, limit: int = CLAIM_LIMIT) -> list[int]:
    """Sending pushes with a batch accepted `waited` ago and no MASSSENDJOBFINISH yet: to ask message/mass/get."""
    late = PushBatch.objects.filter(
        push=OuterRef("pk"), finished_at__isnull=True, accepted_at__lt=now - waited
    ).exclude(msg_id="")
    return list(
        Push.objects.filter(Exists(late), status=PushStatus.SENDING, mode=PushMode.MASS_SEND)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
