"""The patient's view of the audit log: «Кто смотрел мою карту».

It reads other features' tables (accounts, organisations, grants) and decides through the record's
``open_section``, so it lives beside its page and not in the writer, which every feature imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Integer, Select, String, bindparam, case, cast, or_, select
from sqlalchemy.orm import aliased

from portal import clock, database
from portal.access import policy
from portal.appointments.models import Appointment
from portal.audit.models import AuditEvent
from portal.audit.service import audited_read
from portal.auth.models import Account
from portal.database import db
from portal.directory.models import Organisation, Practitioner
from portal.record.service import open_section
from portal.sharing.models import AccessGrant
from portal.sharing.service import Terms

PAGE_SIZE = 20


@dataclass(frozen=True)
class AccessEntry:
    """One line of the log as the patient reads it."""

    event_id: int
    created_at: datetime
    actor_name: str | None  # None: the viewer themselves
    actor_role: str
    organisation: str | None
    action: str
    section: str | None
    outcome: str
    reason: str | None
    grantee_name: str | None = None  # a grant event: the trusted person it concerns
    terms: Terms | None = None  # a grant event: its sections, level and end date
    export_format: str | None = None  # an export: "pdf" or "ips"
    request_number: str | None = None  # a registrar's reading: the citizen's request it served
    doctor_name: str | None = None  # an appointment's event: its doctor
    appointment_at: datetime | None = None  # an appointment's event: its time
    opens_from: datetime | None = None  # care.opened: the card opens to the doctor from …
    opens_until: datetime | None = None  # … until


@dataclass(frozen=True)
class AccessPage:
    """One page of the log, newest first; ``next_before`` is the key of the next page."""

    patient_id: int
    entries: list[AccessEntry]
    next_before: int | None


def access_log(
    viewer,
    patient_id: int,
    *,
    who: str = "all",
    since: date | None = None,
    until: date | None = None,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> AccessPage:
    """Who opened this card, newest first, in one query per page; the viewing is audited too."""
    values = {"patient": patient_id, "viewer": viewer.id, "size": size + 1}
    if since:
        values["since"] = clock.day_start(since)  # days in the portal's zone
    if until:
        values["until"] = clock.day_end(until)
    if before:
        values["before"] = before
    with audited_read():
        open_section(viewer, patient_id, "access_log")  # decided, audited, and the card named on the page
        statement = _statement(who == "others", bool(since), bool(until), bool(before))
        rows = database.rows(statement, values)
    entries = [_entry(row, viewer.id) for row in rows[:size]]
    return AccessPage(patient_id, entries, rows[size - 1].id if len(rows) > size else None)


# What the log shows: openings of the card, the owner's grants to trusted persons, and appointments
# (booked, moved, cancelled, marked) with the care relationships they opened and ended: an
# appointment opens the card to its doctor (portal/appointments/care.py).
LOGGED_PREFIXES = ("card.", "grant.", "appointment.", "care.")


def logged():
    return or_(*(AuditEvent.action.like(f"{prefix}%") for prefix in LOGGED_PREFIXES))


@cache
def _statement(others: bool, since: bool, until: bool, before: bool) -> Select:
    """The log's query for one combination of filters, built once per process (immutable) and run
    with the page's values: the columns a line shows, no events loaded as objects. Openings of the
    card, and the owner's grants to trusted persons (given, changed, ended)."""
    event, actor, grantee = AuditEvent, aliased(Account), aliased(Account)
    query = (
        select(
            event.id,
            event.created_at,
            event.actor_id,
            event.actor_role,
            event.action,
            event.section,
            event.outcome,
            event.reason,
            event.object_type,
            event.object_id,
            actor.surname,
            actor.name,
            actor.patronymic,
            Organisation.name.label("organisation"),
            grantee.surname.label("grantee_surname"),
            grantee.name.label("grantee_name"),
            grantee.patronymic.label("grantee_patronymic"),
            Appointment.starts_at.label("appointment_at"),
            Practitioner.surname.label("doctor_surname"),
            Practitioner.name.label("doctor_name"),
            Practitioner.patronymic.label("doctor_patronymic"),
        )
        .outerjoin(actor, actor.id == event.actor_id)
        .outerjoin(Organisation, Organisation.id == event.organisation_id)
        .outerjoin(
            AccessGrant,
            (event.object_type == "access_grant") & (event.object_id == cast(AccessGrant.id, String)),
        )
        .outerjoin(grantee, grantee.id == AccessGrant.grantee_id)
        .outerjoin(
            # the event's appointment by its primary key (the CASE casts only an appointment's id)
            Appointment,
            Appointment.id == case((event.object_type == "appointment", cast(event.object_id, Integer)), else_=None),
        )
        .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .where(event.patient_id == bindparam("patient"), logged())
        .order_by(event.id.desc())
        .limit(bindparam("size"))
    )
    if others:
        query = query.where(event.actor_id != bindparam("viewer"))
    if since:
        query = query.where(event.created_at >= bindparam("since", type_=event.created_at.type))
    if until:
        query = query.where(event.created_at <= bindparam("until", type_=event.created_at.type))
    if before:
        query = query.where(event.id < bindparam("before"))
    return query


def _name(*parts: str | None) -> str:
    """A full name from column values (as ``Account.full_name`` from an object)."""
    return " ".join(p for p in parts if p)


def _entry(row, viewer_id: int) -> AccessEntry:
    grant = row.action.startswith("grant.")
    window = _window(row.reason) if row.action == "care.opened" else None
    person = (row.grantee_surname, row.grantee_name, row.grantee_patronymic)
    return AccessEntry(
        event_id=row.id,
        created_at=row.created_at,
        actor_name=None if row.actor_id == viewer_id else _name(row.surname, row.name, row.patronymic),
        actor_role=row.actor_role,
        organisation=row.organisation,
        action=row.action.removeprefix("card."),
        section=row.section,
        outcome=row.outcome,
        reason=row.reason if row.actor_role == "emergency" or row.action == "appointment.cancelled_by_clinic" else None,
        grantee_name=_name(*person) or None,
        terms=Terms.read(row.reason) if grant else None,
        export_format=row.object_id if row.object_type == "export" else None,
        request_number=policy.request_number(row.reason) if row.actor_role == "registrar" else None,
        doctor_name=_name(row.doctor_surname, row.doctor_name, row.doctor_patronymic) or None,
        appointment_at=row.appointment_at,
        opens_from=window[0] if window else None,
        opens_until=window[1] if window else None,
    )


def _window(reason: str | None) -> tuple[datetime, datetime] | None:
    """The window a care.opened event recorded («start/end», ISO moments)."""
    try:
        start, end = (reason or "").split("/")
        return datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError:
        return None


def logged_event(viewer, patient_id: int, event_id: int) -> AuditEvent | None:
    """One line of this card's access log, for its proof: decided and audited as a reading of the
    log; None when the event is not a line of this card's log (the page answers 404)."""
    with audited_read():
        open_section(viewer, patient_id, "access_log")
        return db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.id == event_id,
                AuditEvent.patient_id == patient_id,
                logged(),
            )
        )
