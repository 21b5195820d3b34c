"""The organisation admin's schedules: the working rules of the organisation's doctors and the
exceptions (holiday, sick leave, training) that cancel their appointments.

``policy.decide_schedule`` decides (the admin of that organisation only). A new exception runs the
exception service (``schedule.apply_exception``), which cancels the covered slots and booked
appointments with the reason and ends the care they opened; a changed rule reaches its slots at
once through the same machinery (``schedule.reshape``): its future slots the new rule no longer
makes are cancelled, booked ones too, and the new ones are made. Each patient whose appointment the
clinic cancelled (or a child's guardians) is told in the inbox, the message leading to the ticket,
which offers the three nearest free times and a one-click rebook. Removing an exception makes its
days' slots bookable again (``schedule.lift_exception``). A new rule (``add_rule``) for a doctor of
the organisation, one newly listed too, makes its slots for the booking horizon at once, so patients
can book that doctor straight away; it may not overlap another rule of the same doctor. An admin
of several organisations names the one they work on (``organisation_of``); another is 404.
Everything is audited with the admin as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import or_, select

from portal import clock
from portal.access import policy
from portal.appointments import desk, kinds, schedule
from portal.appointments.models import Appointment, ScheduleException, ScheduleRule
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Organisation, Practitioner


class AdminRefused(Exception):
    """Nothing changed; ``reason`` is a key of the page's messages."""

    def __init__(self, reason: str, rule: ScheduleRule | None = None):
        super().__init__(reason)
        self.reason = reason
        self.rule = rule  # the other rule an overlap runs into


def organisation_of(account: Account, organisation_id: int | None = None) -> Organisation:
    """The organisation the admin works on: ``organisation_id`` when given (LookupError, 404, when
    the account does not administer it), else the first of theirs; LookupError when none."""
    organisations = sorted(policy.admin_organisations(account))
    if not organisations:
        raise LookupError("not an org admin")
    if organisation_id is None:
        organisation_id = organisations[0]
    if not policy.decide_schedule(account, organisation_id).allowed:
        raise LookupError(organisation_id)
    return db.session.get(Organisation, organisation_id)


def administered(account: Account) -> list[Organisation]:
    """Every organisation the account administers, by name (the overview's switcher)."""
    ids = sorted(policy.admin_organisations(account))
    return list(db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)))


@dataclass
class Overview:
    organisation: Organisation
    practitioners: list[Practitioner]
    rules: dict[int, list[ScheduleRule]]
    exceptions: list[ScheduleException]
    organisations: list[Organisation]


def overview(account: Account, organisation_id: int | None = None) -> Overview:
    """The organisation's doctors with their rules, and the exceptions from today on: three
    four
    statements whatever the size."""
    organisation = organisation_of(account, organisation_id)
    practitioners = list(
        db.session.scalars(
            select(Practitioner)
            .where(Practitioner.organisation_id == organisation.id)
            .order_by(Practitioner.surname, Practitioner.name, Practitioner.id)
        )
    )
    rules: dict[int, list[ScheduleRule]] = {}
    for rule in db.session.scalars(
        select(ScheduleRule)
        .where(ScheduleRule.organisation_id == organisation.id)
        .order_by(ScheduleRule.practitioner_id, ScheduleRule.weekdays, ScheduleRule.start_time, ScheduleRule.id)
    ):
        rules.setdefault(rule.practitioner_id, []).append(rule)
    exceptions = list(
        db.session.scalars(
            select(ScheduleException)
            .where(ScheduleException.organisation_id == organisation.id, ScheduleException.ends_on >= clock.today())
            .order_by(ScheduleException.starts_on, ScheduleException.id)
        )
    )
    return Overview(organisation, practitioners, rules, exceptions, administered(account))


def rule_of(account: Account, rule_id: int) -> ScheduleRule:
    """A rule of the admin's organisation; LookupError (404) for another's."""
    rule = db.session.get(ScheduleRule, rule_id)
    if rule is None or not policy.decide_schedule(account, rule.organisation_id).allowed:
        raise LookupError(rule_id)
    return rule


def update_rule(
    account: Account,
    rule_id: int,
    *,
    weekdays: str,
    start_time: time,
    end_time: time,
    slot_minutes: int,
    room: str | None,
    valid_until: date | None,
) -> list[schedule.Affected]:
    """Change the rule and reshape its slots; the booked appointments it cancelled (each patient
    told)."""
    with write_transaction():
        rule = rule_of(account, rule_id)
        if valid_until is not None and valid_until < max(rule.valid_from, clock.today()):
            raise AdminRefused("valid_until_past")
        rule.weekdays, rule.start_time, rule.end_time = weekdays, start_time, end_time
        rule.slot_minutes, rule.room, rule.valid_until = slot_minutes, room or None, valid_until
        audit.record(
            "schedule.rule_changed",
            actor_id=account.id,
            actor_role="org_admin",
            organisation_id=rule.organisation_id,
            object_type="schedule_rule",
            object_id=rule.id,
            reason=f"{weekdays} {start_time:%H:%M}-{end_time:%H:%M}/{slot_minutes}",
        )
        affected = schedule.reshape(rule, account.id)
        _tell_cancelled(affected)
        return affected


def _overlapping(
    practitioner_id: int, weekdays: str, start_time: time, end_time: time, valid_from: date, valid_until: date | None
) -> ScheduleRule | None:
    """The doctor's first rule that works on one of these weekdays at these hours on a day both
    rules are valid (whatever its week parity: the new rule works every week)."""
    query = select(ScheduleRule).where(
        ScheduleRule.practitioner_id == practitioner_id,
        ScheduleRule.start_time < end_time,
        ScheduleRule.end_time > start_time,
        or_(ScheduleRule.valid_until.is_(None), ScheduleRule.valid_until >= valid_from),
    )
    if valid_until is not None:
        query = query.where(ScheduleRule.valid_from <= valid_until)
    for rule in db.session.scalars(query.order_by(ScheduleRule.weekdays, ScheduleRule.start_time, ScheduleRule.id)):
        if set(rule.weekdays) & set(weekdays):
            return rule
    return None


@dataclass
class NewRule:
    practitioner_id: int
    weekdays: str
    start_time: time
    end_time: time
    slot_minutes: int
    room: str | None
    kind: str
    valid_from: date
    valid_until: date | None


def add_rule(account: Account, new: NewRule, organisation_id: int | None = None) -> tuple[ScheduleRule, int]:
    """Add a working rule for a doctor of the organisation (another's, or one of another
    organisation than ``organisation_id``: LookupError, 404) and make its slots for the booking
    horizon at once; returns the rule and how many free times it opened. Refused (nothing
    written): a past first day, an end before it, an overlap with another rule of the doctor."""
    with write_transaction():
        doctor = db.session.get(Practitioner, new.practitioner_id)
        if doctor is None or not policy.decide_schedule(account, doctor.organisation_id).allowed:
            raise LookupError(new.practitioner_id)
        if organisation_id is not None and doctor.organisation_id != organisation_id:
            raise LookupError(new.practitioner_id)
        if new.kind not in kinds.known():
            raise AdminRefused("kind")
        if new.valid_from < clock.today():
            raise AdminRefused("valid_from_past")
        if new.valid_until is not None and new.valid_until < new.valid_from:
            raise AdminRefused("valid_until_before")
        clash = _overlapping(doctor.id, new.weekdays, new.start_time, new.end_time, new.valid_from, new.valid_until)
        if clash is not None:
            raise AdminRefused("overlap", clash)
        rule = ScheduleRule(
            practitioner_id=doctor.id,
            organisation_id=doctor.organisation_id,
            weekdays=new.weekdays,
            week_parity=None,
            start_time=new.start_time,
            end_time=new.end_time,
            slot_minutes=new.slot_minutes,
            room=(new.room or "").strip() or None,
            kind=new.kind,
            valid_from=new.valid_from,
            valid_until=new.valid_until,
        )
        db.session.add(rule)
        db.session.flush()
        audit.record(
            "schedule.rule_added",
            actor_id=account.id,
            actor_role="org_admin",
            organisation_id=doctor.organisation_id,
            object_type="schedule_rule",
            object_id=rule.id,
            reason=f"{new.kind} {new.weekdays} {new.start_time:%H:%M}-{new.end_time:%H:%M}/{new.slot_minutes}",
        )
        made = schedule.make_slots(schedule.horizon_days(), clock.today(), [doctor.id])
        return rule, made


def _tell_cancelled(affected: list[schedule.Affected]) -> None:
    """Each patient whose appointment the clinic cancelled, told with the way to the ticket."""
    for item in affected:
        appointment = db.session.get(Appointment, item.appointment_id)
        desk._tell(appointment.patient_id, "cancelled_by_clinic", appointment, appointment.cancel_reason)


def add_exception(
    account: Account,
    *,
    practitioner_id: int | None,
    kind: str,
    starts_on: date,
    ends_on: date,
    reason: str | None,
    organisation_id: int | None = None,
) -> tuple[ScheduleException, list[schedule.Affected]]:
    """Record the exception, apply it (cancelling what it covers), tell each affected patient."""
    organisation = organisation_of(account, organisation_id)
    with write_transaction():
        if practitioner_id is not None:
            doctor = db.session.get(Practitioner, practitioner_id)
            if doctor is None or doctor.organisation_id != organisation.id:
                raise LookupError(practitioner_id)  # another organisation's doctor: 404
        if starts_on < clock.today():
            raise AdminRefused("past")
        if ends_on < starts_on:
            raise AdminRefused("range")
        exception = ScheduleException(
            organisation_id=organisation.id,
            practitioner_id=practitioner_id,
            kind=kind,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=(reason or "").strip() or None,
            created_by_id=account.id,
        )
        db.session.add(exception)
        db.session.flush()
        audit.record(
            "schedule.exception_added",
            actor_id=account.id,
            actor_role="org_admin",
            organisation_id=organisation.id,
            object_type="schedule_exception",
            object_id=exception.id,
            reason=f"{kind} {starts_on.isoformat()}..{ends_on.isoformat()}",
        )
        exception_id = exception.id
    affected = schedule.apply_exception(exception_id, account.id)
    with write_transaction():
        _tell_cancelled(affected)
    return db.session.get(ScheduleException, exception_id), affected


def remove_exception(account: Account, exception_id: int) -> tuple[int, int]:
    """Remove an exception of the admin's organisation (LookupError, 404, for another's) and make
    its days' slots bookable again; returns how many, and the organisation."""
    with write_transaction():
        exception = db.session.get(ScheduleException, exception_id)
        if exception is None or not policy.decide_schedule(account, exception.organisation_id).allowed:
            raise LookupError(exception_id)
        audit.record(
            "schedule.exception_removed",
            actor_id=account.id,
            actor_role="org_admin",
            organisation_id=exception.organisation_id,
            object_type="schedule_exception",
            object_id=exception.id,
            reason=f"{exception.kind} {exception.starts_on.isoformat()}..{exception.ends_on.isoformat()}",
        )
        organisation_id = exception.organisation_id
        return schedule.lift_exception(exception), organisation_id
