"""The organisation's audit events as its auditor reads them: metadata only.

**Which events are the organisation's.** An event belongs to organisation O when
- it names O (``audit_event.organisation_id``): every access to a card through O's relationships
  (a clinician's care, an emergency access, a registrar's request), O's appointments, schedules,
  staff roles, attachments, home visits, and the auditors' own work; or
- it names no organisation and its actor held a staff role in O at that moment (the membership
  had started and had not ended): the sign-ins and account security of O's staff, their refused
  card reads, a registrar's identity checks.
An event that names another organisation never belongs to O, even when its actor also works for O.
A citizen's own reading of their card names no organisation and no staff: it is nobody's here.

**What a line shows.** When; who (a staff member of O by full name with their roles in O; anyone
else by surname and initials); the action in words and its code; the patient, by surname and
initials and a masked SNILS (its last five digits: enough to tell two patients apart and to
confirm a SNILS the auditor already holds, not enough to look anyone up); the section and the
object's kind and id; the outcome; the basis (self, care relationship, emergency access, …).
Never an entry's title, value or diagnosis, and never an event's free-text reason: reasons are
typed by people and may hold clinical words. (The emergency access's reason is shown in its
review, where judging it is the point: reviews.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, exists, func, or_, select

from portal import clock
from portal.access import policy
from portal.access.models import EmergencyAccess
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.auditor.kinds import matches
from portal.auditor.models import EmergencyReview
from portal.auth.models import Account, StaffMembership
from portal.database import db, write_transaction
from portal.directory.models import Organisation
from portal.identifiers import snils_digits
from portal.record.models import Patient

PAGE_SIZE = 50
EXPORT_BATCH = 1000


def organisation_for(account: Account, organisation_id: int) -> Organisation:
    """The organisation this auditor audits; LookupError (answered 404) for any other."""
    if not policy.decide_audit(account, organisation_id).allowed:
        raise LookupError(organisation_id)
    found = db.session.get(Organisation, organisation_id)
    if found is None:
        raise LookupError(organisation_id)
    return found


def organisations_of(account: Account) -> list[Organisation]:
    """The organisations this account audits, by name."""
    allowed = [o for o in policy.auditor_organisations(account) if policy.decide_audit(account, o).allowed]
    if not allowed:
        return []
    return list(
        db.session.scalars(select(Organisation).where(Organisation.id.in_(allowed)).order_by(Organisation.name))
    )


def pending_reviews(organisation_id: int) -> int:
    """How many of the organisation's emergency accesses wait for an auditor's decision."""
    return db.session.scalar(
        select(func.count())
        .select_from(EmergencyAccess)
        .where(
            EmergencyAccess.organisation_id == organisation_id,
            ~exists().where(EmergencyReview.emergency_access_id == EmergencyAccess.id),
        )
    )


def organisation_events(organisation_id: int):
    """An SQL condition: the event is the organisation's (the module's docstring says which)."""
    member = StaffMembership
    staff_then = exists().where(
        member.account_id == AuditEvent.actor_id,
        member.organisation_id == organisation_id,
        member.started_at <= AuditEvent.created_at,
        or_(member.ended_at.is_(None), member.ended_at > AuditEvent.created_at),
    )
    return or_(
        AuditEvent.organisation_id == organisation_id,
        and_(AuditEvent.organisation_id.is_(None), staff_then),
    )


# -- the search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    """A search: each part None for «any»."""

    person_ids: tuple[int, ...] | None = None
    snils: str | None = None  # 11 digits
    kind: str | None = None  # an action, or a group «prefix.*»
    since: date | None = None
    until: date | None = None


def fold(text: str) -> str:
    return text.casefold().replace("ё", "е")


def staff_matching(organisation_id: int, typed: str) -> tuple[int, ...]:
    """The accounts that hold or held a role in the organisation whose login (e-mail) is ``typed``
    or whose name has every typed word as the start of one of its words («соколов д»). Compared
    in Python: SQLite folds only ASCII letters, and the staff of one organisation is a short list."""
    wanted = fold(" ".join(typed.split()))
    words = wanted.split(" ")
    rows = db.session.execute(
        select(Account.id, Account.email, Account.surname, Account.name, Account.patronymic).where(
            Account.id.in_(select(StaffMembership.account_id).where(StaffMembership.organisation_id == organisation_id))
        )
    ).all()
    found = []
    for account_id, email, *names in rows:
        parts = fold(" ".join(n for n in names if n)).split()
        if wanted == fold(email) or all(any(part.startswith(word) for part in parts) for word in words):
            found.append(account_id)
    return tuple(sorted(found))


@dataclass(frozen=True)
class EventLine:
    """One event as the auditor reads it."""

    id: int
    created_at: datetime
    actor_id: int | None
    actor_name: str | None
    actor_roles: tuple[str, ...]  # the actor's roles in the organisation; () for anyone else
    basis: str
    action: str
    section: str | None
    object_type: str | None
    object_id: str | None
    outcome: str
    patient_id: int | None
    patient_name: str | None
    patient_snils: str | None  # masked


@dataclass(frozen=True)
class EventPage:
    lines: list[EventLine]
    next_before: int | None


def initials(surname: str | None, name: str | None, patronymic: str | None) -> str | None:
    """«Смирнова Е. В.»"""
    if not surname:
        return None
    return " ".join([surname, *(f"{part[0]}." for part in (name, patronymic) if part)])


def masked_snils(snils: str | None) -> str | None:
    """The last five digits of a SNILS: «***-***-011 81»."""
    digits = snils_digits(snils)
    return f"***-***-{digits[6:9]} {digits[9:]}" if digits else None


def search(organisation_id: int, criteria: Criteria, before: int | None = None, size: int = PAGE_SIZE) -> EventPage:
    """A page of the organisation's events, newest first: two statements whatever the page holds
    (the events with their actor and patient; the actors' roles in the organisation)."""
    event = AuditEvent
    actor = Account
    query = (
        select(
            event.id,
            event.created_at,
            event.actor_id,
            event.actor_role,
            event.action,
            event.section,
            event.object_type,
            event.object_id,
            event.outcome,
            event.patient_id,
            actor.surname,
            actor.name,
            actor.patronymic,
            Patient.surname.label("patient_surname"),
            Patient.name.label("patient_name"),
            Patient.patronymic.label("patient_patronymic"),
            Patient.snils.label("patient_snils"),
        )
        .outerjoin(actor, actor.id == event.actor_id)
        .outerjoin(Patient, Patient.id == event.patient_id)
        .where(organisation_events(organisation_id), *_conditions(criteria))
        .order_by(event.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(event.id < before)
    rows = db.session.execute(query).all()
    page = rows[:size]
    roles = _roles(organisation_id, {row.actor_id for row in page if row.actor_id is not None})
    lines = [_line(row, roles.get(row.actor_id, ())) for row in page]
    return EventPage(lines, page[-1].id if len(rows) > size else None)


def _conditions(criteria: Criteria) -> list:
    found = []
    if criteria.person_ids is not None:
        found.append(AuditEvent.actor_id.in_(criteria.person_ids))
    if criteria.snils is not None:
        found.append(AuditEvent.patient_id.in_(select(Patient.id).where(Patient.snils == criteria.snils)))
    if criteria.kind:
        found.append(matches(criteria.kind, AuditEvent.action))
    if criteria.since:
        found.append(AuditEvent.created_at >= clock.day_start(criteria.since))
    if criteria.until:
        found.append(AuditEvent.created_at <= clock.day_end(criteria.until))
    return found


def _roles(organisation_id: int, account_ids: set[int]) -> dict[int, tuple[str, ...]]:
    """Each account's roles in the organisation (held now or before)."""
    if not account_ids:
        return {}
    held: dict[int, set[str]] = {}
    for account_id, role in db.session.execute(
        select(StaffMembership.account_id, StaffMembership.role).where(
            StaffMembership.organisation_id == organisation_id, StaffMembership.account_id.in_(sorted(account_ids))
        )
    ):
        held.setdefault(account_id, set()).add(role)
    return {account_id: tuple(sorted(roles)) for account_id, roles in held.items()}


def _line(row, roles: tuple[str, ...]) -> EventLine:
    names = (row.surname, row.name, row.patronymic)
    staff = bool(roles)
    return EventLine(
        id=row.id,
        created_at=row.created_at,
        actor_id=row.actor_id,
        actor_name=(" ".join(n for n in names if n) if staff else initials(*names)) or None,
        actor_roles=roles,
        basis=row.actor_role,
        action=row.action,
        section=row.section,
        object_type=row.object_type,
        object_id=row.object_id,
        outcome=row.outcome,
        patient_id=row.patient_id,
        patient_name=initials(row.patient_surname, row.patient_name, row.patient_patronymic),
        patient_snils=masked_snils(row.patient_snils),
    )


def every_line(organisation_id: int, criteria: Criteria, batch: int | None = None) -> Iterator[EventLine]:
    """Every event of the search, newest first, read ``batch`` (EXPORT_BATCH) at a time by key:
    what an export holds in memory does not grow with the period."""
    before = None
    while True:
        page = search(organisation_id, criteria, before, batch or EXPORT_BATCH)
        yield from page.lines
        if page.next_before is None:
            return
        before = page.next_before


def patient_of(snils: str) -> int | None:
    return db.session.scalar(select(Patient.id).where(Patient.snils == snils))


def record_search(account: Account, organisation_id: int, action: str, criteria: Criteria, described: str) -> None:
    """Audit a search that names a patient, and every export: who looked, for what."""
    with write_transaction():
        audit.record(
            action,
            actor_id=account.id,
            actor_role="auditor",
            organisation_id=organisation_id,
            patient_id=patient_of(criteria.snils) if criteria.snils else None,
            reason=described,
        )
