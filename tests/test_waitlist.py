"""The waiting list («лист ожидания»): joining when nothing is free (ENT in the demo), the place in
line, a freed slot offered to the first matching person and held (nobody else books it), the
offer by e-mail over a real SMTP server with a link to the page, accepting through the booking
service, declining and silence passing it on, ``expire-offers`` safe to run twice, leaving; bad
input changes nothing; another card's entry or offer is 404."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments import booking, waitlist
from portal.appointments.models import Appointment, Slot, WaitingListEntry, WaitingListOffer
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from tests.conftest import audit_log_verifies, csrf_token, seed_people
from tests.test_notify import smtp, wait_for  # noqa: F401 - the fixture

ENT, DENTIST = "39", "62"


def join(client, pid: int, specialty: str = ENT, **extra):
    token = csrf_token(client, f"/card/{pid}/appointments/waitlist")
    data = {"csrf_token": token, "specialty": specialty, "doctor": "", "part": "", **extra}
    return client.post(f"/card/{pid}/appointments/waitlist", data=data)


def entries(app, patient_id: int | None = None) -> list[WaitingListEntry]:
    with app.app_context():
        query = sa.select(WaitingListEntry).order_by(WaitingListEntry.id)
        if patient_id:
            query = query.where(WaitingListEntry.patient_id == patient_id)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
    return rows


def offers(app) -> list[WaitingListOffer]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(WaitingListOffer).order_by(WaitingListOffer.id)))
        db.session.expunge_all()
    return rows


def free_an_ent_slot(app, days: int = 3) -> int:
    """The clinic cancels one ENT appointment of another patient (its slot turns free), as a
    cancellation would; returns the slot."""
    with app.app_context(), write_transaction():
        slot = db.session.scalar(
            sa.select(Slot)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                Practitioner.specialty_code == ENT,
                Slot.status == "booked",
                Slot.starts_at > clock.now() + timedelta(days=days),
            )
            .order_by(Slot.starts_at)
            .limit(1)
        )
        for appointment in db.session.scalars(sa.select(Appointment).where(Appointment.slot_id == slot.id)):
            appointment.status = "cancelled_by_clinic"
        db.session.flush()
        slot.status = "free"
        return slot.id


def slot_of(app, slot_id: int) -> Slot:
    with app.app_context():
        found = db.session.get(Slot, slot_id)
        db.session.expunge(found)
    return found


@pytest.fixture
def me(app, demo, login):
    return demo["patient"].patient_id, login(demo["patient"])


def test_join_when_nothing_is_free_see_the_place_and_leave(app, demo, me, login):
    pid, client = me
    page = client.get(f"/card/{pid}/appointments/waitlist?specialty={ENT}")
    assert page.status_code == 200 and "Лист ожидания" in page.get_data(as_text=True)
    # the doctor step says nothing is free and leads to the list
    step = client.get(f"/card/{pid}/appointments/book/doctor?specialty={ENT}").get_data(as_text=True)
    assert f"/card/{pid}/appointments/waitlist?specialty={ENT}" in step

    done = join(client, pid, weekdays=["1", "3"], part="morning", channels=["email"])
    assert done.status_code == 303
    [entry] = entries(app, pid)
    assert (entry.specialty_code, entry.preferred_weekdays, entry.status) == (ENT, "13", "waiting")
    assert entry.channels == "portal,email"
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Место в очереди: 1" in shown

    # Дарья's guardian joins for her: second in line
    child = demo["child_9"].id
    guardian = login(demo["guardian"])
    assert join(guardian, child).status_code == 303
    page = guardian.get(f"/card/{child}/appointments/waitlist").get_data(as_text=True)
    assert "Место в очереди: 2" in page

    token = csrf_token(client, f"/card/{pid}/appointments/waitlist")
    left = client.post(f"/card/{pid}/appointments/waitlist/{entry.id}/leave", data={"csrf_token": token})
    assert left.status_code == 303
    assert entries(app, pid)[0].status == "cancelled"
    page = guardian.get(f"/card/{child}/appointments/waitlist").get_data(as_text=True)
    assert "Место в очереди: 1" in page
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("waitlist.%"))))
        assert {"waitlist.joined", "waitlist.left"} <= actions
        assert audit_log_verifies()


def test_bad_input_returns_the_form_with_a_precise_error_and_changes_nothing(app, demo, me):
    pid, client = me
    cases = [
        ({"specialty": "9999"}, "Выберите специальность из списка"),
        ({"specialty": DENTIST}, "есть свободное время"),  # dentists have free times: book one
        ({"specialty": "21"}, "Выберите специальность из списка"),  # a cardiologist needs a referral
        ({"specialty": ENT, "weekdays": ["9"]}, "Выберите дни из списка"),
        ({"specialty": ENT, "part": "night"}, "Выберите время дня"),
        ({"specialty": ENT, "channels": ["pigeon"]}, "Выберите способы из списка"),
    ]
    for data, message in cases:
        answer = join(client, pid, **data)
        assert answer.status_code == 400, data
        body = answer.get_data(as_text=True)
        assert message in body and 'id="error-summary"' in body, (data, message)
    assert entries(app) == []
    assert join(client, pid).status_code == 303
    again = join(client, pid)
    assert again.status_code == 400 and "уже в листе ожидания" in again.get_data(as_text=True)
    assert len(entries(app)) == 1


def test_another_cards_list_and_entry_are_404(app, demo, me, login):
    pid, client = me
    assert join(client, pid).status_code == 303
    [entry] = entries(app)
    stranger = login(demo["guardian"])
    assert stranger.get(f"/card/{pid}/appointments/waitlist").status_code == 404
    token = csrf_token(stranger, "/")
    child = demo["child_9"].id
    answer = stranger.post(f"/card/{child}/appointments/waitlist/{entry.id}/leave", data={"csrf_token": token})
    assert answer.status_code == 404
    assert entries(app)[0].status == "waiting"


def test_a_freed_slot_is_offered_held_by_email_accepted_into_a_ticket(app_factory, smtp):  # noqa: F811
    controller, mailbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, BASE_URL="https://medkarta.example")
    demo = seed_people(app)
    from tests.conftest import session_for

    client = app.test_client()
    session_for(app, client, demo["patient"].id)
    pid = demo["patient"].patient_id
    assert join(client, pid, channels=["email"]).status_code == 303
    slot_id = free_an_ent_slot(app)
    with app.app_context():
        outcome = waitlist.run()
    assert outcome.offered == 1
    [offer] = offers(app)
    assert offer.slot_id == slot_id and offer.status == "open"
    held = slot_of(app, slot_id)
    assert held.status == "held" and held.held_until is not None
    # nobody else books a held slot
    other = app.test_client()
    session_for(app, other, demo["guardian"].id)
    child = demo["child_9"].id
    answer = other.post(
        f"/card/{child}/appointments/book/confirm",
        data={"csrf_token": csrf_token(other, f"/card/{child}/appointments"), "slot": str(slot_id)},
    )
    assert answer.status_code == 409
    # the e-mail arrived and leads to the waiting list page
    wait_for(mailbox, 1)
    mails = [m for m in mailbox.messages if m["To"] == demo["patient"].email]
    assert mails and f"https://medkarta.example/card/{pid}/appointments/waitlist" in mails[-1].get_content()
    # a second run offers nothing more
    with app.app_context():
        assert waitlist.run().offered == 0
    assert len(offers(app)) == 1

    page = client.get(f"/card/{pid}/appointments/waitlist").get_data(as_text=True)
    assert "Вам предложено время" in page
    token = csrf_token(client, f"/card/{pid}/appointments/waitlist")
    done = client.post(f"/card/{pid}/appointments/waitlist/offers/{offer.id}/accept", data={"csrf_token": token})
    assert done.status_code == 303 and "/appointments/" in done.headers["Location"]
    with app.app_context():
        [booked] = db.session.scalars(
            sa.select(Appointment).where(Appointment.slot_id == slot_id, Appointment.status == "booked")
        ).all()
        assert booked.patient_id == pid
        assert db.session.get(Slot, slot_id).status == "booked"
        assert db.session.get(WaitingListOffer, offer.id).status == "accepted"
        assert db.session.scalar(sa.select(WaitingListEntry.status)) == "booked"
        assert audit_log_verifies()
    # the same offer answered again: a clear page, nothing changes
    again = client.post(f"/card/{pid}/appointments/waitlist/offers/{offer.id}/accept", data={"csrf_token": token})
    assert again.status_code == 409


def test_declining_and_silence_pass_the_slot_on_then_free_it(app, demo, me, login):
    pid, client = me
    child = demo["child_9"].id
    guardian = login(demo["guardian"])
    assert join(client, pid).status_code == 303
    assert join(guardian, child).status_code == 303
    slot_id = free_an_ent_slot(app)
    with app.app_context():
        assert waitlist.run().offered == 1
    first = offers(app)[-1]
    assert entries(app, pid)[0].id == first.entry_id
    token = csrf_token(client, f"/card/{pid}/appointments/waitlist")
    # the guardian cannot answer the patient's offer
    stranger = guardian.post(
        f"/card/{child}/appointments/waitlist/offers/{first.id}/accept",
        data={"csrf_token": csrf_token(guardian, "/")},
    )
    assert stranger.status_code == 404
    declined = client.post(f"/card/{pid}/appointments/waitlist/offers/{first.id}/decline", data={"csrf_token": token})
    assert declined.status_code == 303
    second = offers(app)[-1]
    assert second.id != first.id and second.entry_id == entries(app, child)[0].id and second.slot_id == slot_id
    assert entries(app, pid)[0].status == "waiting"  # declining keeps the place
    # silence: the offer expires; the slot is never offered to the same entry twice, so it is freed
    later = clock.now() + timedelta(minutes=app.config["WAITLIST_OFFER_MINUTES"] + 1)
    with app.app_context():
        outcome = waitlist.run(later)
    assert outcome.expired == 1
    assert [o.status for o in offers(app)] == ["passed", "passed"]
    assert slot_of(app, slot_id).status == "free"
    with app.app_context():
        assert waitlist.run(later).expired == 0  # twice: nothing more


def test_a_cancellation_offers_the_slot_at_once_matching_the_preferred_doctor(app, demo, me, login):
    pid, client = me
    with app.app_context():
        slot_id = free_an_ent_slot(app)
        slot = db.session.get(Slot, slot_id)
        doctor_id = slot.practitioner_id
        with write_transaction():
            db.session.get(Slot, slot_id).status = "booked"
            appointment = Appointment(
                patient_id=demo["child_9"].id,
                organisation_id=slot.organisation_id,
                practitioner_id=doctor_id,
                slot_id=slot_id,
                specialty_code=ENT,
                starts_at=slot.starts_at,
                status="booked",
                booked_by_id=demo["guardian"].id,
            )
            db.session.add(appointment)
            db.session.flush()
            appointment_id = appointment.id
    assert join(client, pid, doctor=str(doctor_id)).status_code == 303
    with app.app_context():
        from portal.auth.models import Account

        booking.cancel(db.session.get(Account, demo["guardian"].id), demo["child_9"].id, appointment_id)
    [offer] = offers(app)
    assert offer.slot_id == slot_id and offer.status == "open"
    assert slot_of(app, slot_id).status == "held"


def test_the_cli_command_is_safe_to_run_twice(app, demo, me):
    pid, client = me
    assert join(client, pid).status_code == 303
    free_an_ent_slot(app)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["expire-offers"])
    assert first.exit_code == 0 and "1 offered" in first.output
    second = runner.invoke(args=["expire-offers"])
    assert second.exit_code == 0 and "0 expired, 0 offered" in second.output
    assert len(offers(app)) == 1


def test_offer_messages_name_the_time(app, demo, me):
    pid, client = me
    assert join(client, pid).status_code == 303
    free_an_ent_slot(app)
    with app.app_context():
        waitlist.run()
    inbox_page = client.get("/notifications").get_data(as_text=True)
    assert re.search(r"Освободилось время", inbox_page)


def test_a_trusted_person_with_add_joins_for_the_card_and_with_view_only_gets_404(app, demo, login):
    from tests.test_booking import grant

    pid = demo["patient"].patient_id
    trusted = login(demo["trusted"])
    assert trusted.get(f"/card/{pid}/appointments/waitlist").status_code == 404
    grant(app, demo, "appointments", "view")
    assert trusted.get(f"/card/{pid}/appointments/waitlist").status_code == 404
    assert entries(app) == []
    grant(app, demo, "appointments", "add")
    assert join(trusted, pid).status_code == 303
    [entry] = entries(app)
    assert (entry.patient_id, entry.created_by_id) == (pid, demo["trusted"].id)


def test_accepting_is_refused_by_the_booking_rules_and_changes_nothing(app, demo, me):
    pid, client = me
    assert join(client, pid).status_code == 303
    slot_id = free_an_ent_slot(app, days=3)
    with app.app_context():
        waitlist.run()
    [offer] = offers(app)
    # meanwhile the card got an ENT appointment at the desk: one per specialty
    other_slot = free_an_ent_slot(app, days=6)
    with app.app_context(), write_transaction():
        slot = db.session.get(Slot, other_slot)
        slot.status = "booked"
        db.session.add(
            Appointment(
                patient_id=pid,
                organisation_id=slot.organisation_id,
                practitioner_id=slot.practitioner_id,
                slot_id=slot.id,
                specialty_code=ENT,
                starts_at=slot.starts_at,
                status="booked",
            )
        )
    token = csrf_token(client, f"/card/{pid}/appointments/waitlist")
    answer = client.post(f"/card/{pid}/appointments/waitlist/offers/{offer.id}/accept", data={"csrf_token": token})
    assert answer.status_code == 409 and "Отмените или перенесите" in answer.get_data(as_text=True)
    assert offers(app)[0].status == "open" and slot_of(app, slot_id).status == "held"
    assert entries(app, pid)[0].status == "waiting"
