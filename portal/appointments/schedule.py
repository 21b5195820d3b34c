"""Schedules: slots made from the working rules for a horizon, and exceptions that cancel them.

``generate_slots`` is safe to run twice, even at the same time: slots already there are skipped,
and the insert itself ignores a (practitioner, start) the database already holds (UNIQUE
uq_slot_practitioner_starts_at), so two runs never make one slot twice. Days under an exception
(holiday, sick leave, training of the doctor, the department or the whole organisation) get no
slots. Times in a rule are the portal's local time (Europe/Moscow); slots are stored in UTC.

``apply_exception`` cancels the free and held slots an exception covers, and the booked
appointments on them («cancelled_by_clinic», with the reason), and returns each affected
appointment with the three nearest free alternatives (same specialty; the same organisation
first). Telling the patient and the one-click rebook are the booking pages' work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from portal import clock
from portal.appointments import care
from portal.appointments.models import (
    Appointment,
    ScheduleException,
    ScheduleRule,
    Slot,
    WaitingListOffer,
)
from portal.audit import service as audit
from portal.database import db, write_transaction
from portal.directory.models import Practitioner

ALTERNATIVES = 3
EXCEPTION_LABELS = {"holiday": "отпуск", "sick_leave": "больничный", "training": "учёба"}


def horizon_days() -> int:
    return int(current_app.config["SLOT_HORIZON_DAYS"])


def _utc_naive(moment: datetime) -> datetime:
    """A moment as a comparable key: UTC without tzinfo (SQLite returns stored moments naive)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _local(day: date, at) -> datetime:
    return datetime.combine(day, at, clock.zone()).astimezone(UTC)


def _insert_ignoring_duplicates():
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(Slot).on_conflict_do_nothing(index_elements=["practitioner_id", "starts_at"])


@dataclass(frozen=True)
class _Staff:
    organisation_id: int
    department_id: int | None


def _days_off(staff: dict[int, _Staff], first: date, last: date) -> dict[int, list[tuple[date, date]]]:
    """Per practitioner, the exception date ranges that overlap [first, last]."""
    organisations = {s.organisation_id for s in staff.values()}
    found: dict[int, list[tuple[date, date]]] = {pid: [] for pid in staff}
    if not organisations:
        return found
    rows = db.session.execute(
        select(
            ScheduleException.organisation_id,
            ScheduleException.practitioner_id,
            ScheduleException.department_id,
            ScheduleException.starts_on,
            ScheduleException.ends_on,
        ).where(
            ScheduleException.organisation_id.in_(sorted(organisations)),
            ScheduleException.starts_on <= last,
            ScheduleException.ends_on >= first,
        )
    )
    for row in rows:
        for pid, s in staff.items():
            if s.organisation_id != row.organisation_id:
                continue
            if row.practitioner_id is not None and row.practitioner_id != pid:
                continue
            if row.department_id is not None and row.department_id != s.department_id:
                continue
            found[pid].append((row.starts_on, row.ends_on))
    return found


def _works_on(rule: ScheduleRule, day: date) -> bool:
    if day < rule.valid_from or (rule.valid_until is not None and day > rule.valid_until):
        return False
    if str(day.isoweekday()) not in rule.weekdays:
        return False
    if rule.week_parity is not None:
        even = day.isocalendar().week % 2 == 0
        if even != (rule.week_parity == "even"):
            return False
    return True


def generate_slots(days: int | None = None, start: date | None = None) -> int:
    """Make the missing slots from every rule for ``days`` days from ``start`` (today by
    default); return how many were added. Slots already begun are not made."""
    with write_transaction():
        return make_slots(horizon_days() if days is None else days, start or clock.today())


def make_slots(days: int, first: date) -> int:
    """``generate_slots`` inside the caller's write transaction (the demo's seed uses it)."""
    last = first + timedelta(days=days - 1)
    now = _utc_naive(clock.now())
    rules = list(
        db.session.scalars(
            select(ScheduleRule)
            .where(
                ScheduleRule.valid_from <= last,
                or_(ScheduleRule.valid_until.is_(None), ScheduleRule.valid_until >= first),
            )
            .order_by(ScheduleRule.id)
        )
    )
    if not rules:
        return 0
    ids = sorted({r.practitioner_id for r in rules})
    staff = {
        row.id: _Staff(row.organisation_id, row.department_id)
        for row in db.session.execute(
            select(Practitioner.id, Practitioner.organisation_id, Practitioner.department_id).where(
                Practitioner.id.in_(ids)
            )
        )
    }
    off = _days_off(staff, first, last)
    existing = {
        (pid, _utc_naive(at))
        for pid, at in db.session.execute(
            select(Slot.practitioner_id, Slot.starts_at).where(
                Slot.practitioner_id.in_(ids),
                Slot.starts_at >= clock.day_start(first),
                Slot.starts_at < clock.day_start(last + timedelta(days=1)),
            )
        )
    }
    rows = []
    for rule in rules:
        length = timedelta(minutes=rule.slot_minutes)
        for offset in range(days):
            day = first + timedelta(days=offset)
            if not _works_on(rule, day):
                continue
            if any(a <= day <= b for a, b in off.get(rule.practitioner_id, ())):
                continue
            at, until = _local(day, rule.start_time), _local(day, rule.end_time)
            while at + length <= until:
                key = (rule.practitioner_id, _utc_naive(at))
                if key[1] > now and key not in existing:
                    existing.add(key)
                    rows.append(
                        {
                            "practitioner_id": rule.practitioner_id,
                            "organisation_id": rule.organisation_id,
                            "rule_id": rule.id,
                            "starts_at": at,
                            "ends_at": at + length,
                            "room": rule.room,
                            "kind": rule.kind,
                            "status": "free",
                        }
                    )
                at += length
    if rows:
        db.session.execute(_insert_ignoring_duplicates(), rows)
    return len(rows)


# -- exceptions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    slot_id: int
    starts_at: datetime
    practitioner_id: int
    organisation_id: int
    room: str | None


@dataclass(frozen=True)
class Affected:
    """A booked appointment an exception cancelled, and where the patient could go instead."""

    appointment_id: int
    patient_id: int
    starts_at: datetime
    specialty_code: str | None
    alternatives: list[Alternative]


def _in_scope(exception: ScheduleException) -> list[int]:
    query = select(Practitioner.id).where(Practitioner.organisation_id == exception.organisation_id)
    if exception.practitioner_id is not None:
        query = query.where(Practitioner.id == exception.practitioner_id)
    elif exception.department_id is not None:
        query = query.where(Practitioner.department_id == exception.department_id)
    return list(db.session.scalars(query))


def cancellation_reason(exception: ScheduleException) -> str:
    """What the patient is told: the kind of absence and the clinic's words, in Russian (stored)."""
    label = EXCEPTION_LABELS[exception.kind]
    return f"Приём отменён клиникой: {label}" + (f" — {exception.reason}" if exception.reason else "")


def apply_exception(exception_id: int, by_id: int | None = None) -> list[Affected]:
    """Cancel what the exception covers; return the booked appointments it cancelled, each with
    its alternatives. Applying it again finds nothing more to cancel."""
    moment = clock.now()
    with write_transaction():
        exception = db.session.get(ScheduleException, exception_id)
        if exception is None:
            raise LookupError(exception_id)
        practitioners = _in_scope(exception)
        window = (clock.day_start(exception.starts_on), clock.day_start(exception.ends_on + timedelta(days=1)))
        covered = and_(
            Slot.practitioner_id.in_(practitioners),
            Slot.starts_at >= window[0],
            Slot.starts_at < window[1],
            Slot.status != "cancelled",
        )
        slot_ids = list(db.session.scalars(select(Slot.id).where(covered)))
        reason = cancellation_reason(exception)
        booked = list(
            db.session.scalars(
                select(Appointment)
                .where(
                    Appointment.status == "booked",
                    or_(
                        Appointment.slot_id.in_(slot_ids),
                        and_(
                            Appointment.slot_id.is_(None),
                            Appointment.practitioner_id.in_(practitioners),
                            Appointment.starts_at >= window[0],
                            Appointment.starts_at < window[1],
                        ),
                    ),
                )
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )
        if slot_ids:
            db.session.execute(update(Slot).where(Slot.id.in_(slot_ids)).values(status="cancelled", held_until=None))
            db.session.execute(
                update(WaitingListOffer)
                .where(WaitingListOffer.slot_id.in_(slot_ids), WaitingListOffer.status == "open")
                .values(status="withdrawn", decided_at=moment)
            )
        specialties = dict(
            db.session.execute(
                select(Practitioner.id, Practitioner.specialty_code).where(
                    Practitioner.id.in_(sorted({a.practitioner_id for a in booked if a.practitioner_id}))
                )
            ).all()
        )
        for appointment in booked:
            appointment.status = "cancelled_by_clinic"
            appointment.cancel_reason = reason
            appointment.cancelled_at = moment
            appointment.cancelled_by_id = by_id
            appointment.updated_at = moment
            appointment.specialty_code = appointment.specialty_code or specialties.get(appointment.practitioner_id)
        exception.applied_at = moment
        db.session.flush()
        care.end_for([a.id for a in booked], by_id, "org_admin" if by_id else "operator", moment)
        for appointment in booked:
            audit.record(
                "appointment.cancelled_by_clinic",
                actor_id=by_id,
                actor_role="org_admin" if by_id else "operator",
                patient_id=appointment.patient_id,
                organisation_id=appointment.organisation_id,
                object_type="appointment",
                object_id=appointment.id,
                reason=reason,
            )
        return [
            Affected(
                a.id,
                a.patient_id,
                a.starts_at,
                a.specialty_code,
                alternatives(a.specialty_code, a.organisation_id, exclude=practitioners) if a.specialty_code else [],
            )
            for a in booked
        ]


def alternatives(
    specialty_code: str, organisation_id: int, exclude: Iterable[int] = (), limit: int = ALTERNATIVES
) -> list[Alternative]:
    """The nearest free slots of the specialty from now on: the organisation's own first, then
    others', each group soonest first. One statement."""
    query = (
        select(Slot.id, Slot.starts_at, Slot.practitioner_id, Slot.organisation_id, Slot.room)
        .join(Practitioner, Practitioner.id == Slot.practitioner_id)
        .where(
            Practitioner.specialty_code == specialty_code,
            Slot.status == "free",
            Slot.starts_at > clock.now(),
        )
        .order_by(case((Slot.organisation_id == organisation_id, 0), else_=1), Slot.starts_at, Slot.id)
        .limit(limit)
    )
    excluded = sorted(set(exclude))
    if excluded:
        query = query.where(Slot.practitioner_id.not_in(excluded))
    return [Alternative(*row) for row in db.session.execute(query)]
