"""The citizen's inbox: one call, ``post``, for every event a citizen is told about.

Callers run inside a write transaction; the notification is written in it (so a rolled-back
action tells nobody). The inbox stores the event and its parameters and renders them in the
reader's language when shown. ``post`` also delivers the news by the channels the account chose
(portal, e-mail, SMS; portal and e-mail by default). E-mail and SMS say only that something
happened and where to look, never the medical details: those stay behind sign-in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from portal import database
from portal.auth.models import Account
from portal.database import db
from portal.formatting import format_date
from portal.notify.models import Notification, NotificationPreference, unread_of

# The events a citizen can be told about (and choose channels for).
EVENTS = (
    "result_new",
    "prescription_issued",
    "prescription_expiring",
    "certificate_ready",
    "request_status",
    "vaccination_due",
    "checkup_due",
    "grant_received",
    "appointment_offer",
    "appointment_reminder",
    "home_visit_status",
    "appointment_changed",
    "visit_protocol",
    "entry_corrected",
    "service_message",
)
# A plugin's message (plugin_api.notify): its title and body are stored in every language.
SERVICE_MESSAGE = "service_message"
# Events whose e-mail and SMS lead straight to the page the message is about (an offered time to
# accept, an appointment to cancel), not to the inbox: the page itself asks to sign in.
LINKED_EVENTS = ("appointment_offer", "appointment_reminder")
CHANNELS = ("portal", "email", "sms")
DEFAULTS = {"portal": True, "email": True, "sms": False}
PAGE_SIZE = 20

EVENT_LABELS = {
    "result_new": _l("New test results"),
    "prescription_issued": _l("New prescriptions"),
    "prescription_expiring": _l("Prescriptions about to expire"),
    "certificate_ready": _l("Certificates ready"),
    "request_status": _l("Changes in the status of my requests"),
    "vaccination_due": _l("Vaccinations due"),
    "checkup_due": _l("Check-ups due"),
    "grant_received": _l("Access to someone else's card"),
    "appointment_offer": _l("A time offered from the waiting list"),
    "appointment_reminder": _l("Reminders of appointments"),
    "home_visit_status": _l("Home visit requests"),
    "appointment_changed": _l("Appointments booked, moved or cancelled for me at the clinic"),
    "visit_protocol": _l("Visit protocols signed by my doctors"),
    "entry_corrected": _l("Corrections of entries in my card by the doctor"),
    "service_message": _l("Messages from the portal's regional services"),
}
# What e-mail and SMS say: that something happened, with no medical details.
OUTSIDE_TEXT = {
    "result_new": _l("A new test result is in your card"),
    "prescription_issued": _l("A new prescription is in your card"),
    "prescription_expiring": _l("A prescription expires soon"),
    "certificate_ready": _l("A certificate is ready"),
    "request_status": _l("The status of your request has changed"),
    "vaccination_due": _l("A vaccination is due"),
    "checkup_due": _l("A check-up is due"),
    "grant_received": _l("You have been given access to a card"),
    "appointment_offer": _l("A doctor's time is offered to you from the waiting list"),
    "appointment_reminder": _l("You have an appointment with a doctor soon"),
    "home_visit_status": _l("The status of your home visit request has changed"),
    "appointment_changed": _l("An appointment has been booked, moved or cancelled"),
    "visit_protocol": _l("A visit protocol is in your card"),
    "entry_corrected": _l("A doctor has corrected an entry in your card"),
    "service_message": _l("A new message is in your Medkarta inbox"),
}
# Kinds of an event told with another's preferences (portal/orders): what e-mail and SMS say of them.
OUTSIDE_KIND_TEXT = {
    ("prescription_issued", "referral"): _l("A new referral is in your card"),
    ("vaccination_due", "given"): _l("A new vaccination is in your card"),
}
REQUEST_STATUSES = {
    "registered": _l("registered"),
    "in_progress": _l("in progress"),
    "ready": _l("ready"),
    "refused": _l("refused"),
    "accepted": _l("accepted"),
    "rejected": _l("rejected"),
    "done": _l("done"),
    "cancelled": _l("cancelled"),
    "in_review": _l("in review"),
    "corrected": _l("corrected"),
    "approved": _l("approved"),
}


def now() -> datetime:
    return datetime.now(UTC)


# -- posting and delivering ----------------------------------------------------------------------


def post(
    account_id: int,
    event: str,
    *,
    patient_id: int | None = None,
    params: dict | None = None,
    url: str | None = None,
    subject_key: str | None = None,
    remind_at: datetime | None = None,
    channels: tuple[str, ...] | None = None,
) -> Notification:
    """Tell ``account_id`` about ``event``. ``params`` are shown in the message (JSON-safe values);
    ``url`` is where the message leads; a ``remind_at`` makes it a reminder that repeats until
    done or dismissed; ``subject_key`` keeps one open reminder per subject: posting the same key
    again while one is open returns it and sends nothing.

    Parameters each event shows: result_new {title, out_of_range}; prescription_issued {drug,
    number, valid_until} or, for a referral, {kind: "referral", target, number, valid_until};
    prescription_expiring {drug, valid_until}; certificate_ready {title or number};
    request_status {number, status, note or reason} or, for a confirmed vaccination, {kind:
    "vaccination", status, vaccine, given_on}; vaccination_due {vaccine, patient, due_on} or, for a vaccination
    given, {kind: "given", vaccine, dose, given_on};
    checkup_due {patient, due_on}; grant_received {patient, until}; appointment_offer {specialty,
    doctor, starts_at, expires_at}; appointment_reminder {specialty, doctor, starts_at, when};
    home_visit_status {number, status, visit_on, doctor, reason, by (who cancelled: citizen or
    clinic)}; entry_corrected {section, title, fields}; service_message {plugin, title, body}, each
    text a {language: text} mapping (``plugin_api.notify``). ``channels``: the channels the citizen
    chose for this one message (the waiting list asks), instead of the account's settings."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if subject_key:
        existing = db.session.scalar(
            select(Notification).where(
                Notification.account_id == account_id,
                Notification.subject_key == subject_key,
                Notification.done_at.is_(None),
                Notification.dismissed_at.is_(None),
            )
        )
        if existing is not None:
            return existing
    note = Notification(
        account_id=account_id,
        patient_id=patient_id,
        event=event,
        params=json.dumps(params or {}, ensure_ascii=False, default=str),
        url=url,
        subject_key=subject_key,
        created_at=now(),
        remind_at=remind_at,
        reminded_times=0,
    )
    db.session.add(note)
    deliver(note, channels)
    db.session.flush()
    return note


_batch: ContextVar[set | None] = ContextVar("notify_batch", default=None)


@contextmanager
def one_message_per_event() -> Iterator[None]:
    """Inside this block an account gets at most one e-mail and one SMS per event (a batch job
    that finds five vaccinations due sends one e-mail, not five); the inbox still gets each."""
    token = _batch.set(set())
    try:
        yield
    finally:
        _batch.reset(token)


def deliver(note: Notification, channels: tuple[str, ...] | None = None) -> None:
    """Deliver ``note`` by the channels its owner chose (again, for a reminder): unread in the
    portal (or kept as read when the portal channel is off), e-mail and SMS through the outbox."""
    from portal.auth.service import locale_of
    from portal.notify import service

    account = db.session.get(Account, note.account_id)
    wanted = preferences(note.account_id, note.event)
    if channels is not None:
        wanted = {c: c == "portal" or c in channels for c in CHANNELS}
    note.read_at = None if wanted["portal"] else now()
    if account is None or not account.is_active:
        return
    sent = _batch.get()
    if sent is not None:
        if (account.id, note.event) in sent:
            return
        sent.add((account.id, note.event))
    outside = [c for c in ("email", "sms") if wanted[c]]
    if "sms" in outside and "sms" not in service.available_channels():
        outside.remove("sms")
    if not outside:
        return
    inbox_link = current_app.config["BASE_URL"].rstrip("/") + (
        note.url if note.event in LINKED_EVENTS and note.url else inbox_path()
    )
    kind = (json.loads(note.params or "{}") if isinstance(note.params, str) else note.params or {}).get("kind")
    what = OUTSIDE_KIND_TEXT.get((note.event, kind), OUTSIDE_TEXT[note.event])
    with force_locale(locale_of(account)):
        subject = _("Medkarta: %(what)s", what=what)
        body = "\n\n".join(
            [
                _("Hello, %(name)s.", name=account.name),
                _("%(what)s.", what=what),
                _("Sign in to Medkarta to see the details:"),
                inbox_link,
                _("You can choose which messages we send, and how, in the notification settings."),
            ]
        )
        sms = f"{subject}. {inbox_link}"
    for channel in outside:
        service.queue(
            account_id=account.id,
            channel=channel,
            kind=f"notify_{note.event}",
            recipient=account.email if channel == "email" else account.phone,
            subject=subject,
            body=body if channel == "email" else sms,
        )


def inbox_path() -> str:
    """The inbox's path, also from a job outside any request."""
    if has_request_context():
        return url_for("notify.inbox")
    with current_app.test_request_context():
        return url_for("notify.inbox")


# -- preferences ---------------------------------------------------------------------------------


def preferences(account_id: int, event: str | None = None) -> dict:
    """For one event: {channel: enabled}. Without an event: {(event, channel): enabled}."""
    chosen = {(e, c): DEFAULTS[c] for e in EVENTS for c in CHANNELS}
    query = select(NotificationPreference).where(NotificationPreference.account_id == account_id)
    if event is not None:
        query = query.where(NotificationPreference.event == event)
    for row in db.session.scalars(query):
        if (row.event, row.channel) in chosen:
            chosen[(row.event, row.channel)] = row.enabled
    if event is not None:
        return {c: chosen[(event, c)] for c in CHANNELS}
    return chosen


def save_preferences(account_id: int, enabled: set[tuple[str, str]], channels: tuple[str, ...]) -> None:
    """Store the choice for every event on ``channels`` (in the caller's write transaction); the
    channels not offered keep what they had."""
    rows = db.session.scalars(
        select(NotificationPreference).where(
            NotificationPreference.account_id == account_id, NotificationPreference.channel.in_(channels)
        )
    )
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    for event in EVENTS:
        for channel in channels:
            db.session.add(
                NotificationPreference(
                    account_id=account_id, event=event, channel=channel, enabled=(event, channel) in enabled
                )
            )


# -- reading the inbox ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A notification as the reader sees it, in the reader's language."""

    note: Notification
    title: str
    body: str

    @property
    def unread(self) -> bool:
        return self.note.read_at is None

    @property
    def open_reminder(self) -> bool:
        note = self.note
        return note.remind_at is not None and note.done_at is None and note.dismissed_at is None


def _date(value: object) -> str:
    try:
        return format_date(date.fromisoformat(str(value)[:10]), "long")
    except ValueError:
        return str(value)


def _in_reader_language(texts: object) -> str:
    """A plugin's text stored in every language (``plugin_api.notify``), in the reader's."""
    if not isinstance(texts, dict):
        return str(texts or "")
    from flask_babel import get_locale

    return texts.get(str(get_locale())) or next(iter(texts.values()), "")


def _moment(value: object) -> str:
    from portal.formatting import format_datetime

    try:
        return format_datetime(datetime.fromisoformat(str(value)), "short")
    except ValueError:
        return str(value)


class _Params(dict):
    """Parameters as shown: ``name_en`` stands in for ``name`` when the reader reads English."""

    def get(self, key, default=""):
        from flask_babel import get_locale

        localised = super().get(f"{key}_{get_locale()}")
        return localised if localised not in (None, "") else super().get(key, default)


def describe(event: str, params: dict) -> tuple[str, str]:
    """The title and body of an event, in the current language."""
    p = _Params(params)
    if event == SERVICE_MESSAGE:
        return _in_reader_language(p.get("title")), _in_reader_language(p.get("body"))
    if event == "result_new":
        if p.get("amended"):
            title = _("Result corrected by the laboratory: %(title)s", title=p.get("title") or _("test"))
        else:
            title = _("New result: %(title)s", title=p.get("title") or _("test"))
        out = int(p.get("out_of_range") or 0)
        if out:
            title += ", " + ngettext("%(num)d value out of range", "%(num)d values out of range", out)
            return title, _("Open the result to see which values. Discuss them with your doctor.")
        return title, _("Open the result to see the values.")
    if event == "prescription_issued" and p.get("kind") == "referral":
        # A referral written at an appointment (portal/orders): told with the prescriptions.
        title = _("Referral issued: %(target)s", target=p.get("target", ""))
        return title, _(
            "Referral No. %(number)s, valid until %(date)s.",
            number=p.get("number", "—"),
            date=_date(p.get("valid_until", "")),
        )
    if event == "visit_protocol":
        return _("Visit protocol of %(date)s", date=_date(p.get("date", ""))), _(
            "%(doctor)s signed the protocol of your visit: complaints, examination, diagnoses and recommendations.",
            doctor=p.get("doctor", ""),
        )
    if event == "prescription_issued":
        title = _("Prescription issued: %(drug)s", drug=p.get("drug", ""))
        if p.get("valid_until"):
            return title, _(
                "Prescription No. %(number)s, valid until %(date)s.",
                number=p.get("number", "—"),
                date=_date(p["valid_until"]),
            )
        return title, ""
    if event == "prescription_expiring":
        title = _("Prescription expires soon: %(drug)s", drug=p.get("drug", ""))
        return title, _(
            "It is valid until %(date)s. Get the medicine before then or ask your doctor for a new one.",
            date=_date(p.get("valid_until", "")),
        )
    if event == "certificate_ready":
        what = p.get("title") or _("request No. %(number)s", number=p.get("number", "—"))
        return _("Certificate ready: %(title)s", title=what), _("You can download it now.")
    if event == "request_status" and p.get("kind") == "vaccination":
        # A vaccination the citizen added, confirmed by a clinician: named by vaccine and date.
        title = _(
            "Vaccination confirmed: %(vaccine)s of %(date)s",
            vaccine=p.get("vaccine", ""),
            date=_date(p.get("given_on")),
        )
        return title, _("A clinician confirmed it: the card no longer marks it as not confirmed.")
    if event == "request_status":
        status = p.get("status", "")
        label = str(REQUEST_STATUSES.get(status, status))
        title = _("Request No. %(number)s: status %(status)s", number=p.get("number", "—"), status=label)
        return title, p.get("note") or p.get("reason") or ""
    if event == "entry_corrected":
        from portal.record.sections import LABELS

        section = p.get("section", "")
        title = _(
            "Entry corrected by the doctor: %(section)s, %(title)s",
            section=str(LABELS.get(section, section)),
            title=p.get("title", ""),
        )
        return title, _("Open the entry to see what changed, the old values and the reason.")
    if event == "appointment_offer":
        title = _(
            "A time is free: %(specialty)s, %(at)s", specialty=p.get("specialty", ""), at=_moment(p.get("starts_at"))
        )
        return title, _(
            "%(doctor)s. The time is held for you until %(until)s: accept it on the waiting list page, "
            "or decline it and stay on the list.",
            doctor=p.get("doctor", ""),
            until=_moment(p.get("expires_at")),
        )
    if event == "appointment_reminder":
        title = _("Appointment %(at)s: %(specialty)s", at=_moment(p.get("starts_at")), specialty=p.get("specialty", ""))
        return title, _(
            "%(doctor)s. If you cannot come, cancel the appointment so that someone else can take the time.",
            doctor=p.get("doctor", ""),
        )
    if event == "home_visit_status":
        status = p.get("status", "")
        if status == "accepted":
            return _("Home visit No. %(number)s accepted", number=p.get("number", "—")), _(
                "A doctor will come on %(date)s: %(doctor)s.", date=_date(p.get("visit_on")), doctor=p.get("doctor", "")
            )
        if status == "refused":
            return _("Home visit No. %(number)s refused", number=p.get("number", "—")), p.get("reason", "")
        if status == "done":
            return _("Home visit No. %(number)s done", number=p.get("number", "—")), _(
                "The clinic marked the doctor's visit as made."
            )
        if status == "cancelled" and p.get("by") == "clinic":
            return _("Home visit No. %(number)s cancelled by the clinic", number=p.get("number", "—")), p.get("reason")
        if status == "cancelled":
            return _("Home visit No. %(number)s cancelled", number=p.get("number", "—")), p.get("reason")
        return _("Home visit No. %(number)s registered", number=p.get("number", "—")), ""
    if event == "vaccination_due" and p.get("kind") == "given":
        # A vaccination a clinician wrote at an appointment (portal/orders).
        title = _("Vaccination given: %(vaccine)s", vaccine=p.get("vaccine", ""))
        return title, _("%(dose)s, %(date)s.", dose=p.get("dose", ""), date=_date(p.get("given_on", "")))
    if event == "vaccination_due":
        title = _("Vaccination due: %(vaccine)s", vaccine=p.get("vaccine", ""))
        return title, _(
            "For %(patient)s, due from %(date)s. Book it at your clinic.",
            patient=p.get("patient", ""),
            date=_date(p.get("due_on", "")),
        )
    if event == "checkup_due":
        return _("Check-up due"), _(
            "For %(patient)s, the next check-up is due from %(date)s. Book it at your clinic.",
            patient=p.get("patient", ""),
            date=_date(p.get("due_on", "")),
        )
    if event == "grant_received":
        return _("Access to a card: %(patient)s", patient=p.get("patient", "")), _(
            "You may see this card until %(date)s.", date=_date(p.get("until", ""))
        )
    if event == "appointment_changed":
        when = _moment(p.get("at", ""))
        doctor = p.get("doctor") or _("a doctor")
        kind = p.get("kind", "")
        if kind == "booked":
            title = _("Appointment booked at the clinic: %(doctor)s, %(time)s", doctor=doctor, time=when)
        elif kind == "moved":
            title = _("Appointment moved at the clinic: now %(doctor)s, %(time)s", doctor=doctor, time=when)
        else:
            title = _("Appointment cancelled at the clinic: %(doctor)s, %(time)s", doctor=doctor, time=when)
        body = _("Ticket No. %(number)s.", number=p.get("number") or "—")
        if p.get("reason"):
            body += " " + p.get("reason")
        if kind == "cancelled_by_clinic":
            body += " " + _("Open the ticket to choose one of the nearest free times.")
        return title, body
    return event, ""


def _moment(value: object) -> str:
    from portal.formatting import format_datetime

    try:
        return format_datetime(datetime.fromisoformat(str(value)), "short")
    except ValueError:
        return str(value)


def show(note: Notification) -> Shown:
    title, body = describe(note.event, json.loads(note.params or "{}"))
    return Shown(note, title, body)


def _open_reminder_clause():
    return (Notification.remind_at.is_not(None)) & Notification.done_at.is_(None) & Notification.dismissed_at.is_(None)


def open_reminders(account_id: int, limit: int = 50) -> list[Shown]:
    """Reminders still waiting for the reader: shown first, until done or dismissed."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.account_id == account_id, _open_reminder_clause())
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return [show(n) for n in rows]


def page_of(account_id: int, before: int | None = None) -> tuple[list[Shown], int | None]:
    """The other notifications, newest first, PAGE_SIZE at a time before the id ``before``;
    and the key of the next (older) page, or None."""
    query = select(Notification).where(
        Notification.account_id == account_id,
        or_(
            Notification.remind_at.is_(None), Notification.done_at.is_not(None), Notification.dismissed_at.is_not(None)
        ),
    )
    if before:
        query = query.where(Notification.id < before)
    rows = list(db.session.scalars(query.order_by(Notification.id.desc()).limit(PAGE_SIZE + 1)))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return [show(n) for n in rows[:PAGE_SIZE]], older


@cache
def _unread_statement() -> Select:
    """The header's count of unread notifications, built once per process (immutable)."""
    return select(unread_of(bindparam("account")))


def unread_count(account_id: int) -> int:
    """One indexed count: the header's, when this request changed a notification after the
    session's query had counted them (``counted_unread``)."""
    return database.scalar(_unread_statement(), {"account": account_id})


UNREAD_CHANGED = "portal_unread_changed"


def counted_unread(account_id: int) -> int | None:
    """The count the signed-in session's query made for ``account_id`` at the start of this
    request, unless a notification was added, read or removed since (then None: count again)."""
    from flask import g

    from portal.auth.sessions import current

    if g.get(UNREAD_CHANGED):
        return None
    found = current()
    return found.unread if found is not None and found.account.id == account_id else None


@orm_event.listens_for(Session, "after_flush")
def _notifications_changed(session: Session, _context) -> None:
    from flask import g, has_app_context

    if has_app_context() and any(isinstance(o, Notification) for o in (*session.new, *session.dirty, *session.deleted)):
        g.setdefault(UNREAD_CHANGED, True)


def owned(account_id: int, notification_id: int) -> Notification | None:
    """The reader's own notification, read under the write lock; None for anyone else's."""
    note = db.session.get(Notification, notification_id)
    return note if note is not None and note.account_id == account_id else None


def mark_read(note: Notification) -> None:
    if note.read_at is None:
        note.read_at = now()


def mark_all_read(account_id: int) -> int:
    rows = list(
        db.session.scalars(
            select(Notification).where(Notification.account_id == account_id, Notification.read_at.is_(None))
        )
    )
    for note in rows:
        note.read_at = now()
    return len(rows)


def close_reminder(note: Notification, how: str) -> None:
    """End a reminder: ``done`` (the thing was done) or ``dismissed`` (stop reminding)."""
    mark_read(note)
    if how == "done":
        note.done_at = note.done_at or now()
    else:
        note.dismissed_at = note.dismissed_at or now()


def remind_again(note: Notification, every: timedelta) -> None:
    """Deliver an open reminder again and schedule the next time."""
    deliver(note)
    note.reminded_times = (note.reminded_times or 0) + 1
    note.remind_at = now() + every
