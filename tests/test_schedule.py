"""Schedules: slots made from working rules (local time, weekdays, even/odd weeks, validity),
generation safe to run twice (service and command), and exceptions that cancel free slots and
booked appointments and offer the three nearest alternatives, the patient's clinic first."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from portal.appointments.models import Appointment, ScheduleException, ScheduleRule, Slot
from portal.appointments.schedule import apply_exception, generate_slots
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.directory.models import Department, Organisation, Practitioner
from portal.identifiers import make_snils
from portal.record.models import Patient

MONDAY = date(2030, 3, 4)  # ISO week 10 (even)


def _org(n: int) -> Organisation:
    return Organisation(
        oid=f"1.2.643.5.1.13.13.12.2.77.99{n:02d}",
        name=f"Поликлиника № {n}",
        kind="polyclinic",
        region_code="77",
        city="Москва",
        address=f"ул. Ленина, {n}",
        phone="+74950000000",
        search_text=f"поликлиника № {n}",
    )


def _doctor(org: int, surname: str, department: int | None = None, code: str = "72") -> Practitioner:
    return Practitioner(
        surname=surname,
        name="Анна",
        patronymic="Петровна",
        specialty="терапевт",
        specialty_code=code,
        registration_number="77-0000001",
        organisation_id=org,
        department_id=department,
    )


def _rule(doctor: Practitioner, start: time, end: time, weekdays: str = "12345", **extra) -> ScheduleRule:
    return ScheduleRule(
        practitioner_id=doctor.id,
        organisation_id=doctor.organisation_id,
        weekdays=weekdays,
        start_time=start,
        end_time=end,
        slot_minutes=15,
        room="101",
        kind="in_person",
        valid_from=extra.pop("valid_from", date(2020, 1, 1)),
        **extra,
    )


@pytest.fixture
def clinics(app):
    """Clinic A (therapy department: Иванова 09–12, Петрова 09–12) and clinic B (Сидорова 08–12)."""
    with app.app_context(), write_transaction():
        a, b = _org(1), _org(2)
        db.session.add_all([a, b])
        db.session.flush()
        therapy = Department(organisation_id=a.id, name="Терапевтическое отделение")
        db.session.add(therapy)
        db.session.flush()
        ivanova, petrova = _doctor(a.id, "Иванова", therapy.id), _doctor(a.id, "Петрова", therapy.id)
        sidorova = _doctor(b.id, "Сидорова")
        db.session.add_all([ivanova, petrova, sidorova])
        db.session.flush()
        db.session.add_all(
            [
                _rule(ivanova, time(9), time(12)),
                _rule(petrova, time(9), time(12)),
                _rule(sidorova, time(8), time(12)),
            ]
        )
        patient = Patient(
            surname="Орлова", name="Мария", birth_date=date(1970, 5, 5), sex="F", snils=make_snils("300000101")
        )
        db.session.add(patient)
        db.session.flush()
        return {
            "a": a.id,
            "b": b.id,
            "therapy": therapy.id,
            "ivanova": ivanova.id,
            "petrova": petrova.id,
            "sidorova": sidorova.id,
            "patient": patient.id,
        }


def slot_count(**where) -> int:
    query = sa.select(sa.func.count()).select_from(Slot)
    for name, value in where.items():
        query = query.where(getattr(Slot, name) == value)
    return db.session.scalar(query)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_slots_follow_the_rules_in_local_time(app, clinics):
    with app.app_context():
        added = generate_slots(7, start=MONDAY)
        # Mon–Fri: 12 slots of 15 minutes a morning for each of A's two doctors, 16 for B's.
        assert added == 5 * (12 + 12 + 16)
        first = db.session.scalar(
            sa.select(Slot).where(Slot.practitioner_id == clinics["ivanova"]).order_by(Slot.starts_at).limit(1)
        )
        # 09:00 in Moscow is 06:00 UTC; Saturday and Sunday have none.
        assert as_utc(first.starts_at) == datetime(2030, 3, 4, 6, 0, tzinfo=UTC)
        assert as_utc(first.ends_at) - as_utc(first.starts_at) == timedelta(minutes=15)
        assert (first.room, first.kind, first.status) == ("101", "in_person", "free")
        weekend = clock_day(MONDAY + timedelta(days=5))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Slot).where(Slot.starts_at >= weekend)) == 0


def clock_day(day: date) -> datetime:
    from portal import clock

    return clock.day_start(day)


def test_generating_twice_adds_nothing(app, clinics):
    with app.app_context():
        first = generate_slots(14, start=MONDAY)
        assert first > 0
        assert generate_slots(14, start=MONDAY) == 0
        assert slot_count() == first
        # A longer horizon adds only the days beyond the first run.
        assert generate_slots(21, start=MONDAY) == first // 2


def test_the_command_is_safe_to_run_twice(app, clinics):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["generate-slots", "--days", "10"])
    assert first.exit_code == 0, first.output
    with app.app_context():
        after_first = slot_count()
    assert f"slots: {after_first} added for 10 days" in first.output
    assert after_first > 0
    second = runner.invoke(args=["generate-slots", "--days", "10"])
    assert second.exit_code == 0 and "slots: 0 added" in second.output
    with app.app_context():
        assert slot_count() == after_first
    refused = runner.invoke(args=["generate-slots", "--days", "0"])
    assert refused.exit_code != 0 and "--days" in refused.output


def test_the_default_horizon_is_a_setting(app_factory, clinics):
    app = app_factory(SLOT_HORIZON_DAYS=3)
    result = app.test_cli_runner().invoke(args=["generate-slots"])
    assert "for 3 days" in result.output


def test_even_weeks_and_validity(app, clinics):
    with app.app_context(), write_transaction():
        db.session.execute(sa.delete(ScheduleRule))
        doctor = db.session.get(Practitioner, clinics["ivanova"])
        db.session.add(_rule(doctor, time(14), time(15), weekdays="3", week_parity="odd"))
        db.session.add(
            _rule(doctor, time(9), time(10), weekdays="1", valid_from=MONDAY + timedelta(days=7), valid_until=None)
        )
    with app.app_context():
        generate_slots(14, start=MONDAY)
        days = sorted({as_utc(s).date() for s in db.session.scalars(sa.select(Slot.starts_at))})
    # Week 10 is even: no Wednesday then; week 11 is odd: Wednesday 13 March. The Monday rule
    # starts on 11 March.
    assert days == [date(2030, 3, 11), date(2030, 3, 13)]


def _book(clinics, slot: Slot) -> int:
    appointment = Appointment(
        patient_id=clinics["patient"],
        organisation_id=slot.organisation_id,
        practitioner_id=slot.practitioner_id,
        slot_id=slot.id,
        specialty_code="72",
        starts_at=slot.starts_at,
        room=slot.room,
        status="booked",
    )
    slot.status = "booked"
    db.session.add(appointment)
    db.session.flush()
    return appointment.id


def test_a_sick_leave_cancels_slots_and_appointments_and_offers_alternatives(app, clinics):
    tuesday = MONDAY + timedelta(days=1)
    with app.app_context():
        generate_slots(7, start=MONDAY)
        with write_transaction():
            slot = db.session.scalar(
                sa.select(Slot)
                .where(Slot.practitioner_id == clinics["ivanova"], Slot.starts_at >= clock_day(tuesday))
                .order_by(Slot.starts_at)
                .limit(1)
            )
            booked = _book(clinics, slot)
            sick = ScheduleException(
                organisation_id=clinics["a"],
                practitioner_id=clinics["ivanova"],
                kind="sick_leave",
                starts_on=tuesday,
                ends_on=tuesday,
                reason="врач заболел",
            )
            db.session.add(sick)
            db.session.flush()
            sick_id = sick.id
        affected = apply_exception(sick_id)

        assert [a.appointment_id for a in affected] == [booked]
        appointment = db.session.get(Appointment, booked)
        assert appointment.status == "cancelled_by_clinic"
        assert appointment.cancel_reason == "Приём отменён клиникой: больничный — врач заболел"
        # Her Tuesday is cancelled, every slot of it; the other days and doctors are not.
        tuesday_slots = sa.and_(
            Slot.practitioner_id == clinics["ivanova"],
            Slot.starts_at >= clock_day(tuesday),
            Slot.starts_at < clock_day(tuesday + timedelta(days=1)),
        )
        statuses = set(db.session.scalars(sa.select(Slot.status).where(tuesday_slots)))
        assert statuses == {"cancelled"}
        assert slot_count(status="cancelled") == 12
        # Three alternatives of the same specialty, in her clinic first (Петрова at 09:00 is later
        # than Сидорова's 08:00 in clinic B, and still comes first), soonest first.
        alternatives = affected[0].alternatives
        assert len(alternatives) == 3
        assert {a.practitioner_id for a in alternatives} == {clinics["petrova"]}
        assert [as_utc(a.starts_at).time() for a in alternatives] == [time(6, 0), time(6, 15), time(6, 30)]
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "appointment.cancelled_by_clinic"))
        assert (event.patient_id, event.object_id) == (clinics["patient"], str(booked))
        # Applying it again cancels nothing more; generating again does not bring the slots back.
        assert apply_exception(sick_id) == []
        assert generate_slots(7, start=MONDAY) == 0
        assert set(db.session.scalars(sa.select(Slot.status).where(tuesday_slots))) == {"cancelled"}


def test_a_department_holiday_sends_patients_to_other_clinics(app, clinics):
    with app.app_context():
        generate_slots(7, start=MONDAY)
        with write_transaction():
            slot = db.session.scalar(
                sa.select(Slot).where(Slot.practitioner_id == clinics["petrova"]).order_by(Slot.starts_at).limit(1)
            )
            booked = _book(clinics, slot)
            holiday = ScheduleException(
                organisation_id=clinics["a"],
                department_id=clinics["therapy"],
                kind="holiday",
                starts_on=MONDAY,
                ends_on=MONDAY + timedelta(days=6),
            )
            db.session.add(holiday)
            db.session.flush()
            holiday_id = holiday.id
        affected = apply_exception(holiday_id)
        assert [a.appointment_id for a in affected] == [booked]
        assert {a.organisation_id for a in affected[0].alternatives} == {clinics["b"]}
        assert slot_count(organisation_id=clinics["a"], status="free") == 0
        assert slot_count(organisation_id=clinics["b"], status="free") == 5 * 16


def test_exception_days_get_no_slots(app, clinics):
    with app.app_context():
        with write_transaction():
            db.session.add(
                ScheduleException(
                    organisation_id=clinics["b"], kind="training", starts_on=MONDAY, ends_on=MONDAY + timedelta(days=1)
                )
            )
        generate_slots(7, start=MONDAY)
        assert slot_count(organisation_id=clinics["b"]) == 3 * 16
        assert slot_count(organisation_id=clinics["a"]) == 5 * 24


# -- a changed rule reaches its slots; a removed exception gives its slots back ---------------------


def _next_monday() -> date:
    from portal import clock

    today = clock.today()
    return today + timedelta(days=7 + (7 - today.weekday()) % 7)


def _day_slots(practitioner_id: int, day: date, *statuses: str) -> list[Slot]:
    query = sa.select(Slot).where(
        Slot.practitioner_id == practitioner_id,
        Slot.starts_at >= clock_day(day),
        Slot.starts_at < clock_day(day + timedelta(days=1)),
    )
    if statuses:
        query = query.where(Slot.status.in_(statuses))
    return list(db.session.scalars(query.order_by(Slot.starts_at)))


def _change(rule_id: int, **values) -> list:
    from portal.appointments.schedule import reshape

    with write_transaction():
        rule = db.session.get(ScheduleRule, rule_id)
        for name, value in values.items():
            setattr(rule, name, value)
        return reshape(rule, None)


def _local_times(slots: list[Slot]) -> list[str]:
    from portal import clock

    return [as_utc(s.starts_at).astimezone(clock.zone()).strftime("%H:%M") for s in slots]


def test_a_changed_rule_cancels_what_it_no_longer_makes_and_makes_the_rest(app, clinics):
    from portal.appointments.schedule import RULE_CHANGED_REASON

    monday = _next_monday()
    with app.app_context():
        generate_slots(14, start=monday)
        rule_id = db.session.scalar(
            sa.select(ScheduleRule.id).where(ScheduleRule.practitioner_id == clinics["ivanova"])
        )
        with write_transaction():
            slots = _day_slots(clinics["ivanova"], monday)
            early, late = _book(clinics, slots[0]), _book(clinics, slots[-1])  # 09:00 and 11:45
        # From 10:00 in room 202: the 09:00–09:45 times go, the booked 09:00 with them.
        affected = _change(rule_id, start_time=time(10), room="202")
        assert [a.appointment_id for a in affected] == [early]
        cancelled = db.session.get(Appointment, early)
        assert (cancelled.status, cancelled.cancel_reason) == ("cancelled_by_clinic", RULE_CHANGED_REASON)
        assert {a.practitioner_id for a in affected[0].alternatives} == {clinics["petrova"]}  # her clinic first
        assert db.session.get(Appointment, late).status == "booked"
        open_ = _day_slots(clinics["ivanova"], monday, "free", "booked")
        assert _local_times(open_) == [f"{h}:{m:02d}" for h in (10, 11) for m in (0, 15, 30, 45)]
        assert {s.room for s in open_ if s.status == "free"} == {"202"}
        assert [s.room for s in open_ if s.status == "booked"] == ["101"]  # a booked time keeps its room
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "appointment.cancelled_by_clinic"))
        assert (event.object_id, event.reason) == (str(early), RULE_CHANGED_REASON)
        # Back to 09:00: the cancelled times are free again (the cancelled appointment stays so).
        assert _change(rule_id, start_time=time(9)) == []
        assert len(_day_slots(clinics["ivanova"], monday, "free")) == 11
        assert db.session.get(Appointment, early).status == "cancelled_by_clinic"
        # Slots of 20 minutes: 09:00, 09:20 … 11:40; the booked 11:45 is no longer a time of hers.
        affected = _change(rule_id, slot_minutes=20)
        assert [a.appointment_id for a in affected] == [late]
        open_ = _day_slots(clinics["ivanova"], monday, "free", "booked", "held")
        assert _local_times(open_) == [f"{h:02d}:{m:02d}" for h in (9, 10, 11) for m in (0, 20, 40)]
        assert all(as_utc(s.ends_at) - as_utc(s.starts_at) == timedelta(minutes=20) for s in open_)
        # Generating again changes nothing; the other doctors' days are untouched.
        assert generate_slots(14, start=monday) == 0
        assert len(_day_slots(clinics["petrova"], monday, "free")) == 12


def test_a_rule_cut_short_cancels_its_days_after_the_end(app, clinics):
    monday = _next_monday()
    with app.app_context():
        generate_slots(14, start=monday)
        rule_id = db.session.scalar(
            sa.select(ScheduleRule.id).where(ScheduleRule.practitioner_id == clinics["ivanova"])
        )
        with write_transaction():
            booked = _book(clinics, _day_slots(clinics["ivanova"], monday + timedelta(days=8))[0])
        affected = _change(rule_id, valid_until=monday + timedelta(days=6), weekdays="135")
        assert [a.appointment_id for a in affected] == [booked]
        assert _day_slots(clinics["ivanova"], monday + timedelta(days=1), "free") == []  # Tuesday: not a day now
        assert len(_day_slots(clinics["ivanova"], monday + timedelta(days=2), "free")) == 12
        assert _day_slots(clinics["ivanova"], monday + timedelta(days=7), "free") == []  # after its end


def test_removing_an_exception_gives_back_the_slots_it_cancelled(app, clinics):
    from portal.appointments.schedule import lift_exception

    monday = _next_monday()
    tuesday = monday + timedelta(days=1)
    with app.app_context():
        generate_slots(14, start=monday)
        with write_transaction():
            booked = _book(clinics, _day_slots(clinics["ivanova"], tuesday)[0])
            ids = []
            for practitioner, days in ((clinics["ivanova"], (tuesday, tuesday + timedelta(days=1))),
                                       (None, (tuesday, tuesday))):  # fmt: skip
                exception = ScheduleException(
                    organisation_id=clinics["a"], practitioner_id=practitioner, kind="holiday",
                    starts_on=days[0], ends_on=days[1],
                )  # fmt: skip
                db.session.add(exception)
                db.session.flush()
                ids.append(exception.id)
        for exception_id in ids:
            apply_exception(exception_id)
        assert _day_slots(clinics["ivanova"], tuesday, "free") == []
        # Her own two days lifted: Wednesday is back; Tuesday stays off (the clinic's day off).
        with write_transaction():
            assert lift_exception(db.session.get(ScheduleException, ids[0])) == 12
        assert len(_day_slots(clinics["ivanova"], tuesday + timedelta(days=1), "free")) == 12
        assert _day_slots(clinics["ivanova"], tuesday, "free") == []
        # The clinic's day lifted: Tuesday is back for both doctors; the booked one stays cancelled.
        with write_transaction():
            assert lift_exception(db.session.get(ScheduleException, ids[1])) == 24
        assert len(_day_slots(clinics["ivanova"], tuesday, "free")) == 12
        assert len(_day_slots(clinics["petrova"], tuesday, "free")) == 12
        assert db.session.get(Appointment, booked).status == "cancelled_by_clinic"
        assert generate_slots(14, start=monday) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleException)) == 0
