"""Schedules: slots made from the working rules for a horizon, and exceptions that cancel them.

``generate_slots`` is safe to run twice, even at the same time: slots already there are skipped,
and the insert itself ignores a (practitioner, start) the database already holds (UNIQUE
uq_slot_practitioner_starts_at), so two runs never make one slot twice. Days under an exception
(holiday, sick leave, training of the doctor, the department or the whole organisation) get no
slots. Times in a rule are the portal's local time (Europe/Moscow); slots are stored in UTC.

``apply_exception`` cancels the free and held slots an exception covers, and the booked
appointments on them («cancelled_by_clinic», with the reason), and returns each affected
appointment with the three nearest free alternatives (same specialty; the same organisation
first). Telling the patient and the one-click rebook are the booking pages' work. A changed rule
goes through the same machinery (``reshape``: ``cancel_slots`` for its slots it no longer makes,
then ``make_slots``); generation makes free again a cancelled slot that a rule makes on a day no
exception covers, so removing an exception is generating that period again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from portal import clock, events
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
    default), and make free again the cancelled ones a rule makes on a day no exception covers
    (an exception removed, a rule changed back); return how many. Slots already begun are not
    made."""
    with write_transaction():
        return make_slots(horizon_days() if days is None else days, start or clock.today())


def make_slots(days: int, first: date, practitioner_ids: Iterable[int] | None = None) -> int:
    """``generate_slots`` inside the caller's write transaction (the demo's seed uses it), for
    every rule or only those of ``practitioner_ids``."""
    last = first + timedelta(days=days - 1)
    now = _utc_naive(clock.now())
    query = select(ScheduleRule).where(
        ScheduleRule.valid_from <= last,
        or_(ScheduleRule.valid_until.is_(None), ScheduleRule.valid_until >= first),
    )
    if practitioner_ids is not None:
        query = query.where(ScheduleRule.practitioner_id.in_(sorted(set(practitioner_ids))))
    rules = list(db.session.scalars(query.order_by(ScheduleRule.id)))
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
        (pid, _utc_naive(at)): (slot_id, status)
        for slot_id, pid, at, status in db.session.execute(
            select(Slot.id, Slot.practitioner_id, Slot.starts_at, Slot.status).where(
                Slot.practitioner_id.in_(ids),
                Slot.starts_at >= clock.day_start(first),
                Slot.starts_at < clock.day_start(last + timedelta(days=1)),
            )
        )
    }
    rows, revived = [], 0
    for rule in rules:
        for day in (first + timedelta(days=offset) for offset in range(days)):
            if any(a <= day <= b for a, b in off.get(rule.practitioner_id, ())):
                continue
            for at, ends in rule_times(rule, day):
                key = (rule.practitioner_id, _utc_naive(at))
                if key[1] <= now:
                    continue
                values = {"rule_id": rule.id, "ends_at": ends, "room": rule.room, "kind": rule.kind}
                found = existing.get(key)
                if found is None:
                    existing[key] = (None, "free")
                    rows.append(
                        {"practitioner_id": rule.practitioner_id, "organisation_id": rule.organisation_id,
                         "starts_at": at, "status": "free", **values}
                    )  # fmt: skip
                elif found[1] == "cancelled":
                    existing[key] = (found[0], "free")
                    revived += _revive(found[0], values)
    if rows:
        db.session.execute(_insert_ignoring_duplicates(), rows)
    return len(rows) + revived


def rule_times(rule: ScheduleRule, day: date) -> list[tuple[datetime, datetime]]:
    """The (start, end) of each slot the rule makes on ``day`` (UTC), none when it does not work."""
    if not _works_on(rule, day):
        return []
    length = timedelta(minutes=rule.slot_minutes)
    at, until = _local(day, rule.start_time), _local(day, rule.end_time)
    times = []
    while at + length <= until:
        times.append((at, at + length))
        at += length
    return times


def _revive(slot_id: int, values: dict) -> int:
    """A cancelled slot a rule makes again (its exception removed, its rule changed back) is free
    again, shaped by the rule; a second run finds it free and changes nothing."""
    done = db.session.execute(
        update(Slot).where(Slot.id == slot_id, Slot.status == "cancelled").values(status="free", **values)
    )
    return done.rowcount


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
        # Appointments the clinic's schedule held before slots existed are covered by their time.
        slotless = and_(
            Appointment.slot_id.is_(None),
            Appointment.practitioner_id.in_(practitioners),
            Appointment.starts_at >= window[0],
            Appointment.starts_at < window[1],
        )
        affected = cancel_slots(slot_ids, cancellation_reason(exception), by_id, slotless, exclude=practitioners)
        exception.applied_at = clock.now()
        return affected


def lift_exception(exception: ScheduleException) -> int:
    """Remove the exception (in the caller's write transaction) and generate its days again from
    today: the slots it cancelled are free again where no other exception covers them. The
    appointments it cancelled stay cancelled: their patients were told and may book again.
    Returns how many slots are bookable again."""
    practitioners = _in_scope(exception)
    first, last = max(exception.starts_on, clock.today()), exception.ends_on
    db.session.delete(exception)
    db.session.flush()
    if last < first:
        return 0
    return make_slots((last - first).days + 1, first, practitioners)


def cancel_slots(
    slot_ids: list[int], reason: str, by_id: int | None, also=None, exclude: Iterable[int] = ()
) -> list[Affected]:
    """Cancel these slots (free, held or booked) in the caller's write transaction: open
    waiting-list offers on them are withdrawn, the booked appointments on them (and those ``also``,
    an SQL condition, names) are «cancelled_by_clinic» with ``reason``, audited, their care ended.
    Returns each cancelled appointment with its nearest free alternatives (not of the doctors
    ``exclude`` names). Telling the patients is the caller's (``admin``)."""
    moment = clock.now()
    on_slots = Appointment.slot_id.in_(slot_ids)
    booked = list(
        db.session.scalars(
            select(Appointment)
            .where(Appointment.status == "booked", on_slots if also is None else or_(on_slots, also))
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
    db.session.flush()
    role = "org_admin" if by_id else "operator"
    care.end_for([a.id for a in booked], by_id, role, moment)
    for appointment in booked:
        events.publish(events.AppointmentCancelled.of(appointment))
        audit.record(
            "appointment.cancelled_by_clinic",
            actor_id=by_id,
            actor_role=role,
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
            alternatives(a.specialty_code, a.organisation_id, exclude=exclude) if a.specialty_code else [],
        )
        for a in booked
    ]


# -- a changed rule ------------------------------------------------------------------------------

RULE_CHANGED_REASON = "Приём отменён клиникой: изменилось расписание врача"


def reshape(rule: ScheduleRule, by_id: int | None = None) -> list[Affected]:
    """After ``rule`` changed (in the caller's write transaction): its future slots that the
    doctor's rules no longer make are cancelled, the booked ones through ``cancel_slots`` (the
    patients get alternatives, the caller tells them); its free slots take its room; the slots it
    makes now are generated (``make_slots``, which also brings back cancelled ones it makes again)."""
    now = clock.now()
    future = list(
        db.session.execute(
            select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.status).where(
                Slot.rule_id == rule.id, Slot.starts_at > now, Slot.status != "cancelled"
            )
        )
    )
    today = clock.today()
    last = max([today + timedelta(days=horizon_days() - 1)] + [clock.local_date(row.starts_at) for row in future])
    made = _made_by_rules(rule.practitioner_id, today, last)
    stale = [row.id for row in future if (_utc_naive(row.starts_at), _utc_naive(row.ends_at)) not in made]
    affected = cancel_slots(stale, RULE_CHANGED_REASON, by_id) if stale else []
    db.session.execute(
        update(Slot)
        .where(Slot.rule_id == rule.id, Slot.starts_at > now, Slot.status.in_(("free", "held")))
        .values(room=rule.room)
    )
    make_slots((last - today).days + 1, today, [rule.practitioner_id])
    return affected


def _made_by_rules(practitioner_id: int, first: date, last: date) -> set[tuple[datetime, datetime]]:
    """The (start, end) of every slot the practitioner's rules make from ``first`` to ``last``."""
    rules = db.session.scalars(select(ScheduleRule).where(ScheduleRule.practitioner_id == practitioner_id))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return {(_utc_naive(at), _utc_naive(ends)) for rule in rules for day in days for at, ends in rule_times(rule, day)}


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
