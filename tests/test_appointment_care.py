"""Access follows the booking (issue 10, point 10) and the appointment's states (point 11).

Booking an appointment with a doctor who signs in to the portal opens the card to that doctor
from the visit's day until APPOINTMENT_ACCESS_DAYS after it; cancelling closes it; «Кто смотрел
мою карту» shows which appointment opened the card to whom, and when that ended. The states move
only along the diagram of portal/appointments/states.py; a move off it changes nothing. (Who
sees the card on which day is in the authorization matrix: the visit_* owners.)"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.access.models import CareRelationship
from portal.appointments import care, schedule, states
from portal.appointments.models import Appointment, ScheduleException, Slot
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from tests.conftest import audit_log_verifies, csrf_token


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def doctor_slot(app, demo, skip: int = 0) -> tuple[int, int]:
    """A free in-person slot of the demo doctor (who has an account) two days ahead or later."""
    with app.app_context():
        row = db.session.execute(
            sa.select(Slot.id, Practitioner.id)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                Practitioner.account_id == demo["doctor"].id,
                Slot.status == "free",
                Slot.kind == "in_person",
                Slot.starts_at > clock.day_start(clock.today() + timedelta(days=2)),
            )
            .order_by(Slot.starts_at)
            .offset(skip)
            .limit(1)
        ).one()
    return row[0], row[1]


def aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cares(app, patient_id: int) -> list[CareRelationship]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(CareRelationship)
                .where(CareRelationship.patient_id == patient_id, CareRelationship.basis == "appointment")
                .order_by(CareRelationship.id)
            )
        )
        db.session.expunge_all()
    return rows


@pytest.fixture
def kuznetsov(app, demo, login):
    """The guardian's own (adult) card, booked by himself."""
    return demo["guardian"].patient_id, login(demo["guardian"])


def book(client, patient_id: int, slot_id: int):
    token = csrf_token(client, f"/card/{patient_id}/appointments")
    return client.post(
        f"/card/{patient_id}/appointments/book/confirm", data={"csrf_token": token, "slot": str(slot_id)}
    )


def test_booking_opens_the_card_to_the_doctor_from_the_visit_day_and_cancelling_closes_it(app, demo, kuznetsov):
    pid, client = kuznetsov
    slot_id, _doctor = doctor_slot(app, demo)
    assert book(client, pid, slot_id).status_code == 303
    [relationship] = cares(app, pid)
    with app.app_context():
        appointment = db.session.scalar(sa.select(Appointment).where(Appointment.slot_id == slot_id))
        starts = appointment.starts_at
    assert relationship.practitioner_id == demo["doctor"].id
    assert relationship.appointment_id == appointment.id and relationship.ended_at is not None
    assert aware(relationship.started_at) == clock.day_start(clock.local_date(starts))
    assert aware(relationship.ended_at) - aware(starts) == timedelta(days=7)

    # the doctor does not see the card yet: the visit is in two days or later
    doctor = app.test_client()
    from tests.conftest import session_for

    session_for(app, doctor, demo["doctor"].id)
    assert doctor.get(f"/card/{pid}").status_code == 404

    log = text(client.get(f"/card/{pid}/access-log"))
    assert "Соколов Дмитрий Александрович" in log
    assert "открывает карту этому врачу" in log or "opens the card to this doctor" in log

    token = csrf_token(client, f"/card/{pid}/appointments/{appointment.id}/cancel")
    assert (
        client.post(f"/card/{pid}/appointments/{appointment.id}/cancel", data={"csrf_token": token}).status_code == 303
    )
    [ended] = cares(app, pid)
    assert aware(ended.ended_at) <= clock.now()
    log = text(client.get(f"/card/{pid}/access-log"))
    assert "больше не открывает" in log or "no longer opens" in log
    with app.app_context():
        actions = list(
            db.session.scalars(
                sa.select(AuditEvent.action).where(AuditEvent.patient_id == pid, AuditEvent.action.like("care.%"))
            )
        )
        assert audit_log_verifies()
    assert actions == ["care.opened", "care.ended"]


def test_moving_ends_the_old_relationship_and_opens_a_new_one(app, demo, kuznetsov):
    pid, client = kuznetsov
    first, _ = doctor_slot(app, demo)
    second, _ = doctor_slot(app, demo, skip=1)
    book(client, pid, first)
    with app.app_context():
        old = db.session.scalar(sa.select(Appointment.id).where(Appointment.slot_id == first))
    token = csrf_token(client, f"/card/{pid}/appointments")
    moved = client.post(
        f"/card/{pid}/appointments/book/confirm",
        data={"csrf_token": token, "slot": str(second), "replace": str(old)},
    )
    assert moved.status_code == 303
    old_care, new_care = cares(app, pid)
    assert old_care.appointment_id == old and aware(old_care.ended_at) <= clock.now()
    assert new_care.appointment_id != old and aware(new_care.ended_at) > clock.now()


def test_an_exception_that_cancels_the_appointment_ends_its_relationship(app, demo, kuznetsov):
    pid, client = kuznetsov
    slot_id, practitioner = doctor_slot(app, demo)
    book(client, pid, slot_id)
    with app.app_context():
        starts = db.session.get(Slot, slot_id).starts_at
        org = db.session.get(Practitioner, practitioner).organisation_id
        with write_transaction():
            exception = ScheduleException(
                organisation_id=org,
                practitioner_id=practitioner,
                kind="sick_leave",
                starts_on=clock.local_date(starts),
                ends_on=clock.local_date(starts),
            )
            db.session.add(exception)
            db.session.flush()
            exception_id = exception.id
        schedule.apply_exception(exception_id, demo["org_admin"].id)
    [relationship] = cares(app, pid)
    assert aware(relationship.ended_at) <= clock.now()
    log = text(client.get(f"/card/{pid}/access-log"))
    assert "клиника отменила" in log.casefold() or "the clinic cancelled" in log.casefold()


def test_a_doctor_without_an_account_opens_nothing(app, demo):
    with app.app_context(), write_transaction():
        practitioner = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id.is_(None)).limit(1))
        appointment = Appointment(
            patient_id=demo["guardian"].patient_id,
            organisation_id=practitioner.organisation_id,
            practitioner_id=practitioner.id,
            starts_at=clock.now() + timedelta(days=3),
            status="booked",
        )
        db.session.add(appointment)
        db.session.flush()
        assert care.open_for(appointment, None, "operator") is None
    assert cares(app, demo["guardian"].patient_id) == []


# -- states ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "current,target,ok",
    [
        ("booked", "arrived", True),
        ("booked", "cancelled_by_patient", True),
        ("booked", "cancelled_by_clinic", True),
        ("booked", "no_show", True),
        ("booked", "completed", False),  # not seen: arrive first
        ("arrived", "completed", True),
        ("arrived", "no_show", True),
        ("arrived", "cancelled_by_patient", False),
        ("arrived", "booked", False),
        ("completed", "no_show", False),
        ("no_show", "arrived", False),
        ("cancelled_by_patient", "booked", False),
        ("cancelled_by_clinic", "arrived", False),
        ("booked", "lost", False),
    ],
)
def test_the_diagram(current, target, ok):
    assert states.allowed(current, target) is ok


def _appointment(app, demo, starts_delta: timedelta, status: str = "booked") -> int:
    slot_id, practitioner = doctor_slot(app, demo)
    with app.app_context(), write_transaction():
        slot = db.session.get(Slot, slot_id)
        doctor = db.session.get(Practitioner, practitioner)
        slot.starts_at = clock.now() + starts_delta
        slot.ends_at = slot.starts_at + timedelta(minutes=20)
        slot.status = "booked"
        appointment = Appointment(
            patient_id=demo["guardian"].patient_id,
            organisation_id=doctor.organisation_id,
            practitioner_id=doctor.id,
            slot_id=slot_id,
            starts_at=slot.starts_at,
            status=status,
        )
        db.session.add(appointment)
        db.session.flush()
        care.open_for(appointment, demo["registrar"].id, "registrar")
        return appointment.id


def move(app, appointment_id: int, target: str, reason: str | None = None) -> Appointment:
    with app.app_context(), write_transaction():
        appointment = db.session.get(Appointment, appointment_id)
        states.transition(appointment, target, actor_id=None, actor_role="registrar", reason=reason)
    with app.app_context():
        found = db.session.get(Appointment, appointment_id)
        db.session.expunge(found)
        return found


def test_booked_arrived_completed_each_audited(app, demo):
    appointment_id = _appointment(app, demo, -timedelta(minutes=10))
    assert move(app, appointment_id, "arrived").status == "arrived"
    assert move(app, appointment_id, "completed").status == "completed"
    with app.app_context():
        actions = list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.object_type == "appointment", AuditEvent.object_id == str(appointment_id))
                .order_by(AuditEvent.id)
            )
        )
    assert actions == ["care.opened", "appointment.arrived", "appointment.completed"]


@pytest.mark.parametrize(
    "status,target,reason,code",
    [
        ("completed", "no_show", None, "not_allowed"),
        ("booked", "completed", None, "not_allowed"),
        ("booked", "cancelled_by_clinic", "  ", "reason_needed"),
        ("booked", "no_show", None, "too_early"),  # the appointment is tomorrow
        ("cancelled_by_patient", "arrived", None, "not_allowed"),
    ],
)
def test_an_invalid_move_changes_nothing(app, demo, status, target, reason, code):
    appointment_id = _appointment(app, demo, timedelta(days=1), status)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    with pytest.raises(states.InvalidTransition) as refused:
        move(app, appointment_id, target, reason)
    assert refused.value.code == code
    with app.app_context():
        assert db.session.get(Appointment, appointment_id).status == status
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before


def test_the_clinic_cancels_with_a_reason_the_slot_is_free_and_the_card_closes(app, demo):
    appointment_id = _appointment(app, demo, timedelta(days=1))
    done = move(app, appointment_id, "cancelled_by_clinic", "Врач на больничном")
    assert (done.status, done.cancel_reason) == ("cancelled_by_clinic", "Врач на больничном")
    with app.app_context():
        assert db.session.get(Slot, done.slot_id).status == "free"
    [relationship] = cares(app, demo["guardian"].patient_id)
    assert aware(relationship.ended_at) <= clock.now()


# -- past appointments on the card -----------------------------------------------------------------


def test_past_appointments_show_their_state_and_the_visit_they_became(app, demo, login):
    from portal.record.models import Visit

    pid = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        visit = db.session.scalar(sa.select(Visit).where(Visit.patient_id == pid).order_by(Visit.id).limit(1))
        stranger_visit = db.session.scalar(sa.select(Visit.id).where(Visit.patient_id != pid).limit(1))
        practitioner = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor"].id))
        made = []
        for days, status, visit_id in (
            (30, "completed", visit.id),
            (40, "no_show", None),
            (50, "completed", stranger_visit),  # a forged link to another card's visit is not shown
        ):
            row = Appointment(
                patient_id=pid,
                organisation_id=practitioner.organisation_id,
                practitioner_id=practitioner.id,
                starts_at=clock.now() - timedelta(days=days),
                status=status,
                visit_id=visit_id,
            )
            db.session.add(row)
            made.append(row)
        visit_id = visit.id
    client = login(demo["patient"])
    page = client.get(f"/card/{pid}/appointments")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"/card/{pid}/visits/{stranger_visit}" not in body
    assert f"/card/{pid}/visits/{visit_id}" in body
    words = text(page)
    assert ("Завершена" in words or "Completed" in words) and ("Неявка" in words or "Not attended" in words)
    # the doctor treating her reads the list with the visit link too
    assert f"/card/{pid}/visits/{visit_id}" in login(demo["doctor"]).get(f"/card/{pid}/appointments").get_data(
        as_text=True
    )


def test_the_demo_guardian_has_past_appointments_with_their_visits(app, demo, login):
    pid = demo["guardian"].patient_id
    page = login(demo["guardian"]).get(f"/card/{pid}/appointments")
    body = page.get_data(as_text=True)
    assert body.count(f"/card/{pid}/visits/") == 2
    assert "Неявка" in text(page)
