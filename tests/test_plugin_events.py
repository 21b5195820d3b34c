"""Typed events after commit: each is published by the core action that makes it (booking and
cancelling over HTTP, results and prescriptions through the intake, consent withdrawn, a card
closed by opt-out, an identity confirmed, a guardianship ending on the child's birthday), reaches
a subscribing plugin as a job on the task queue, and nothing is published for a write that rolls
back. A handler that raises changes nothing the user sees and stops no other subscriber."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock, events, tasks
from portal.appointments.models import Appointment
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.plugins import PluginError
from portal.record import intake
from portal.record.models import Patient
from portal.sharing.models import Guardianship
from tests.conftest import csrf_token, seed_people, session_for
from tests.fixture_plugins import listener
from tests.test_booking import DENTIST, confirm, free_slot
from tests.test_intake import BLOOD_COUNT, VALUES
from tests.test_opt_out import apply, decide, latest
from tests.test_verification import GOOD, registrar_decides, submit

LISTENER = "tests.fixture_plugins.listener"
BROKEN = "tests.fixture_plugins.broken_listener"
SMS = "tests.fixture_plugins.sms_gateway"


@pytest.fixture
def app(app_factory):
    listener.HEARD.clear()
    return app_factory(TESTING_PLUGINS=[SMS, LISTENER])


def heard(app, kind: type[events.Event]) -> list:
    """Run the jobs waiting on the queue (as the worker does), then what the listener heard of ``kind``."""
    tasks.queue(app).run_pending()
    return [e for e in listener.HEARD if isinstance(e, kind)]


def test_hook_event_handlers(app, demo, login):
    """A booking over HTTP publishes AppointmentBooked after its commit: the request only queues
    a job per subscriber; the worker gives the plugin the event, ids and small facts only."""
    pid, client = demo["patient"].patient_id, login(demo["patient"])
    slot = free_slot(app, DENTIST, skip=3)
    answer = confirm(client, pid, slot)
    assert answer.status_code == 303
    assert listener.HEARD == [] and tasks.queue(app).pending_jobs() == 1  # not in the request
    [booked] = heard(app, events.AppointmentBooked)
    with app.app_context():
        row = db.session.scalar(sa.select(Appointment).where(Appointment.slot_id == slot))
        assert booked.appointment_id == row.id and str(row.id) in answer.headers["Location"]
        assert (booked.patient_id, booked.organisation_id, booked.booked_by_id) == (
            pid,
            row.organisation_id,
            demo["patient"].id,
        )
    assert datetime.fromisoformat(booked.starts_at) == row.starts_at.replace(tzinfo=row.starts_at.tzinfo or UTC)
    assert set(booked.to_json()) == {
        "type", "appointment_id", "patient_id", "organisation_id", "practitioner_id", "starts_at",
        "booked_by_id", "moved_from", "occurred_at",
    }  # fmt: skip
    assert events.Event.from_json(booked.to_json()) == booked


def test_cancelling_publishes_appointment_cancelled(app, demo, login):
    pid, client = demo["patient"].patient_id, login(demo["patient"])
    confirm(client, pid, free_slot(app, DENTIST, skip=3))
    [booked] = heard(app, events.AppointmentBooked)
    token = csrf_token(client, f"/card/{pid}/appointments")
    assert (
        client.post(f"/card/{pid}/appointments/{booked.appointment_id}/cancel", data={"csrf_token": token}).status_code
        == 303
    )
    [cancelled] = heard(app, events.AppointmentCancelled)
    assert (cancelled.appointment_id, cancelled.status) == (booked.appointment_id, "cancelled_by_patient")
    assert cancelled.cancelled_by_id == demo["patient"].id


def test_a_refused_write_publishes_nothing(app, demo, login):
    """The second booking of a taken slot is refused (its transaction rolls back): one event."""
    slot = free_slot(app, DENTIST, skip=3)
    assert confirm(login(demo["patient"]), demo["patient"].patient_id, slot).status_code == 303
    refused = confirm(login(demo["guardian"]), demo["child_9"].id, slot)
    assert refused.status_code != 303
    assert len(heard(app, events.AppointmentBooked)) == 1


def test_rolled_back_transactions_and_savepoints_publish_nothing(app):
    fact = {"patient_id": 1, "organisation_id": 1}
    with app.test_request_context():
        with pytest.raises(RuntimeError, match="outside a transaction"):
            events.publish(events.ResultFiled(report_id=1, **fact))
        with pytest.raises(ZeroDivisionError), write_transaction():
            events.publish(events.ResultFiled(report_id=2, **fact))
            1 / 0  # noqa: B018
        with write_transaction():
            try:
                with db.session.begin_nested():
                    events.publish(events.ResultFiled(report_id=3, **fact))
                    raise LookupError
            except LookupError:
                pass
            with db.session.begin_nested():
                events.publish(events.ResultFiled(report_id=4, **fact))
            events.publish(events.ResultFiled(report_id=5, **fact))
            assert tasks.queue(app).pending_jobs() == 0  # nothing before the commit
    assert [e.report_id for e in heard(app, events.ResultFiled)] == [4, 5]


def test_results_and_prescriptions_filed_through_the_intake(app, demo):
    card = demo["patient"].patient_id
    with app.test_request_context():
        doctor = db.session.get(Account, demo["doctor"].id)
        report = intake.add_results(doctor, card, BLOOD_COUNT, datetime.now(UTC) - timedelta(hours=3), VALUES)
        rx = intake.issue_prescription(
            doctor, card, number="77-0042", drug="Метформин", form="таблетки 500 мг", dose="по 1 таблетке",
            quantity="60 таблеток", valid_until=clock.today() + timedelta(days=60),
        )  # fmt: skip
        report_id, rx_id = report.id, rx.id
    [filed] = heard(app, events.ResultFiled)
    assert (filed.report_id, filed.patient_id, filed.amended) == (report_id, card, False)
    [issued] = heard(app, events.PrescriptionIssued)
    assert (issued.prescription_id, issued.patient_id) == (rx_id, card)
    assert "Метформин" not in str(issued.to_json())  # ids, never medical text


def test_consent_withdrawn_and_a_card_closed_by_opt_out(app, demo, login):
    owner, patient_id = login(demo["patient"]), demo["patient"].patient_id
    assert apply(owner, patient_id).status_code == 303
    assert decide(login(demo["registrar"]), latest(app, patient_id).id, "approve").status_code == 303
    [closed] = heard(app, events.CardClosed)
    assert (closed.patient_id, closed.opt_out_request_id) == (patient_id, latest(app, patient_id).id)
    [revoked] = heard(app, events.ConsentRevoked)  # the approval withdraws the consent too
    assert (revoked.patient_id, revoked.account_id) == (patient_id, demo["patient"].id)
    guardian, child = login(demo["guardian"]), demo["child_9"]
    page = f"/consent/child/{child.id}"
    assert guardian.post(f"{page}/revoke", data={"csrf_token": csrf_token(guardian, page)}).status_code == 303
    assert [(e.patient_id, e.account_id) for e in heard(app, events.ConsentRevoked)][1:] == [
        (child.id, demo["guardian"].id)
    ]


def test_an_identity_confirmed_publishes_account_verified(app, demo, login):
    citizen = login(demo["applicant"])
    with app.app_context(), write_transaction():
        db.session.get(Account, demo["applicant"].id).verification_status = "unverified"
    assert submit(citizen, GOOD).status_code in (200, 303)
    assert registrar_decides(app, demo, login)[0].status_code == 303
    [verified] = heard(app, events.AccountVerified)
    with app.app_context():
        account = db.session.get(Account, demo["applicant"].id)
        assert (verified.account_id, verified.patient_id) == (account.id, account.patient_id)


def test_a_guardianship_ending_today_is_published_once_by_the_job(app, demo):
    """Nothing is written on the child's 15th birthday: the hourly job finds it and publishes."""
    child = demo["child_9"]
    with app.app_context(), write_transaction():
        db.session.get(Patient, child.id).birth_date = date(
            clock.today().year - 15, clock.today().month, clock.today().day
        )
        guardianship = db.session.scalar(sa.select(Guardianship).where(Guardianship.child_id == child.id))
    for _twice in range(2):
        tasks.queue(app).enqueue("guardianships.ending")
        tasks.queue(app).run_pending()  # the job, which publishes
    [ending] = heard(app, events.GuardianAccessEnding)  # delivered, and only once
    assert (ending.guardianship_id, ending.guardian_id, ending.patient_id) == (
        guardianship.id,
        demo["guardian"].id,
        child.id,
    )
    assert ending.ends_on == clock.today().isoformat()


def test_a_raising_handler_changes_nothing_the_user_sees_nor_stops_the_others(app_factory, caplog):
    """Two apps on one database, the second with a plugin whose handler raises: both answer the
    booking with the ticket; the failure is logged in the worker, retried later, and the other
    subscriber hears its event."""
    listener.HEARD.clear()
    calm = app_factory(TESTING_PLUGINS=[SMS, LISTENER])
    troubled = app_factory(TESTING_PLUGINS=[SMS, LISTENER, BROKEN])
    demo = seed_people(calm)
    answers = []
    for app, (key, pid) in (
        (calm, ("patient", demo["patient"].patient_id)),
        (troubled, ("guardian", demo["child_9"].id)),
    ):
        client = app.test_client()
        session_for(app, client, demo[key].id)
        slot = free_slot(app, DENTIST, skip=5 + len(answers))
        answer = confirm(client, pid, slot)
        ticket = client.get(answer.headers["Location"])
        answers.append(
            (answer.status_code, ticket.status_code, bool(re.search(r"Т-\d{4}-\d{6}", ticket.get_data(as_text=True))))
        )
    assert answers == [(303, 200, True), (303, 200, True)]
    with caplog.at_level(logging.ERROR):
        # One queue (one instance folder): the calm app's job, the troubled app's two.
        assert tasks.queue(troubled).run_pending() == 3
    assert "job events.handle failed (attempt 1 of 6); trying again in 10 s" in caplog.text
    assert "the broken listener fails on appointment" in caplog.text
    assert len(heard(calm, events.AppointmentBooked)) == 2  # the calm app's and the troubled app's


def test_a_subscription_to_something_not_an_event_stops_start_up(app_factory):
    with pytest.raises(PluginError, match="not an event"):
        app_factory(TESTING_PLUGINS=["tests.fixture_plugins.bad_declarations:NotAnEvent"])


def test_even_run_in_the_request_a_raising_handler_leaves_the_answer_alone(app_factory, caplog):
    """With TASKS_IMMEDIATE (jobs run in the caller) the handlers run right after the commit, in
    the request: the broken one is caught and logged, the booking still answers with its ticket,
    and the other subscriber has heard."""
    listener.HEARD.clear()
    app = app_factory(TESTING_PLUGINS=[SMS, BROKEN, LISTENER], TASKS_IMMEDIATE=True)
    demo = seed_people(app)
    client = app.test_client()
    session_for(app, client, demo["patient"].id)
    with caplog.at_level(logging.ERROR):
        answer = confirm(client, demo["patient"].patient_id, free_slot(app, DENTIST, skip=3))
    assert answer.status_code == 303 and client.get(answer.headers["Location"]).status_code == 200
    assert "job events.handle failed (attempt 1 of 6)" in caplog.text
    assert [type(e) for e in listener.HEARD] == [events.AppointmentBooked]


def test_a_session_closed_before_its_commit_publishes_nothing_later(app):
    fact = {"patient_id": 1, "organisation_id": 1}
    with app.test_request_context():
        db.session.execute(sa.select(1))
        events.publish(events.ResultFiled(report_id=6, **fact))
        db.session.close()  # never committed
        with write_transaction():
            events.publish(events.ResultFiled(report_id=7, **fact))
    assert [e.report_id for e in heard(app, events.ResultFiled)] == [7]
