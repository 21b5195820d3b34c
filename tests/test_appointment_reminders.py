"""Appointment reminders and attendance: the day before and two hours before, by the citizen's
channels (e-mail over a real SMTP server), with a link to the cancel confirmation page that
never cancels on GET; the job run twice sends nothing twice (a unique record per appointment and
kind); the clinic's registrar marks arrived / completed / no-show (a no-show only after the
slot ends), another clinic's registrar gets 404; the patient's past appointments show it."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments import reminders
from portal.appointments.models import Appointment, AppointmentReminder, Slot
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.notify.models import Notification
from tests.conftest import audit_log_verifies, csrf_token, seed_people, session_for
from tests.test_notify import smtp, wait_for  # noqa: F401 - the fixture


def the_booked(app, patient_id: int) -> Appointment:
    with app.app_context():
        found = db.session.scalar(
            sa.select(Appointment).where(Appointment.patient_id == patient_id, Appointment.status == "booked")
        )
        db.session.expunge(found)
    return found


def sent(app) -> list[tuple[int, str]]:
    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(sa.select(AppointmentReminder.appointment_id, AppointmentReminder.kind))
        ]


def test_reminders_the_day_before_and_two_hours_before_each_once(app_factory, smtp):  # noqa: F811
    controller, mailbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, BASE_URL="https://medkarta.example")
    demo = seed_people(app)
    pid = demo["patient"].patient_id
    mine = the_booked(app, pid)
    starts = mine.starts_at.replace(tzinfo=mine.starts_at.tzinfo or clock.now().tzinfo)
    with app.app_context():
        reminders.run(starts - timedelta(days=3))  # too early for this one
        assert not [k for a, k in sent(app) if a == mine.id]
        day_before = starts - timedelta(hours=20)
        assert reminders.run(day_before) >= 1
        assert reminders.run(day_before) == 0  # twice: nothing more
        reminders.run(day_before + timedelta(hours=1))
    assert [k for a, k in sent(app) if a == mine.id] == ["day_before"]
    wait_for(mailbox, 1)
    link = f"https://medkarta.example/card/{pid}/appointments/{mine.id}/cancel"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        link in m.get_content() for m in mailbox.messages if m["To"] == demo["patient"].email
    ):
        time.sleep(0.05)
    assert any(link in m.get_content() for m in mailbox.messages if m["To"] == demo["patient"].email)
    with app.app_context():
        assert reminders.run(starts - timedelta(hours=1)) >= 1
        assert reminders.run(starts - timedelta(hours=1)) == 0
    assert sorted(k for a, k in sent(app) if a == mine.id) == ["day_before", "two_hours"]
    # the link asks before it cancels: a GET changes nothing
    client = app.test_client()
    session_for(app, client, demo["patient"].id)
    page = client.get(f"/card/{pid}/appointments/{mine.id}/cancel")
    assert page.status_code == 200 and 'method="post"' in page.get_data(as_text=True)
    assert the_booked(app, pid).id == mine.id
    with app.app_context():
        notes = db.session.scalars(
            sa.select(Notification).where(
                Notification.account_id == demo["patient"].id, Notification.event == "appointment_reminder"
            )
        ).all()
        assert len(notes) == 2 and all(n.url.endswith(f"/appointments/{mine.id}/cancel") for n in notes)


def test_the_command_is_safe_to_run_twice(app, demo):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["send-appointment-reminders"])
    second = runner.invoke(args=["send-appointment-reminders"])
    assert first.exit_code == 0 and second.exit_code == 0
    assert "0 sent" in second.output
    assert len(sent(app)) == len(set(sent(app)))


@pytest.fixture
def past_appointment(app, demo):
    """The demo patient's booked appointment moved to an hour ago (its slot ended)."""
    pid = demo["patient"].patient_id
    mine = the_booked(app, pid)
    with app.app_context(), write_transaction():
        appointment = db.session.get(Appointment, mine.id)
        start = clock.now() - timedelta(hours=1)
        appointment.starts_at = start
        if appointment.slot_id:
            slot = db.session.get(Slot, appointment.slot_id)
            slot.starts_at, slot.ends_at = start, start + timedelta(minutes=30)
    return mine.id


def test_the_registrar_marks_a_no_show_after_the_slot_and_the_patient_sees_it(app, demo, login, past_appointment):
    pid = demo["patient"].patient_id
    registrar = login(demo["registrar"])
    # The appointment's own day: an hour before 00:30 in Moscow is yesterday.
    with app.app_context():
        starts_at = db.session.get(Appointment, past_appointment).starts_at
        if starts_at.tzinfo is None:  # SQLite keeps UTC without its zone
            starts_at = starts_at.replace(tzinfo=UTC)
        appointment_day = starts_at.astimezone(clock.zone()).date()
    day = registrar.get(f"/clinic/appointments?date={appointment_day.isoformat()}")
    assert day.status_code == 200
    assert f"/clinic/appointments/{past_appointment}/no_show" in day.get_data(as_text=True)
    token = csrf_token(registrar, "/clinic/appointments")
    bad = registrar.post(f"/clinic/appointments/{past_appointment}/completed", data={"csrf_token": token})
    assert bad.status_code == 409  # completed only after arrived
    done = registrar.post(f"/clinic/appointments/{past_appointment}/no_show", data={"csrf_token": token})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Appointment, past_appointment).status == "no_show"
        assert audit_log_verifies()
    page = login(demo["patient"]).get(f"/card/{pid}/appointments").get_data(as_text=True)
    assert "Неявка" in page


def test_a_no_show_cannot_be_marked_before_the_slot_ends(app, demo, login):
    pid = demo["patient"].patient_id
    future = the_booked(app, pid)
    registrar = login(demo["registrar"])
    token = csrf_token(registrar, "/clinic/appointments")
    answer = registrar.post(f"/clinic/appointments/{future.id}/no_show", data={"csrf_token": token})
    assert answer.status_code == 409
    assert the_booked(app, pid).status == "booked"


def test_another_clinics_registrar_gets_404_and_nothing_changes(app, demo, login, past_appointment):
    with app.app_context():
        assign_role(None, demo["doctor_b"].id, demo_organisations()["B"].id, "registrar")
    other = login(demo["doctor_b"])
    day = other.get(f"/clinic/appointments?date={clock.today().isoformat()}").get_data(as_text=True)
    assert f"/clinic/appointments/{past_appointment}/" not in day
    token = csrf_token(other, "/clinic/appointments")
    answer = other.post(f"/clinic/appointments/{past_appointment}/no_show", data={"csrf_token": token})
    assert answer.status_code == 404
    with app.app_context():
        assert db.session.get(Appointment, past_appointment).status == "booked"
    # a citizen is not staff
    citizen = login(demo["patient"])
    assert citizen.get("/clinic/appointments").status_code == 404


def test_the_worker_sends_due_reminders_with_no_command_run(app, demo):
    """`flask worker` (as `make run` starts it) runs the periodic job `appointments.reminders`: a
    reminder that falls due is sent with nobody running the command, once however often it runs."""
    import time_machine

    from portal import tasks

    pid = demo["patient"].patient_id
    mine = the_booked(app, pid)
    starts = mine.starts_at.replace(tzinfo=mine.starts_at.tzinfo or clock.now().tzinfo)
    with time_machine.travel(starts - timedelta(hours=20), tick=True):
        consumer = tasks.start_consumer(app, periodic=True)  # its scheduler queues the due jobs at once
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not [k for a, k in sent(app) if a == mine.id]:
                time.sleep(0.05)
            tasks.queue(app).enqueue("appointments.reminders")  # a second run: nothing is sent twice
            while time.monotonic() < deadline and tasks.queue(app).pending_jobs():
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            consumer.stop(graceful=True)
    assert [k for a, k in sent(app) if a == mine.id] == ["day_before"]
