"""The one way a status changes: transitions as data, the row locked, the move checked, saved, and audited.

Each model with a status declares a `StatusMachine` beside its status service, with its allowed
transitions; nothing changes that status but the machine (services that claim rows in batches,
like order expiry, lock them through it too). Every change appends a row to the model's event
table, a `StatusEvent`: the subject, `from_status`, `to_status`, `actor`, `staff_user`, `reason` and `at`.

This module lives in `config`, the lowest layer, so every app may build on it: it imports no app.
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, models, transaction
from django.db.models import sql
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class StatusActor(models.TextChoices):
    """Who or what made a change; a machine may allow a transition to some of them only."""

    CUSTOMER = "customer", _("customer")
    STAFF = "staff", _("staff")
    SYSTEM = "system", _("system (scheduled task)")
    PAYMENT = "payment", _("payment service")


class StatusEvent(models.Model):
    """One status change, appended by the machine and never edited; each model's event table extends this.

    A subclass adds `subject_field` (its foreign key to the row whose status changed, `related_name="events"`)
    and `from_status` / `to_status` with that row's choices.
    """

    subject_field: str

    actor = models.CharField(max_length=16, choices=StatusActor.choices, verbose_name=_("actor"))
    # Nobody reads a user's events from the user: no reverse accessor.
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff user"),
    )
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("reason"))
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("at"))

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{getattr(self, f'{self.subject_field}_id')}: {self.from_status or '—'} → {self.to_status}"


class StatusTransitionNotAllowed(ApplicationError):
    """A move the machine's table does not allow (for that actor); apps subclass it for their own code and words."""

    status_code = 409
    code = "status_transition_not_allowed"
    # Formatted with from_status, to_status and actor, as staff read them (the choices' labels).
    message_template = _("A {from_status} row cannot become {to_status}.")

    def __init__(
        self,
        *,
        from_status: str,
        to_status: str,
        actor: str = "",
        message: str | None = None,
        status_labels: dict | None = None,
    ):
        self.from_status = from_status
        self.to_status = to_status
        self.actor = actor
        labels = status_labels or {}
        super().__init__(
            message
            or self.message_template.format(
                from_status=labels.get(from_status, from_status),
                to_status=labels.get(to_status, to_status),
                actor=dict(StatusActor.choices).get(actor, actor),
            )
        )


# (from, to) pairs that any actor may make, or (from, to) -> the actors who may make it.
TransitionTable = Collection[tuple[str, str]] | Mapping[tuple[str, str], Collection[str]]
# The fields a status sets as a row enters it (a timestamp, a failure reason), from the new status and the reason.
EntryFields = Callable[[str, str], dict[str, Any]]


class StatusMachine:
    """One model's status: `change` a locked row (or `change_many`), or `transition` one by id in a line.

    `refused` is the app's StatusTransitionNotAllowed subclass, raised with from/to/actor.
    """

    def __init__(
        self,
        *,
        model: type[models.Model],
        event_model: type[StatusEvent],
        transitions: TransitionTable,
        refused: type[StatusTransitionNotAllowed],
        entry_fields: EntryFields | None = None,
    ):
        self.model = model
        self.event_model = event_model
        self.refused = refused
        self.entry_fields = entry_fields or (lambda to_status, reason: {})
        # None: any actor may make the move.
        self._actors: dict[tuple[str, str], frozenset[str] | None] = (
            {move: frozenset(actors) for move, actors in transitions.items()}
            if isinstance(transitions, Mapping)
            else dict.fromkeys(transitions)
        )

    def allows(self, *, from_status: str, to_status: str, actor: str) -> bool:
        if (from_status, to_status) not in self._actors:
            return False
        actors = self._actors[(from_status, to_status)]
        return actors is None or actor in actors

    def check(self, row: models.Model, *, to_status: str, actor: str) -> None:
        if not self.allows(from_status=row.status, to_status=to_status, actor=actor):
            labels = dict(row._meta.get_field("status").flatchoices)
            raise self.refused(from_status=row.status, to_status=to_status, actor=actor, status_labels=labels)

    def lock(self, pk: int) -> models.Model:
        """The row by id, locked until the caller's transaction ends."""
        _require_transaction()
        return self.model.objects.select_for_update().get(pk=pk)

    def lock_many(self, queryset: models.QuerySet, *, skip_locked: bool = False) -> list[models.Model]:
        """The queryset's rows, locked; `skip_locked` leaves out rows another transaction holds, not waiting."""
        _require_transaction()
        return list(queryset.select_for_update(skip_locked=skip_locked))

    @transaction.atomic
    def transition(
        self,
        *,
        pk: int,
        to_status: str,
        actor: str,
        reason: str = "",
        staff_user: AbstractBaseUser | None = None,
        fields: dict[str, Any] | None = None,
    ) -> models.Model:
        """Lock the row `pk` and change it (see `change`); returns the changed row."""
        row = self.lock(pk)
        self.change(row, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user, fields=fields)
        return row

    def change(
        self,
        row: models.Model,
        *,
        to_status: str,
        actor: str,
        reason: str = "",
        staff_user: AbstractBaseUser | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Move a row this transaction has locked (or created) to `to_status`, with `fields` set alongside.

        Raises the machine's `refused` error, changing nothing, when the table does not allow it.
        """
        _require_transaction()
        self.check(row, to_status=to_status, actor=actor)
        from_status = row.status
        # The status goes last: nothing a caller passes alongside can set one the table did not check.
        changes = {**self.entry_fields(to_status, reason), **(fields or {}), "status": to_status}
        for name, value in changes.items():
            setattr(row, name, value)
        event = self._event(
            row, from_status=from_status, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user
        )
        if transaction.get_connection().vendor == "postgresql":
            _saved_with_event(row, fields=list(changes), event=event)
        else:
            row.save(update_fields=list(changes))
            event.save()

    def change_many(
        self,
        rows: Iterable[models.Model],
        *,
        to_status: str,
        actor: str,
        reason: str = "",
        staff_user: AbstractBaseUser | None = None,
    ) -> None:
        """`change` for many rows this transaction has locked (`lock_many`), in one update and one insert.

        Every row is checked before any changes: one refused move refuses them all.
        """
        _require_transaction()
        rows = list(rows)
        for row in rows:
            self.check(row, to_status=to_status, actor=actor)
        if not rows:
            return
        changes = {"status": to_status, **self.entry_fields(to_status, reason)}
        events = [
            self._event(
                row, from_status=row.status, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user
            )
            for row in rows
        ]
        self.model.objects.filter(pk__in=[row.pk for row in rows]).update(**changes)
        for row in rows:
            for name, value in changes.items():
                setattr(row, name, value)
        self.event_model.objects.bulk_create(events)

    def record_creation(
        self, row: models.Model, *, actor: str, reason: str = "", staff_user: AbstractBaseUser | None = None
    ) -> StatusEvent:
        """The first event of a row just created in its initial status (from no status), saved and returned."""
        _require_transaction()
        event = self._event(
            row, from_status="", to_status=row.status, actor=actor, reason=reason, staff_user=staff_user
        )
        event.save()
        return event

    def _event(
        self,
        row: models.Model,
        *,
        from_status: str,
        to_status: str,
        actor: str,
        reason: str,
        staff_user: AbstractBaseUser | None,
    ) -> models.Model:
        reason_length = self.event_model._meta.get_field("reason").max_length
        return self.event_model(
            **{self.event_model.subject_field: row},
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            staff_user=staff_user,
            reason=reason[:reason_length],
        )


def _saved_with_event(row: models.Model, *, fields: list[str], event: models.Model) -> None:
    """`row.save(update_fields=fields)` and `event.save()` in one statement, one round trip (PostgreSQL).

    The update runs in a data-modifying WITH, the event's INSERT beside it; like save(), a row the
    update did not find raises DatabaseError (the caller's transaction then rolls the event back).
    Nothing in the project listens to these models' save signals, which this does not send.
    """
    connection = transaction.get_connection()
    update = sql.UpdateQuery(row.__class__)
    update.add_update_values(
        {row._meta.get_field(name).name: row._meta.get_field(name).pre_save(row, False) for name in fields}
    )
    update.add_filter("pk", row.pk)
    update_sql, update_params = update.get_compiler(connection=connection).as_sql()
    meta = event._meta
    insert = sql.InsertQuery(event.__class__)
    insert.insert_values([field for field in meta.local_concrete_fields if field is not meta.pk], [event])
    compiler = insert.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    [(insert_sql, insert_params)] = compiler.as_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS ({update_sql} RETURNING 1) {insert_sql}, (SELECT count(*) FROM changed)",
            [*update_params, *insert_params],
        )
        event_id, changed = cursor.fetchone()
    if not changed:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    event.pk = event_id
    event._state.adding = False
    event._state.db = connection.alias


def _require_transaction() -> None:
    # A lock taken outside a transaction is released at once, and a change outside one could be
    # saved without its event: both are bugs in the caller, so they fail loudly.
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("status changes need the caller's transaction (transaction.atomic)")
