"""Schedules, slots and appointments; the waiting list, home visits and reminders that build on
them.

The database, not Python, keeps the two rules that matter under concurrency:
- a slot is generated once: UNIQUE (practitioner_id, starts_at), so generating twice adds nothing;
- one appointment per slot: a partial unique index on appointment.slot_id over the states that
  hold the slot (booked, arrived, completed, no_show). A cancelled appointment leaves the slot to
  the next booking, and the row stays for the history. SQLite (3.8+) and PostgreSQL both enforce
  partial unique indexes, so the same migration gives the same guarantee on both; a plain UNIQUE
  on slot_id would forbid rebooking a slot after a cancellation, and a trigger would be two
  dialects' code for what one index says.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base

KINDS = ("in_person", "home", "online")  # the core's; plugins add more (appointments.kinds)
# Any kind's key: the database cannot list the kinds, which depend on the plugins a deployment runs.
KIND_SQL = "kind <> '' AND kind = lower(kind)"
SLOT_STATUSES = ("free", "held", "booked", "cancelled")
EXCEPTION_KINDS = ("holiday", "sick_leave", "training")
APPOINTMENT_STATUSES = (
    "booked",
    "arrived",
    "completed",
    "no_show",
    "cancelled_by_patient",
    "cancelled_by_clinic",
)
# The states in which an appointment holds its slot (the partial unique index's condition).
ACTIVE_STATUSES = ("booked", "arrived", "completed", "no_show")
CANCELLED_STATUSES = ("cancelled_by_patient", "cancelled_by_clinic")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


ACTIVE_SQL = _in("status", ACTIVE_STATUSES)


class ScheduleRule(Base):
    """A practitioner's working rule: on these weekdays (ISO digits, "135" = Mon, Wed, Fri),
    optionally only in even or odd ISO weeks, from start to end in slots of ``slot_minutes``, in
    a room, of one kind, between two dates (``valid_until`` None: until changed)."""

    __tablename__ = "schedule_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    weekdays: Mapped[str] = mapped_column(String(7))
    week_parity: Mapped[str | None] = mapped_column(String(4))  # None every week, or "even"/"odd"
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger)
    room: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="in_person")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(KIND_SQL, name="kind"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes"),
        CheckConstraint("week_parity IS NULL OR week_parity IN ('even', 'odd')", name="week_parity"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="valid_range"),
    )


class ScheduleException(Base):
    """No work from ``starts_on`` to ``ends_on`` (inclusive): a holiday, sick leave or training of
    one practitioner, of a whole department, or (neither named) of the whole organisation."""

    __tablename__ = "schedule_exception"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    kind: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("kind", EXCEPTION_KINDS), name="kind"),
        CheckConstraint("ends_on >= starts_on", name="date_range"),
        CheckConstraint("practitioner_id IS NULL OR department_id IS NULL", name="one_scope"),
    )


class Slot(Base):
    """A bookable time of one practitioner. Generated from the rules; ``held`` while offered to
    someone on the waiting list (until ``held_until``)."""

    __tablename__ = "slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule_rule.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    room: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="in_person")
    status: Mapped[str] = mapped_column(String(16), default="free")
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("practitioner_id", "starts_at", name="uq_slot_practitioner_starts_at"),
        CheckConstraint(KIND_SQL, name="kind"),
        CheckConstraint(_in("status", SLOT_STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_slot_organisation_status_start", "organisation_id", "status", "starts_at"),
        Index("ix_slot_status_start", "status", "starts_at"),
        # The booking steps: a specialty's practitioners, then each one's free slots in time order
        # (migration 0014).
        Index("ix_slot_practitioner_status_start", "practitioner_id", "status", "starts_at"),
    )


class Appointment(Base):
    """An appointment with a doctor: booked in the portal on a slot, or (``slot_id`` None) as the
    clinic's schedule held it before slots existed. The dashboard shows the next one."""

    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slot.id"))
    specialty_code: Mapped[str | None] = mapped_column(String(8))  # as booked (one per specialty rule)
    kind: Mapped[str] = mapped_column(String(16), default="in_person", server_default="in_person")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    room: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), default="booked")
    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # the ticket («талон») number
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))  # the visit it became
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_appointment_patient_start", "patient_id", "starts_at"),
        CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status"),
        CheckConstraint(KIND_SQL, name="kind"),
        # One appointment per slot among those holding it: the database refuses a double booking.
        Index(
            "uq_appointment_active_slot",
            "slot_id",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
    )


class WaitingListEntry(Base):
    """A citizen waiting for a slot of a specialty (optionally one doctor or organisation, and
    preferred weekdays and times), told by ``channels`` (comma-separated) when one is offered."""

    __tablename__ = "waiting_list_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    specialty_code: Mapped[str] = mapped_column(String(8))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    preferred_weekdays: Mapped[str | None] = mapped_column(String(7))
    preferred_from: Mapped[time | None] = mapped_column(Time)
    preferred_until: Mapped[time | None] = mapped_column(Time)
    channels: Mapped[str] = mapped_column(String(64), default="portal")
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting, booked, cancelled
    created_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'booked', 'cancelled')", name="status"),
        Index("ix_waiting_list_entry_specialty_status_created", "specialty_code", "status", "created_at"),
    )


class WaitingListOffer(Base):
    """A slot offered to one waiting citizen until ``expires_at``; accepted, passed on or withdrawn."""

    __tablename__ = "waiting_list_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waiting_list_entry.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, accepted, passed, withdrawn
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'passed', 'withdrawn')", name="status"),
        # A slot is offered to one person at a time.
        Index(
            "uq_waiting_list_offer_open_slot",
            "slot_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class HomeVisitRequest(Base):
    """A call for a doctor at home («вызов врача на дом») to the attached clinic."""

    __tablename__ = "home_visit_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    address: Mapped[str] = mapped_column(String(300))
    symptoms: Mapped[str] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Numeric(3, 1))
    phone: Mapped[str] = mapped_column(String(20))
    # new, accepted, refused, done, cancelled
    status: Mapped[str] = mapped_column(String(16), default="new")
    refusal_reason: Mapped[str | None] = mapped_column(String(300))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    visit_on: Mapped[date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A cancelled call: by the citizen (a reason optional) or by the clinic (a reason required).
    cancelled_by: Mapped[str | None] = mapped_column(String(16))  # citizen, clinic
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('new', 'accepted', 'refused', 'done', 'cancelled')", name="status"),
        CheckConstraint("cancelled_by IS NULL OR cancelled_by IN ('citizen', 'clinic')", name="cancelled_by"),
        Index("ix_home_visit_request_organisation_status_created", "organisation_id", "status", "created_at"),
    )


class AppointmentReminder(Base):
    """A reminder sent for an appointment: one row per kind, so a second run sends nothing twice."""

    __tablename__ = "appointment_reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"))
    kind: Mapped[str] = mapped_column(String(16))  # day_before, two_hours
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("appointment_id", "kind", name="uq_appointment_reminder_appointment_kind"),
        CheckConstraint("kind IN ('day_before', 'two_hours')", name="kind"),
    )
