"""The patient's view of the audit log: «Кто смотрел мою карту».

It reads other features' tables (accounts, organisations, grants) and decides through the record's
``open_section``, so it lives beside its page and not in the writer, which every feature imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import aliased

from portal import clock
from portal.access import policy
from portal.appointments.models import Organisation
from portal.audit.models import AuditEvent
from portal.auth.models import Account
from portal.database import db, write_transaction
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
    actor, grantee = aliased(Account), aliased(Account)
    with write_transaction():
        open_section(viewer, patient_id, "access_log")  # decided, audited, and the card named on the page
        # Openings of the card, and the owner's grants to trusted persons (given, changed, ended).
        query = (
            select(
                AuditEvent,
                actor.surname,
                actor.name,
                actor.patronymic,
                Organisation.name,
                grantee.surname,
                grantee.name,
                grantee.patronymic,
            )
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .outerjoin(Organisation, Organisation.id == AuditEvent.organisation_id)
            .outerjoin(
                AccessGrant,
                (AuditEvent.object_type == "access_grant") & (AuditEvent.object_id == cast(AccessGrant.id, String)),
            )
            .outerjoin(grantee, grantee.id == AccessGrant.grantee_id)
            .where(
                AuditEvent.patient_id == patient_id,
                or_(AuditEvent.action.like("card.%"), AuditEvent.action.like("grant.%")),
            )
            .order_by(AuditEvent.id.desc())
            .limit(size + 1)
        )
        if who == "others":
            query = query.where(AuditEvent.actor_id != viewer.id)
        if since:
            query = query.where(AuditEvent.created_at >= clock.day_start(since))  # days in the portal's zone
        if until:
            query = query.where(AuditEvent.created_at <= clock.day_end(until))
        if before:
            query = query.where(AuditEvent.id < before)
        rows = db.session.execute(query).all()
    entries = [
        AccessEntry(
            event_id=event.id,
            created_at=event.created_at,
            actor_name=None if event.actor_id == viewer.id else " ".join(p for p in (surname, name, patronymic) if p),
            actor_role=event.actor_role,
            organisation=org,
            action=event.action.removeprefix("card."),
            section=event.section,
            outcome=event.outcome,
            reason=event.reason if event.actor_role == "emergency" else None,
            grantee_name=" ".join(p for p in person if p) or None,
            terms=Terms.read(event.reason) if event.action.startswith("grant.") else None,
            export_format=event.object_id if event.object_type == "export" else None,
            request_number=policy.request_number(event.reason) if event.actor_role == "registrar" else None,
        )
        for event, surname, name, patronymic, org, *person in rows[:size]
    ]
    return AccessPage(patient_id, entries, rows[size - 1][0].id if len(rows) > size else None)


def logged_event(viewer, patient_id: int, event_id: int) -> AuditEvent | None:
    """One line of this card's access log, for its proof: decided and audited as a reading of the
    log; None when the event is not a line of this card's log (the page answers 404)."""
    with write_transaction():
        open_section(viewer, patient_id, "access_log")
        return db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.id == event_id,
                AuditEvent.patient_id == patient_id,
                or_(AuditEvent.action.like("card.%"), AuditEvent.action.like("grant.%")),
            )
        )
