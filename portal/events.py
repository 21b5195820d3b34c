"""Typed events: what the core did, told to the plugins that subscribe once it is committed.

An event is a frozen data class of ids and small facts (never medical text: a subscriber that
needs the entry reads it through the facade, audited). ``publish(event)`` in the transaction that
does the thing keeps it in the session; SQLAlchemy's session events then decide its fate: after
the commit it is dispatched, after a rollback (of the transaction, or of the savepoint it was
published in) it is dropped, so a subscriber never hears of what did not happen.

Dispatching puts one job per subscriber on the task queue (``portal.tasks``): a handler runs in the
worker, never in the request, so a slow or failing one cannot change the page the user gets nor
stop the other subscribers; a failure is logged and retried with a growing delay. Subscribers come
from the ``event_handlers`` hook, read and checked at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from portal import tasks

log = logging.getLogger(__name__)

EXTENSION = "portal.events"
PENDING = "portal.events_pending"
HANDLE_TASK = "events.handle"
HANDLER_RETRIES = 5
HANDLER_RETRY_DELAY = 10  # seconds before the first retry; each next one waits twice as long


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _moment(value: datetime) -> str:
    """A stored moment as ISO 8601 in UTC (SQLite gives it back naive, in UTC)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Event:
    """What happened, as ids and small facts; ``occurred_at`` is an ISO 8601 moment in UTC."""

    occurred_at: str = field(default_factory=_now, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **asdict(self)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Event:
        values = dict(data)
        kind = EVENT_TYPES[values.pop("type")]
        names = {f.name for f in fields(kind)}
        return kind(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class AppointmentBooked(Event):
    """An appointment was booked (online, at the desk, from the waiting list, or moved here:
    ``moved_from`` is then the appointment it replaces)."""

    appointment_id: int
    patient_id: int
    organisation_id: int
    practitioner_id: int | None
    starts_at: str
    booked_by_id: int | None
    moved_from: int | None = None

    @classmethod
    def of(cls, appointment: Any, moved_from: int | None = None) -> AppointmentBooked:
        return cls(
            appointment_id=appointment.id,
            patient_id=appointment.patient_id,
            organisation_id=appointment.organisation_id,
            practitioner_id=appointment.practitioner_id,
            starts_at=_moment(appointment.starts_at),
            booked_by_id=appointment.booked_by_id,
            moved_from=moved_from,
        )


@dataclass(frozen=True)
class AppointmentCancelled(Event):
    """An appointment was cancelled; ``status`` is ``cancelled_by_patient`` (also when it was
    moved) or ``cancelled_by_clinic``."""

    appointment_id: int
    patient_id: int
    organisation_id: int
    status: str
    cancelled_by_id: int | None

    @classmethod
    def of(cls, appointment: Any) -> AppointmentCancelled:
        return cls(
            appointment_id=appointment.id,
            patient_id=appointment.patient_id,
            organisation_id=appointment.organisation_id,
            status=appointment.status,
            cancelled_by_id=appointment.cancelled_by_id,
        )


@dataclass(frozen=True)
class ResultFiled(Event):
    """Results were written into a card (``amended``: an earlier report's values corrected)."""

    report_id: int
    patient_id: int
    organisation_id: int
    amended: bool = False


@dataclass(frozen=True)
class PrescriptionIssued(Event):
    """A prescription was written into a card."""

    prescription_id: int
    patient_id: int
    organisation_id: int


@dataclass(frozen=True)
class ConsentRevoked(Event):
    """Consent to the portal's processing was withdrawn for a card (``patient_id``, None before
    the account has a card) by ``account_id`` (the patient, or a guardian for a child)."""

    patient_id: int | None
    account_id: int


@dataclass(frozen=True)
class CardClosed(Event):
    """A card was closed: its opt-out application was approved."""

    patient_id: int
    opt_out_request_id: int


@dataclass(frozen=True)
class GuardianAccessEnding(Event):
    """A guardian's access to a child's card ends on ``ends_on`` (ISO date, the portal's day):
    the child reaches the guardian age limit and the card becomes theirs."""

    guardianship_id: int
    guardian_id: int
    patient_id: int
    ends_on: str


@dataclass(frozen=True)
class AccountVerified(Event):
    """A registrar confirmed an account's identity and linked it to its card."""

    account_id: int
    patient_id: int


EVENT_TYPES: dict[str, type[Event]] = {
    kind.__name__: kind
    for kind in (
        AppointmentBooked,
        AppointmentCancelled,
        ResultFiled,
        PrescriptionIssued,
        ConsentRevoked,
        CardClosed,
        GuardianAccessEnding,
        AccountVerified,
    )
}


class SubscriptionError(RuntimeError):
    """A plugin subscribed to something that is not an event, or with something not callable."""


# -- publishing -------------------------------------------------------------------------------------


def publish(event: Event, session: Session | None = None) -> None:
    """Tell the subscribers of ``event`` once the current transaction commits (never if it, or
    the savepoint this is called in, rolls back)."""
    from portal.database import db

    session = session or db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        raise RuntimeError("publish() outside a transaction: publish in the one that does the thing")
    session.info.setdefault(PENDING, []).append((transaction, event))


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(PENDING)
    if pending:
        session.info[PENDING] = [(t, e) for t, e in pending if not _within(t, previous_transaction)]


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without its commit (a session closed mid-way): nothing it
    published is kept for the next one. After a commit the events are already dispatched."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


@sa_event.listens_for(Session, "after_commit")
def _dispatch_committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: its events wait for the real commit
        return
    pending = session.info.pop(PENDING, None)
    if pending:
        dispatch([event for _transaction, event in pending])


def dispatch(events: list[Event], app: Flask | None = None) -> int:
    """Queue one job per (event, subscriber); the number queued. Errors here (a queue that is
    down) are logged, never raised: the action has committed and its page must still answer."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    subscribers = app.extensions.get(EXTENSION, {})
    queued = 0
    for event in events:
        for plugin_name in subscribers.get(type(event).__name__, {}):
            try:
                tasks.queue(app).enqueue(HANDLE_TASK, plugin_name, event.to_json())
                queued += 1
            except Exception:
                log.exception("event %s for %r could not be queued", type(event).__name__, plugin_name)
    return queued


# -- subscribing ------------------------------------------------------------------------------------


@tasks.task(HANDLE_TASK, retries=HANDLER_RETRIES, retry_delay=HANDLER_RETRY_DELAY)
def handle(plugin_name: str, data: dict[str, Any]) -> None:
    """The job that gives one event to one subscriber (in the worker)."""
    event = Event.from_json(data)
    handler = current_app.extensions[EXTENSION].get(type(event).__name__, {}).get(plugin_name)
    if handler is None:  # the plugin was disabled since: nobody to tell
        log.info("event %s: %r no longer subscribes", type(event).__name__, plugin_name)
        return
    handler(event)


def subscribers_of(app: Flask) -> dict[str, dict[str, Callable[[Event], Any]]]:
    """{event type name: {plugin name: handler}} from every plugin's ``event_handlers``."""
    found: dict[str, dict[str, Callable[[Event], Any]]] = {}
    for plugin_name, handlers in app.extensions["portal.plugins"].startup("event_handlers"):
        for kind, handler in (handlers or {}).items():
            if not (isinstance(kind, type) and EVENT_TYPES.get(kind.__name__) is kind):
                raise SubscriptionError(f"plugin {plugin_name!r} subscribes to {kind!r}, which is not an event")
            if not callable(handler):
                raise SubscriptionError(f"plugin {plugin_name!r}: the handler of {kind.__name__} is not callable")
            found.setdefault(kind.__name__, {})[plugin_name] = handler
    return found


def init_app(app: Flask) -> None:
    from portal.plugins import PluginError

    try:
        app.extensions[EXTENSION] = subscribers_of(app)
    except SubscriptionError as wrong:
        raise PluginError(str(wrong)) from wrong
