"""Booking an appointment, the electronic ticket («талон»), cancelling and moving it.

Who may book, cancel or move is the access policy's ``decide_booking`` (the patient, a guardian of
a child, a trusted person whose grant names the appointments section at level «add»). This module
keeps the rules of booking:

- a specialty in DIRECT_BOOKING_SPECIALTIES is booked directly; any other needs a valid referral
  (issued, not expired, for a consultation of that specialty) from the card, which booking marks
  used;
- a card holds at most APPOINTMENTS_PER_SPECIALTY future appointments with one specialty;
- one appointment per slot is the database's rule (the partial unique index
  uq_appointment_active_slot): two bookings of one slot at the same moment both reach the INSERT,
  one of them fails with IntegrityError, and its citizen is offered the nearest free times;
- a citizen cancels or moves until CANCEL_CUTOFF_HOURS before the appointment; a cancelled
  appointment stops holding its slot at once.

Every booking, cancellation and move is audited, in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app, g
from sqlalchemy import Date, bindparam, case, cast, func, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from portal import clock, events
from portal.access import policy
from portal.appointments import care, offers, schedule
from portal.appointments.models import ACTIVE_STATUSES, Appointment, Slot
from portal.audit import service as audit
from portal.database import db, write_transaction
from portal.directory.models import Organisation, Practitioner
from portal.directory.specialties import by_code, load_specialties
from portal.record.models import ClinicAttachment, Referral, Visit
from portal.record.service import CardContext, age_on, open_section

SECTION = policy.APPOINTMENTS
LIST_LIMIT = 200  # slots of one day, doctors of one specialty: a page never shows more


def direct_specialties() -> tuple[str, ...]:
    return tuple(current_app.config["DIRECT_BOOKING_SPECIALTIES"])


def per_specialty() -> int:
    return int(current_app.config["APPOINTMENTS_PER_SPECIALTY"])


def cutoff() -> timedelta:
    return timedelta(hours=int(current_app.config["CANCEL_CUTOFF_HOURS"]))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- opening the card for booking ----------------------------------------------------------------


def open_for_booking(account, patient_id: int, object_type: str | None = None, object_id=None) -> CardContext:
    """Decide (``policy.require_booking``) and audit the read a booking page makes, in the caller's
    write transaction; the card is named on the page (``g.card``)."""
    decision, patient = policy.require_booking(account, patient_id)
    policy.record_access(account, decision, "read", patient_id, SECTION, object_type, object_id)
    context = CardContext(
        patient,
        decision,
        age_on(patient.birth_date, policy.today()),
        policy.visible_sections(account, patient, decision),
    )
    g.card = context
    return context


def open_booking_page(account, patient_id: int) -> CardContext:
    with write_transaction():
        return open_for_booking(account, patient_id)


# -- referrals -----------------------------------------------------------------------------------


def referral_specialty(target: str) -> str | None:
    """The specialty a consultation referral names («Консультация врача-кардиолога» → 21)."""
    folded = target.casefold()
    found = [s for s in load_specialties() if s.doctor.casefold() in folded]
    return max(found, key=lambda s: len(s.doctor)).code if found else None


@dataclass(frozen=True)
class UsableReferral:
    id: int
    number: str
    target: str
    valid_until: date
    specialty_code: str


def usable_referrals(patient_id: int) -> list[UsableReferral]:
    """The card's referrals a booking can use: consultations, issued, not expired (one statement)."""
    rows = db.session.execute(
        select(Referral.id, Referral.number, Referral.target, Referral.valid_until)
        .where(
            Referral.patient_id == patient_id,
            Referral.kind == "consultation",
            Referral.status == "issued",
            Referral.valid_until >= clock.today(),
        )
        .order_by(Referral.valid_until, Referral.id)
    )
    found = []
    for row in rows:
        code = referral_specialty(row.target)
        if code is not None:
            found.append(UsableReferral(row.id, row.number, row.target, row.valid_until, code))
    return found


@dataclass(frozen=True)
class SpecialtyChoice:
    code: str
    referrals: list[UsableReferral]
    direct: bool


def specialty_choices(patient_id: int) -> list[SpecialtyChoice]:
    """What the card may book: the direct specialties, then those a valid referral opens."""
    referrals = usable_referrals(patient_id)
    codes = [c for c in direct_specialties() if c in by_code()]
    choices = [SpecialtyChoice(c, [r for r in referrals if r.specialty_code == c], True) for c in codes]
    for code in dict.fromkeys(r.specialty_code for r in referrals):
        if code not in codes:
            choices.append(SpecialtyChoice(code, [r for r in referrals if r.specialty_code == code], False))
    return choices


# -- the steps: doctors, dates, slots ------------------------------------------------------------


def _window() -> tuple[datetime, datetime]:
    start = clock.now()
    return start, clock.day_start(clock.today() + timedelta(days=schedule.horizon_days() + 14))


# The steps' statements are built once per process and shape (one doctor or any, the database, the
# time zone's offset) with their values as bound parameters: building a select with its subqueries
# and window took longer than SQLite took to run it. They hold no data, so nothing in them goes stale.
_STATEMENTS: dict[tuple, Any] = {}


def _statement(key: tuple, build: Callable[[], Any]) -> Any:
    found = _STATEMENTS.get(key)
    if found is None:
        found = _STATEMENTS[key] = build()
    return found


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _params(specialty: str, doctor_id: int | None = None, patient_id: int | None = None, **more: Any) -> dict:
    """The values of a step's statement: the specialty, the window, the doctor, the card's clinic."""
    start, end = _window()
    today = clock.today()
    return {"specialty": specialty, "window_start": start, "window_end": end, "doctor_id": doctor_id,
            "patient_id": patient_id or 0, "today": today, **more}  # fmt: skip


def _free(one_doctor: bool) -> list:
    """The conditions of a free slot of the specialty (or of one of its doctors) in the window.

    The specialty is a subquery of practitioner ids rather than a join: both SQLite and PostgreSQL
    then read the specialty's practitioners first and each one's free slots from
    ix_slot_practitioner_status_start (migration 0014), the index alone for the counts. Joined,
    SQLite read every free slot of the window (ix_slot_status_start) and threw away the other
    specialties' — 75,000 slots for a region of 300 practitioners and four weeks."""
    of_specialty = select(Practitioner.id).where(Practitioner.specialty_code == bindparam("specialty"))
    conditions = [
        Slot.practitioner_id.in_(of_specialty),
        Slot.status == "free",
        Slot.starts_at > bindparam("window_start"),
        Slot.starts_at < bindparam("window_end"),
    ]
    if one_doctor:
        conditions.append(Slot.practitioner_id == bindparam("doctor_id"))
    return conditions


def _own_clinic():
    """The clinics the card is attached to today, as a subquery (no statement of its own)."""
    return select(ClinicAttachment.organisation_id).where(
        policy.attached_now(bindparam("patient_id"), bindparam("today", type_=Date))
    )


@dataclass(frozen=True)
class DoctorChoice:
    id: int
    surname: str
    name: str
    patronymic: str | None
    position: str | None
    organisation_id: int
    organisation: str
    address: str
    free: int
    first: datetime
    own_clinic: bool

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


def _doctors_statement():
    free = (
        select(Slot.practitioner_id, func.count().label("free"), func.min(Slot.starts_at).label("first"))
        .where(*_free(one_doctor=False))
        .group_by(Slot.practitioner_id)
        .subquery()
    )
    own = case((Practitioner.organisation_id.in_(_own_clinic()), 1), else_=0)
    return (
        select(
            Practitioner.id,
            Practitioner.surname,
            Practitioner.name,
            Practitioner.patronymic,
            Practitioner.position,
            Organisation.id,
            Organisation.name,
            Organisation.address,
            free.c.free,
            free.c.first,
            own,
        )
        .select_from(free)
        .join(Practitioner, Practitioner.id == free.c.practitioner_id)
        .join(Organisation, Organisation.id == Practitioner.organisation_id)
        .order_by(own.desc(), free.c.first, Practitioner.surname, Practitioner.id)
        .limit(LIST_LIMIT)
    )


def doctors(specialty: str, patient_id: int | None) -> list[DoctorChoice]:
    """The specialty's doctors with free slots ahead: the card's own clinic first, then the one
    with the soonest time. One statement: the free slots counted per doctor from the index, then
    only those doctors' names and clinics joined."""
    rows = db.session.execute(_statement(("doctors",), _doctors_statement), _params(specialty, patient_id=patient_id))
    return [DoctorChoice(*row[:9], _aware(row[9]), bool(row[10])) for row in rows]


def doctor(doctor_id: int) -> Practitioner | None:
    return db.session.get(Practitioner, doctor_id)


def _offset_hours() -> int:
    """The portal's offset from UTC now, in hours. Moscow keeps one offset all year."""
    offset = clock.now().astimezone(clock.zone()).utcoffset() or timedelta()
    return int(offset.total_seconds() // 3600)


def _local_day(column, dialect: str, hours: int):
    """The portal's calendar day of a stored moment, in SQL."""
    if dialect == "postgresql":
        return cast(func.timezone(str(clock.zone()), column), Date)
    # A literal, not a parameter: the date step groups and orders by this expression, and SQLite
    # sees the three as one only when they are written alike (else it sorts the days again).
    return func.date(column, literal_column(f"'{hours:+d} hours'"))


@dataclass(frozen=True)
class DayChoice:
    day: date
    free: int


def _days_statement(one_doctor: bool, dialect: str, hours: int):
    if one_doctor:  # one doctor's slots: one time each
        day = _local_day(Slot.starts_at, dialect, hours)
        query = select(day, func.count()).where(*_free(one_doctor=True))
    elif dialect == "postgresql":
        # The times first (a hash of about a thousand), then the days: half the work of sorting
        # every slot of the specialty for COUNT(DISTINCT).
        at = select(Slot.starts_at).where(*_free(one_doctor=False)).group_by(Slot.starts_at).subquery()
        day = _local_day(at.c.starts_at, dialect, hours)
        query = select(day, func.count())
    else:  # SQLite would read the times in order from ix_slot_status_start, every specialty's
        day = _local_day(Slot.starts_at, dialect, hours)
        query = select(day, func.count(Slot.starts_at.distinct())).where(*_free(one_doctor=False))
    return query.group_by(day).order_by(day)


def days(specialty: str, doctor_id: int | None) -> list[DayChoice]:
    """The days with free times of the specialty (or of one doctor), with how many: distinct
    times for any doctor, as the time step lists them. One statement."""
    shape = (doctor_id is not None, _dialect(), _offset_hours())
    rows = db.session.execute(
        _statement(("days", *shape), lambda: _days_statement(*shape)), _params(specialty, doctor_id)
    )
    return [DayChoice(value if isinstance(value, date) else date.fromisoformat(value), n) for value, n in rows]


# Parts of the day, by the hour they start in the portal's time zone: the time step groups its
# times under these (and its filter narrows to one).
PARTS_OF_DAY = (("morning", 0), ("day", 12), ("evening", 17))


def part_bounds(day: date, part: str) -> tuple[datetime, datetime]:
    """[start, end) of ``part`` of ``day`` ("" the whole day), in UTC."""
    start, end = clock.day_start(day), clock.day_start(day + timedelta(days=1))
    hours = dict(PARTS_OF_DAY)
    if part:
        names = [name for name, _hour in PARTS_OF_DAY]
        following = names.index(part) + 1
        end = start + timedelta(hours=hours[names[following]]) if following < len(names) else end
        start = start + timedelta(hours=hours[part])
    return start, end


def part_of(local: datetime) -> str:
    """The part of the day of a moment in the portal's time zone."""
    return [name for name, starts in PARTS_OF_DAY if local.hour >= starts][-1]


@dataclass(frozen=True)
class TimeChoice:
    slot_id: int
    starts_at: datetime
    kind: str


def _times_statement(one_doctor: bool):
    rank = (
        func.row_number()
        .over(
            partition_by=Slot.starts_at,
            order_by=(
                case((Slot.kind == "in_person", 0), else_=1),
                case((Slot.organisation_id.in_(_own_clinic()), 0), else_=1),
                Slot.id,
            ),
        )
        .label("rank")
    )
    ranked = (
        select(Slot.id, Slot.starts_at, Slot.kind, rank)
        .where(*_free(one_doctor), Slot.starts_at >= bindparam("from"), Slot.starts_at < bindparam("until"))
        .subquery()
    )
    return (
        select(ranked.c.id, ranked.c.starts_at, ranked.c.kind)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.starts_at)
        .limit(LIST_LIMIT)
    )


def times(specialty: str, doctor_id: int | None, day: date, part: str, patient_id: int | None) -> list[TimeChoice]:
    """The free times of one day (``part`` of it), soonest first, each time once: for any doctor
    the slot at that time a person would want (in person rather than online or at home, then the
    card's own clinic, then the first made); the confirm page names its doctor and clinic. One
    statement."""
    start, end = part_bounds(day, part)
    one = doctor_id is not None
    rows = db.session.execute(
        _statement(("times", one), lambda: _times_statement(one)),
        _params(specialty, doctor_id, patient_id, **{"from": start, "until": end}),
    )
    return [TimeChoice(row[0], _aware(row[1]), row[2]) for row in rows]


@dataclass(frozen=True)
class SlotChoice:
    id: int
    starts_at: datetime
    ends_at: datetime
    room: str | None
    kind: str
    practitioner_id: int
    surname: str
    name: str
    patronymic: str | None
    organisation: str
    address: str

    @property
    def doctor_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


def _slot_query():
    return (
        select(
            Slot.id,
            Slot.starts_at,
            Slot.ends_at,
            Slot.room,
            Slot.kind,
            Practitioner.id,
            Practitioner.surname,
            Practitioner.name,
            Practitioner.patronymic,
            Organisation.name,
            Organisation.address,
        )
        .join(Practitioner, Practitioner.id == Slot.practitioner_id)
        .join(Organisation, Organisation.id == Slot.organisation_id)
    )


def _slot_choice(row) -> SlotChoice:
    return SlotChoice(row[0], _aware(row[1]), _aware(row[2]), *row[3:])


def slot_choice(slot_id: int) -> SlotChoice | None:
    row = db.session.execute(_slot_query().where(Slot.id == slot_id)).first()
    return _slot_choice(row) if row else None


def nearest(specialty: str | None, organisation_id: int | None, exclude_slot: int | None = None) -> list[SlotChoice]:
    """The three nearest free slots of the specialty (the same clinic first), for a page that
    could not book the one asked for. Two statements."""
    if not specialty:
        return []
    found = schedule.alternatives(specialty, organisation_id or 0, limit=schedule.ALTERNATIVES + 1)
    ids = [a.slot_id for a in found if a.slot_id != exclude_slot][: schedule.ALTERNATIVES]
    if not ids:
        return []
    rows = {row[0]: _slot_choice(row) for row in db.session.execute(_slot_query().where(Slot.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


# -- booking -------------------------------------------------------------------------------------


class Refused(Exception):
    """Booking, cancelling or moving was refused; nothing changed. ``reason`` names why (a key of
    the views' messages); ``alternatives`` are the nearest free times, when there are any."""

    def __init__(self, reason: str, alternatives: list[SlotChoice] | None = None, appointment_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.alternatives = alternatives or []
        self.appointment_id = appointment_id


@dataclass
class Booked:
    appointment: Appointment
    already: bool = False  # the same card already held this slot (the form sent twice)
    moved: bool = False  # a booked appointment was moved here (not a rebooking after the clinic cancelled)


def ticket_number(appointment: Appointment) -> str:
    if appointment.number:
        return appointment.number
    created = _aware(appointment.created_at) if appointment.created_at else clock.now()
    return f"Т-{created.year}-{appointment.id:06d}"


def _check_referral(patient_id: int, referral_id: int | None, specialty: str) -> Referral | None:
    """The referral the booking uses: required for a specialty not booked directly, and it must be
    the card's own, valid, for this specialty. Refused("referral") otherwise."""
    if referral_id is None:
        if specialty not in direct_specialties():
            raise Refused("referral_needed")
        return None
    referral = db.session.get(Referral, referral_id)
    if (
        referral is None
        or referral.patient_id != patient_id
        or referral.kind != "consultation"
        or referral.status != "issued"
        or referral.valid_until < clock.today()
        or referral_specialty(referral.target) != specialty
    ):
        raise Refused("referral")
    return referral


def book(
    account, patient_id: int, slot_id: int, referral_id: int | None = None, replacing: int | None = None
) -> Booked:
    """Book the slot for the card (``replacing``: move that appointment of the card onto it, in
    one transaction). Refused with the nearest free times when the slot is gone."""
    try:
        with write_transaction():
            return _book(account, patient_id, slot_id, referral_id, replacing)
    except IntegrityError:
        # Another booking of the same slot committed first: the database refused this one.
        with write_transaction():
            decision, _patient = policy.require_booking(account, patient_id)
            found = db.session.get(Slot, slot_id)
            doctor_row = db.session.get(Practitioner, found.practitioner_id) if found else None
            audit.record(
                "appointment.booked",
                actor_id=account.id,
                actor_role=decision.basis,
                patient_id=patient_id,
                section=SECTION,
                object_type="slot",
                object_id=slot_id,
                outcome="failure",
                reason="the slot was taken meanwhile",
            )
        raise Refused(
            "taken",
            nearest(
                doctor_row.specialty_code if doctor_row else None, found.organisation_id if found else None, slot_id
            ),
        ) from None


def _book(account, patient_id: int, slot_id: int, referral_id: int | None, replacing: int | None) -> Booked:
    decision, patient = policy.require_booking(account, patient_id)
    slot = db.session.get(Slot, slot_id)
    if slot is None:
        raise Refused("no_slot")
    doctor_row = db.session.get(Practitioner, slot.practitioner_id)
    specialty = doctor_row.specialty_code
    own = db.session.scalar(
        select(Appointment).where(
            Appointment.slot_id == slot.id,
            Appointment.patient_id == patient_id,
            Appointment.status.in_(ACTIVE_STATUSES),
        )
    )
    if own is not None:  # the confirm form sent twice: the first one booked it
        return Booked(own, already=True)

    def refuse(reason: str):
        raise Refused(reason, nearest(specialty, slot.organisation_id, slot.id))

    if _aware(slot.starts_at) <= clock.now():
        refuse("past")
    if slot.status == "cancelled":
        refuse("cancelled")
    if slot.status != "free":
        refuse("taken")
    old = None
    if replacing is not None:
        old = db.session.get(Appointment, replacing)
        # A move (the appointment is booked) or a rebook (the clinic cancelled it).
        if old is None or old.patient_id != patient_id or old.status not in ("booked", "cancelled_by_clinic"):
            raise Refused("no_appointment")
        if old.status == "cancelled_by_clinic" and db.session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.patient_id == patient_id,
                Appointment.specialty_code == specialty,
                Appointment.status == "booked",
                Appointment.starts_at > clock.now(),
            )
        ):
            raise Refused("one_per_specialty")
        if old.status == "booked" and _aware(old.starts_at) - clock.now() < cutoff():
            raise Refused("cutoff", appointment_id=old.id)
        if old.specialty_code and old.specialty_code != specialty:
            raise Refused("other_specialty", appointment_id=old.id)
        referral = db.session.get(Referral, old.referral_id) if old.referral_id else None
        if referral is None:
            referral = _check_referral(patient_id, referral_id, specialty)
    else:
        referral = _check_referral(patient_id, referral_id, specialty)
        future = db.session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.patient_id == patient_id,
                Appointment.specialty_code == specialty,
                Appointment.status == "booked",
                Appointment.starts_at > clock.now(),
            )
        )
        if future >= per_specialty():
            raise Refused("one_per_specialty")
    moment = clock.now()
    action = "appointment.booked"
    if old is not None and old.status == "booked":
        _cancel(old, account, "cancelled_by_patient", "Перенесено на другое время", moment, decision.basis)
        action = "appointment.rescheduled"
    elif old is not None:
        action = "appointment.rebooked"
    appointment = Appointment(
        patient_id=patient_id,
        organisation_id=slot.organisation_id,
        practitioner_id=slot.practitioner_id,
        slot_id=slot.id,
        specialty_code=specialty,
        kind=slot.kind,
        starts_at=slot.starts_at,
        room=slot.room,
        status="booked",
        referral_id=referral.id if referral else None,
        booked_by_id=account.id,
        created_at=moment,
    )
    db.session.add(appointment)
    db.session.flush()  # the partial unique index decides here: IntegrityError when taken meanwhile
    appointment.number = f"Т-{moment.year}-{appointment.id:06d}"
    db.session.execute(update(Slot).where(Slot.id == slot.id).values(status="booked", held_until=None))
    if referral is not None and referral.status == "issued":
        referral.status = "used"
    care.open_for(appointment, account.id, decision.basis)
    audit.record(
        action,
        actor_id=account.id,
        actor_role=decision.basis,
        patient_id=patient_id,
        section=SECTION,
        organisation_id=slot.organisation_id,
        object_type="appointment",
        object_id=appointment.id,
        reason=f"from appointment {old.id}"
        if old is not None
        else (f"referral {referral.number}" if referral else None),
    )
    db.session.flush()
    events.publish(events.AppointmentBooked.of(appointment, moved_from=old.id if old is not None else None))
    return Booked(appointment, moved=action == "appointment.rescheduled")


def _cancel(
    appointment: Appointment, account, status: str, reason: str | None, moment: datetime, role: str = "self"
) -> None:
    appointment.status = status
    appointment.cancelled_at = moment
    appointment.cancelled_by_id = account.id
    appointment.cancel_reason = reason
    appointment.updated_at = moment
    db.session.flush()  # the slot is free for the next booking in this same transaction
    if appointment.slot_id is not None:
        db.session.execute(
            update(Slot).where(Slot.id == appointment.slot_id, Slot.status == "booked").values(status="free")
        )
    care.end_for([appointment.id], account.id, role, moment)
    events.publish(events.AppointmentCancelled.of(appointment))


def cancel(account, patient_id: int, appointment_id: int) -> Appointment:
    """Cancel the card's appointment before the cut-off; the slot is free at once."""
    with write_transaction():
        decision, _patient = policy.require_booking(account, patient_id)
        appointment = db.session.get(Appointment, appointment_id)
        if appointment is None or appointment.patient_id != patient_id:
            raise LookupError(appointment_id)
        if appointment.status != "booked":
            raise Refused("not_booked", appointment_id=appointment.id)
        if _aware(appointment.starts_at) - clock.now() < cutoff():
            raise Refused("cutoff", appointment_id=appointment.id)
        _cancel(appointment, account, "cancelled_by_patient", None, clock.now(), decision.basis)
        audit.record(
            "appointment.cancelled",
            actor_id=account.id,
            actor_role=decision.basis,
            patient_id=patient_id,
            section=SECTION,
            organisation_id=appointment.organisation_id,
            object_type="appointment",
            object_id=appointment.id,
        )
        if appointment.slot_id is not None:  # the freed time goes to the waiting list first
            offers.offer_slot(appointment.slot_id)
        return appointment


# -- the ticket and the list ---------------------------------------------------------------------


@dataclass
class Ticket:
    appointment: Appointment
    number: str
    doctor: Practitioner | None
    organisation: Organisation
    referral: Referral | None
    changeable: bool  # booked, and before the cut-off
    may_change: bool  # this reader may cancel or move (the booking policy)
    alternatives: list[SlotChoice] = field(default_factory=list)  # after the clinic cancelled
    slot_end: datetime | None = None

    @property
    def ends_at(self) -> datetime:
        return self.slot_end or _aware(self.appointment.starts_at) + timedelta(minutes=30)

    @property
    def qr_text(self) -> str:
        """What the reception's scanner reads: the portal, the ticket number, the time and the clinic."""
        start = _aware(self.appointment.starts_at).astimezone(clock.zone())
        return f"MEDKARTA;TALON:{self.number};AT:{start.isoformat(timespec='minutes')};ORG:{self.organisation.oid}"


def ticket(account, patient_id: int, appointment_id: int) -> Ticket:
    """The card's appointment as its ticket, the read audited; LookupError when not this card's."""
    with write_transaction():
        context = open_section(account, patient_id, SECTION, "read", "appointment", appointment_id)
        # The appointment, its slot's end and its doctor (with the doctor's clinic) in one statement.
        row = db.session.execute(
            select(Appointment, Slot.ends_at, Practitioner)
            .outerjoin(Slot, Slot.id == Appointment.slot_id)
            .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
            .where(Appointment.id == appointment_id)
        ).first()
        if row is None or row[0].patient_id != patient_id:
            raise LookupError(appointment_id)
    appointment, slot_end, doctor_row = row
    may_change = policy.decide_booking(account, context.patient).allowed
    found = Ticket(
        appointment,
        ticket_number(appointment),
        doctor_row,
        db.session.get(Organisation, appointment.organisation_id),
        db.session.get(Referral, appointment.referral_id) if appointment.referral_id else None,
        appointment.status == "booked" and _aware(appointment.starts_at) - clock.now() >= cutoff(),
        may_change,
        slot_end=_aware(slot_end) if slot_end else None,
    )
    if appointment.status == "cancelled_by_clinic" and may_change:
        found.alternatives = nearest(appointment.specialty_code, appointment.organisation_id)
    return found


@dataclass(frozen=True)
class Listed:
    id: int
    number: str | None
    starts_at: datetime
    status: str
    specialty_code: str | None
    surname: str | None
    name: str | None
    patronymic: str | None
    organisation: str
    visit_id: int | None = None  # the visit the appointment became (a Visit record of the card)

    @property
    def doctor_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


def appointments_of(account, patient_id: int) -> tuple[CardContext, list[Listed], list[Listed], bool]:
    """(card, upcoming, past, may book) — the card's appointments, the read audited. One statement
    for the list."""
    with write_transaction():
        context = open_section(account, patient_id, SECTION)
    rows = db.session.execute(
        select(
            Appointment.id,
            Appointment.number,
            Appointment.starts_at,
            Appointment.status,
            Appointment.specialty_code,
            Practitioner.surname,
            Practitioner.name,
            Practitioner.patronymic,
            Organisation.name,
            Appointment.created_at,
            Visit.id,
        )
        .join(Organisation, Organisation.id == Appointment.organisation_id)
        .outerjoin(Visit, (Visit.id == Appointment.visit_id) & (Visit.patient_id == Appointment.patient_id))
        .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        .limit(LIST_LIMIT)
    )
    now = clock.now()
    upcoming, past = [], []
    for row in rows:
        number = row.number or f"Т-{_aware(row.created_at or now).year}-{row.id:06d}"
        item = Listed(row.id, number, _aware(row.starts_at), *row[3:9], visit_id=row[10])
        (upcoming if item.starts_at > now and item.status == "booked" else past).append(item)
    upcoming.reverse()
    return context, upcoming, past, policy.decide_booking(account, context.patient).allowed


def ics(found: Ticket, title: str, description: str) -> bytes:
    """The appointment as an iCalendar event (Europe/Moscow), for the phone's calendar."""
    from icalendar import Calendar, Event

    zone = clock.zone()
    calendar = Calendar()
    calendar.add("prodid", "-//Medkarta//appointments//RU")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"{found.number}@medkarta")
    event.add("dtstamp", clock.now())
    event.add("dtstart", _aware(found.appointment.starts_at).astimezone(zone))
    event.add("dtend", found.ends_at.astimezone(zone))
    event.add("summary", title)
    event.add("location", f"{found.organisation.name}, {found.organisation.address}")
    event.add("description", description)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()
