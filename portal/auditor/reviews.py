"""The review of the organisation's emergency accesses: every break-glass opening of a card by one of
its clinicians, with the reason they gave, how long it lasted and what they opened meanwhile (the
audit events of that clinician on that card inside the window: section names and times, nothing
of the content). An auditor marks each reviewed (a note if they like) or escalated (the note says
why); the decision is final, audited, and shows who decided and when. Waiting ones come first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from portal import clock
from portal.access.models import EmergencyAccess
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.auditor.models import EmergencyReview
from portal.auditor.service import initials, masked_snils
from portal.auth.models import Account
from portal.database import QUEUE_SIZE, db, write_transaction
from portal.record.models import Patient

DECIDED_PAGE = 20


class AlreadyDecided(Exception):
    """Another auditor decided this access first; nothing was written."""


@dataclass(frozen=True)
class Opening:
    """Something the clinician did to the card during the access."""

    at: datetime
    action: str
    section: str | None
    outcome: str


@dataclass
class EmergencyLine:
    id: int
    started_at: datetime
    expires_at: datetime
    reason: str
    practitioner: str
    patient_id: int
    patient_name: str | None
    patient_snils: str | None
    decision: str | None = None
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    openings: list[Opening] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        """How long it lasted (or lasts): a break-glass access ends when its time is up."""
        return round((self.expires_at - self.started_at).total_seconds() / 60)

    @property
    def still_open(self) -> bool:
        return _aware(self.expires_at) > clock.now()


def _aware(moment: datetime) -> datetime:
    """SQLite hands moments back without their zone; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Queue:
    pending: list[EmergencyLine]
    pending_total: int
    decided: list[EmergencyLine]
    next_before: int | None


def _query():
    """The accesses with the clinician, the patient and the decision, if any (one statement)."""
    clinician, auditor = aliased(Account), aliased(Account)
    return (
        select(
            EmergencyAccess.id,
            EmergencyAccess.started_at,
            EmergencyAccess.expires_at,
            EmergencyAccess.reason,
            EmergencyAccess.patient_id,
            clinician.surname,
            clinician.name,
            clinician.patronymic,
            Patient.surname.label("patient_surname"),
            Patient.name.label("patient_name"),
            Patient.patronymic.label("patient_patronymic"),
            Patient.snils.label("patient_snils"),
            EmergencyReview.decision,
            EmergencyReview.note,
            EmergencyReview.decided_at,
            auditor.surname.label("auditor_surname"),
            auditor.name.label("auditor_name"),
            auditor.patronymic.label("auditor_patronymic"),
        )
        .join(clinician, clinician.id == EmergencyAccess.practitioner_id)
        .join(Patient, Patient.id == EmergencyAccess.patient_id)
        .outerjoin(EmergencyReview, EmergencyReview.emergency_access_id == EmergencyAccess.id)
        .outerjoin(auditor, auditor.id == EmergencyReview.decided_by_id)
    )


def _line(row) -> EmergencyLine:
    def full(*parts: str | None) -> str:
        return " ".join(p for p in parts if p)

    return EmergencyLine(
        id=row.id,
        started_at=row.started_at,
        expires_at=row.expires_at,
        reason=row.reason,
        practitioner=full(row.surname, row.name, row.patronymic),
        patient_id=row.patient_id,
        patient_name=initials(row.patient_surname, row.patient_name, row.patient_patronymic),
        patient_snils=masked_snils(row.patient_snils),
        decision=row.decision,
        note=row.note,
        decided_by=full(row.auditor_surname, row.auditor_name, row.auditor_patronymic) or None,
        decided_at=row.decided_at,
    )


def _with_openings(lines: list[EmergencyLine]) -> list[EmergencyLine]:
    """Fill in what each clinician did to the card during their access: one statement for all."""
    if not lines:
        return lines
    access = EmergencyAccess
    rows = db.session.execute(
        select(access.id, AuditEvent.created_at, AuditEvent.action, AuditEvent.section, AuditEvent.outcome)
        .join(
            AuditEvent,
            (AuditEvent.actor_id == access.practitioner_id)
            & (AuditEvent.patient_id == access.patient_id)
            & (AuditEvent.created_at >= access.started_at)
            & (AuditEvent.created_at <= access.expires_at),
        )
        .where(access.id.in_([line.id for line in lines]))
        .order_by(access.id, AuditEvent.id)
    ).all()
    by_id = {line.id: line for line in lines}
    for access_id, at, action, section, outcome in rows:
        by_id[access_id].openings.append(Opening(at, action, section, outcome))
    return lines


def queue(organisation_id: int, before: int | None = None) -> Queue:
    """The organisation's accesses waiting for a decision (the oldest first, up to the work queue's
    size, and how many wait in all), then the decided ones, newest first, a page at a time."""
    of_organisation = EmergencyAccess.organisation_id == organisation_id
    waiting = _query().where(of_organisation, EmergencyReview.id.is_(None))
    pending = db.session.execute(
        waiting.order_by(EmergencyAccess.started_at, EmergencyAccess.id).limit(QUEUE_SIZE)
    ).all()
    total = db.session.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    decided_query = _query().where(of_organisation, EmergencyReview.id.is_not(None))
    if before is not None:
        decided_query = decided_query.where(EmergencyAccess.id < before)
    decided = db.session.execute(decided_query.order_by(EmergencyAccess.id.desc()).limit(DECIDED_PAGE + 1)).all()
    lines = _with_openings([_line(row) for row in pending] + [_line(row) for row in decided[:DECIDED_PAGE]])
    more = decided[DECIDED_PAGE - 1].id if len(decided) > DECIDED_PAGE else None
    return Queue(lines[: len(pending)], total, lines[len(pending) :], more)


def one(organisation_id: int, access_id: int) -> EmergencyLine:
    """One access of the organisation with what was opened; LookupError (404) for another's."""
    row = db.session.execute(
        _query().where(EmergencyAccess.id == access_id, EmergencyAccess.organisation_id == organisation_id)
    ).first()
    if row is None:
        raise LookupError(access_id)
    return _with_openings([_line(row)])[0]


def decide(account: Account, organisation_id: int, access_id: int, decision: str, note: str | None) -> None:
    """Record the auditor's decision and audit it, in one transaction; AlreadyDecided when another
    decision came first (nothing written), LookupError for another organisation's access."""
    note = (note or "").strip() or None
    if decision == "escalated" and note is None:
        raise ValueError("an escalation needs a note")
    try:
        with write_transaction():
            found = db.session.get(EmergencyAccess, access_id)
            if found is None or found.organisation_id != organisation_id:
                raise LookupError(access_id)
            taken = db.session.scalar(
                select(func.count()).select_from(EmergencyReview).where(EmergencyReview.emergency_access_id == found.id)
            )
            if taken:
                raise AlreadyDecided(access_id)
            db.session.add(
                EmergencyReview(
                    emergency_access_id=found.id,
                    decision=decision,
                    note=note,
                    decided_by_id=account.id,
                    decided_at=clock.now(),
                )
            )
            db.session.flush()
            audit.record(
                f"audit.emergency_{decision}",
                actor_id=account.id,
                actor_role="auditor",
                organisation_id=organisation_id,
                patient_id=found.patient_id,
                object_type="emergency_access",
                object_id=found.id,
                reason=note,
            )
    except IntegrityError as error:  # a decision committed between our check and our insert
        raise AlreadyDecided(access_id) from error
