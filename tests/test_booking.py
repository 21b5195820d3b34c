"""Booking an appointment over HTTP: the five steps as plain pages, the rules (direct specialties,
referrals, one future appointment per specialty), who may book (the patient, a guardian, a trusted
person with the appointments section at level «add»), the ticket with its QR code and calendar file,
cancelling and moving until the cut-off, rebooking after the clinic cancelled; and bad input —
a slot in the past, another card's slot, a forged referral, a cancelled slot, a double submit,
past the cut-off — each answered with a clear page that changes nothing. Every change audited."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments.models import Appointment, ScheduleException, Slot
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from portal.record.models import Referral
from portal.sharing.models import AccessGrant
from tests.conftest import audit_log_verifies, csrf_token

DENTIST, GP, PEDIATRICIAN, CARDIOLOGIST, ENDOCRINOLOGIST = "62", "72", "43", "21", "91"


def free_slot(app, specialty: str, after: timedelta = timedelta(days=1), skip: int = 0) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Slot.id)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                Practitioner.specialty_code == specialty,
                Slot.status == "free",
                Slot.kind == "in_person",
                Slot.starts_at > clock.now() + after,
            )
            .order_by(Slot.starts_at, Slot.id)
            .offset(skip)
            .limit(1)
        )


def appointments(app, patient_id: int) -> list[Appointment]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(Appointment).where(Appointment.patient_id == patient_id).order_by(Appointment.id)
            )
        )
        db.session.expunge_all()
    return rows


def slot_status(app, slot_id: int) -> str:
    with app.app_context():
        return db.session.get(Slot, slot_id).status


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )
        db.session.expunge_all()
    return rows


def confirm(client, patient_id: int, slot_id: int | str, **extra):
    path = f"/card/{patient_id}/appointments/book/confirm"
    token = csrf_token(client, f"/card/{patient_id}/appointments")
    return client.post(path, data={"csrf_token": token, "slot": str(slot_id), **{k: str(v) for k, v in extra.items()}})


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def grant(app, demo, sections: str, level: str) -> None:
    with app.app_context(), write_transaction():
        db.session.add(
            AccessGrant(
                patient_id=demo["patient"].patient_id,
                grantee_id=demo["trusted"].id,
                granted_by_id=demo["patient"].id,
                sections=sections,
                level=level,
                expires_on=clock.today() + timedelta(days=60),
            )
        )


@pytest.fixture
def me(app, demo, login):
    return demo["patient"].patient_id, login(demo["patient"])


def test_the_five_steps_are_plain_pages_and_booking_makes_a_ticket(app, demo, me):
    pid, client = me
    steps = client.get(f"/card/{pid}/appointments/book")
    assert steps.status_code == 200
    page = steps.get_data(as_text=True)
    assert f"/card/{pid}/appointments/book/doctor?specialty={DENTIST}" in page
    assert "стоматолог" in page and "оториноларинголог" in page

    doctors = client.get(f"/card/{pid}/appointments/book/doctor?specialty={DENTIST}")
    assert doctors.status_code == 200
    assert "doctor=any" in doctors.get_data(as_text=True)
    # htmx narrows the list in place: only the step's fragment comes back
    narrowed = client.get(
        f"/card/{pid}/appointments/book/doctor?specialty={DENTIST}&q=zzz", headers={"HX-Request": "true"}
    )
    assert narrowed.status_code == 200
    assert narrowed.get_data(as_text=True).lstrip().startswith('<section id="step"')
    assert "data-announce" in narrowed.get_data(as_text=True)

    dates = client.get(f"/card/{pid}/appointments/book/date?specialty={DENTIST}&doctor=any")
    assert dates.status_code == 200
    first_day = re.search(r"date=(\d{4}-\d\d-\d\d)", dates.get_data(as_text=True)).group(1)
    times = client.get(f"/card/{pid}/appointments/book/time?specialty={DENTIST}&doctor=any&date={first_day}")
    assert times.status_code == 200
    slot_id = int(re.search(r"book/confirm\?slot=(\d+)", times.get_data(as_text=True)).group(1))
    morning = client.get(
        f"/card/{pid}/appointments/book/time?specialty={DENTIST}&doctor=any&date={first_day}&part=morning",
        headers={"HX-Request": "true"},
    )
    assert morning.status_code == 200 and 'id="step"' in morning.get_data(as_text=True)

    page = client.get(f"/card/{pid}/appointments/book/confirm?slot={slot_id}")
    assert page.status_code == 200 and "Смирнова" in page.get_data(as_text=True)
    done = confirm(client, pid, slot_id)
    assert done.status_code == 303
    ticket = client.get(done.headers["Location"])
    body = ticket.get_data(as_text=True)
    booked = [a for a in appointments(app, pid) if a.slot_id == slot_id]
    assert len(booked) == 1 and booked[0].status == "booked" and booked[0].specialty_code == DENTIST
    assert booked[0].number in body and "<svg" in body and "Запись действует" in body
    assert "Лифт: " in body and "Полис ОМС" in body  # the building's accessibility; what to bring
    assert slot_status(app, slot_id) == "booked"
    [event] = events(app, "appointment.booked")
    assert (event.patient_id, event.object_id, event.actor_role) == (pid, str(booked[0].id), "self")

    calendar = client.get(f"/card/{pid}/appointments/{booked[0].id}/ticket.ics")
    assert calendar.status_code == 200 and calendar.mimetype == "text/calendar"
    from icalendar import Calendar

    parsed = Calendar.from_ical(calendar.data)
    [vevent] = parsed.walk("VEVENT")
    assert str(vevent["dtstart"].dt.tzinfo) == "Europe/Moscow"
    assert vevent["dtstart"].dt.astimezone(UTC) == booked[0].starts_at.replace(tzinfo=UTC)

    listing = client.get(f"/card/{pid}/appointments")
    assert listing.status_code == 200 and booked[0].number in listing.get_data(as_text=True)
    with app.app_context():
        assert audit_log_verifies()


def test_the_dashboard_links_the_next_appointment_to_its_ticket(app, demo, me):
    pid, client = me
    [mine] = [a for a in appointments(app, pid) if a.status == "booked"]
    page = client.get(f"/card/{pid}").get_data(as_text=True)
    assert f"/card/{pid}/appointments/{mine.id}" in page


def test_one_future_appointment_per_specialty(app, demo, me):
    pid, client = me
    before = appointments(app, pid)  # the demo books Smirnova with the demo GP already
    slot_id = free_slot(app, GP)
    answer = confirm(client, pid, slot_id)
    assert answer.status_code == 409
    assert "Отмените или перенесите" in text(answer) or "Cancel or move" in text(answer)
    assert appointments(app, pid) == before or len(appointments(app, pid)) == len(before)
    assert slot_status(app, slot_id) == "free"


def test_a_specialty_outside_the_setting_needs_a_valid_referral_which_booking_uses(app, demo, me):
    pid, client = me
    slot_id = free_slot(app, ENDOCRINOLOGIST)
    refused = confirm(client, pid, slot_id)
    assert refused.status_code == 400 and not appointments(app, pid)[1:]
    with app.app_context(), write_transaction():
        any_referral = db.session.scalar(sa.select(Referral).where(Referral.patient_id == pid).limit(1))
        referral = Referral(
            patient_id=pid,
            number="НП-TEST-1",
            issued_on=clock.today(),
            kind="consultation",
            target="Консультация врача-эндокринолога",
            valid_until=clock.today() + timedelta(days=30),
            status="issued",
            organisation_id=any_referral.organisation_id,
            practitioner_id=any_referral.practitioner_id,
        )
        db.session.add(referral)
        db.session.flush()
        referral_id = referral.id
    step = client.get(f"/card/{pid}/appointments/book").get_data(as_text=True)
    assert f"referral={referral_id}" in step and "НП-TEST-1" in step
    done = confirm(client, pid, slot_id, referral=referral_id)
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == "used"
        booked = db.session.scalar(sa.select(Appointment).where(Appointment.slot_id == slot_id))
        assert booked.referral_id == referral_id
    # a used referral opens nothing more
    again = confirm(client, pid, free_slot(app, ENDOCRINOLOGIST), referral=referral_id)
    assert again.status_code == 400


def test_a_forged_referral_changes_nothing(app, demo, me):
    pid, client = me
    with app.app_context():
        others = db.session.scalar(
            sa.select(Referral.id).where(Referral.patient_id != pid, Referral.status == "issued").limit(1)
        )
    slot_id = free_slot(app, ENDOCRINOLOGIST)
    for forged in (others, 99999999, "abc"):
        answer = confirm(client, pid, slot_id, referral=forged)
        assert answer.status_code == 400, forged
        assert "направлени" in text(answer).lower() or "referral" in text(answer).lower()
    assert len(appointments(app, pid)) == 1 and slot_status(app, slot_id) == "free"
    with app.app_context():
        assert db.session.get(Referral, others).status == "issued"


def test_bad_slots_past_taken_by_another_card_cancelled_unknown(app, demo, me, login):
    pid, client = me
    before = len(appointments(app, pid))
    cancelled_id = free_slot(app, DENTIST, skip=3)
    with app.app_context(), write_transaction():
        past = db.session.scalar(
            sa.select(Slot)
            .join(Practitioner)
            .where(Practitioner.specialty_code == DENTIST, Slot.status == "free")
            .limit(1)
        )
        past.starts_at = clock.now() - timedelta(hours=3)
        past.ends_at = clock.now() - timedelta(hours=2)
        past_id = past.id
        db.session.get(Slot, cancelled_id).status = "cancelled"
        taken_id = db.session.scalar(
            sa.select(Appointment.slot_id).where(
                Appointment.patient_id != pid, Appointment.status == "booked", Appointment.starts_at > clock.now()
            )
        )
    for slot_id, status, words in (
        (past_id, 409, ("прошло", "passed")),
        (cancelled_id, 409, ("отменила", "cancelled")),
        (taken_id, 409, ("только что", "moment ago")),
    ):
        answer = confirm(client, pid, slot_id)
        assert answer.status_code == status, slot_id
        page = text(answer)
        assert any(w in page for w in words), page[:400]
        assert "Ничего не изменилось" in page or "Nothing was changed" in page
    assert "book/confirm?slot=" in confirm(client, pid, cancelled_id).get_data(as_text=True)  # the alternatives
    for slot_id in (99999999, "x", ""):
        assert confirm(client, pid, slot_id).status_code == 400
    assert client.get(f"/card/{pid}/appointments/book/confirm?slot=99999999").status_code == 400
    assert len(appointments(app, pid)) == before
    assert slot_status(app, past_id) == "free" and slot_status(app, cancelled_id) == "cancelled"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Appointment.slot_id == taken_id)) == 1


def test_bad_step_arguments_get_a_clear_page(app, demo, me):
    pid, client = me
    for path in (
        "book/doctor?specialty=999",
        "book/date?specialty=62&doctor=abc",
        "book/time?specialty=62&doctor=any&date=2026-13-40",
        "book/time?specialty=62&doctor=any&date=2026-12-01&part=night",
    ):
        answer = client.get(f"/card/{pid}/appointments/{path}")
        assert answer.status_code == 400, path
        assert "/appointments/book" in answer.get_data(as_text=True)


def test_a_double_submit_books_once(app, demo, me):
    pid, client = me
    slot_id = free_slot(app, DENTIST)
    first, second = confirm(client, pid, slot_id), confirm(client, pid, slot_id)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"].split("?")[0] == second.headers["Location"].split("?")[0]
    assert "done=already" in second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Appointment.slot_id == slot_id)) == 1
    assert len(events(app, "appointment.booked")) == 1


def test_cancel_frees_the_slot_at_once_and_another_card_books_it(app, demo, me, login):
    pid, client = me
    slot_id = free_slot(app, DENTIST)
    confirm(client, pid, slot_id)
    [booked] = [a for a in appointments(app, pid) if a.slot_id == slot_id]
    page = client.get(f"/card/{pid}/appointments/{booked.id}")
    assert f"/appointments/{booked.id}/cancel" in page.get_data(as_text=True)
    token = csrf_token(client, f"/card/{pid}/appointments/{booked.id}/cancel")
    done = client.post(f"/card/{pid}/appointments/{booked.id}/cancel", data={"csrf_token": token})
    assert done.status_code == 303
    assert [a.status for a in appointments(app, pid) if a.slot_id == slot_id] == ["cancelled_by_patient"]
    assert slot_status(app, slot_id) == "free"
    assert len(events(app, "appointment.cancelled")) == 1
    # the guardian books the same slot for his child at once
    child = demo["child_9"].id
    guardian = login(demo["guardian"])
    assert confirm(guardian, child, slot_id).status_code == 303
    assert [a.status for a in appointments(app, child) if a.slot_id == slot_id] == ["booked"]
    # cancelling again changes nothing
    token = csrf_token(client, f"/card/{pid}/appointments")
    again = client.post(f"/card/{pid}/appointments/{booked.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409
    assert len(events(app, "appointment.cancelled")) == 1


def test_past_the_cut_off_nothing_can_be_cancelled_or_moved(app, demo, me):
    pid, client = me
    slot_id = free_slot(app, DENTIST)
    confirm(client, pid, slot_id)
    [booked] = [a for a in appointments(app, pid) if a.slot_id == slot_id]
    with app.app_context(), write_transaction():
        soon = clock.now() + timedelta(minutes=90)  # inside the default 2 hours
        db.session.get(Appointment, booked.id).starts_at = soon
        db.session.get(Slot, slot_id).starts_at = soon
        db.session.get(Slot, slot_id).ends_at = soon + timedelta(minutes=20)
    page = client.get(f"/card/{pid}/appointments/{booked.id}")
    assert f"/appointments/{booked.id}/cancel" not in page.get_data(as_text=True)
    token = csrf_token(client, f"/card/{pid}/appointments")
    answer = client.post(f"/card/{pid}/appointments/{booked.id}/cancel", data={"csrf_token": token})
    assert answer.status_code == 409 and ("2 ч" in text(answer) or "2 hours" in text(answer))
    moved = confirm(client, pid, free_slot(app, DENTIST), replace=booked.id)
    assert moved.status_code == 409
    assert [a.status for a in appointments(app, pid) if a.slot_id == slot_id] == ["booked"]
    assert not events(app, "appointment.cancelled") and not events(app, "appointment.rescheduled")


def test_the_cut_off_is_a_setting(app_factory, demo_factory, login):
    app = app_factory(CANCEL_CUTOFF_HOURS=48)
    demo = demo_factory(app)
    pid = demo["patient"].patient_id
    client = app.test_client()
    from tests.conftest import session_for

    session_for(app, client, demo["patient"].id)
    slot_id = free_slot(app, DENTIST, after=timedelta(hours=3), skip=0)
    with app.app_context():
        starts = db.session.get(Slot, slot_id).starts_at.replace(tzinfo=UTC)
    assert confirm(client, pid, slot_id).status_code == 303
    [booked] = [a for a in appointments(app, pid) if a.slot_id == slot_id]
    token = csrf_token(client, f"/card/{pid}/appointments")
    answer = client.post(f"/card/{pid}/appointments/{booked.id}/cancel", data={"csrf_token": token})
    expected = 409 if starts - clock.now() < timedelta(hours=48) else 303
    assert answer.status_code == expected


def test_moving_books_the_new_time_and_frees_the_old_in_one_step(app, demo, me):
    pid, client = me
    first = free_slot(app, DENTIST)
    confirm(client, pid, first)
    [booked] = [a for a in appointments(app, pid) if a.slot_id == first]
    steps = client.get(f"/card/{pid}/appointments/book/doctor?specialty={DENTIST}&replace={booked.id}")
    assert f"replace={booked.id}" in steps.get_data(as_text=True)
    second = free_slot(app, DENTIST, skip=5)
    moved = confirm(client, pid, second, replace=booked.id)
    assert moved.status_code == 303 and "done=moved" in moved.headers["Location"]
    statuses = {a.slot_id: a.status for a in appointments(app, pid)}
    assert statuses[first] == "cancelled_by_patient" and statuses[second] == "booked"
    assert slot_status(app, first) == "free" and slot_status(app, second) == "booked"
    assert len(events(app, "appointment.rescheduled")) == 1
    # another card's appointment cannot be moved from this card
    with app.app_context():
        foreign = db.session.scalar(sa.select(Appointment.id).where(Appointment.patient_id != pid))
    assert confirm(client, pid, free_slot(app, DENTIST, skip=7), replace=foreign).status_code == 400


def test_another_cards_ticket_and_cancel_are_404(app, demo, me):
    pid, client = me
    with app.app_context():
        foreign = db.session.scalar(
            sa.select(Appointment.id).where(Appointment.patient_id != pid, Appointment.status == "booked")
        )
    assert client.get(f"/card/{pid}/appointments/{foreign}").status_code == 404
    assert client.get(f"/card/{pid}/appointments/{foreign}/ticket.ics").status_code == 404
    token = csrf_token(client, f"/card/{pid}/appointments")
    assert client.post(f"/card/{pid}/appointments/{foreign}/cancel", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.get(Appointment, foreign).status == "booked"


def test_a_guardian_books_for_a_child_and_a_trusted_person_only_with_the_add_level(app, demo, login):
    child = demo["child_9"].id
    guardian = login(demo["guardian"])
    assert confirm(guardian, child, free_slot(app, PEDIATRICIAN)).status_code == 303
    [event] = events(app, "appointment.booked")
    assert event.actor_role == "guardian" and event.patient_id == child

    pid = demo["patient"].patient_id
    trusted = login(demo["trusted"])
    slot_id = free_slot(app, DENTIST)
    grant(app, demo, "visits,results", "add")  # no appointments section
    assert trusted.get(f"/card/{pid}/appointments/book").status_code == 404
    assert confirm(trusted, pid, slot_id).status_code == 404
    grant(app, demo, "appointments", "view")
    assert trusted.get(f"/card/{pid}/appointments").status_code == 200
    assert trusted.get(f"/card/{pid}/appointments/book").status_code == 404
    assert confirm(trusted, pid, slot_id).status_code == 404
    assert slot_status(app, slot_id) == "free"
    grant(app, demo, "appointments", "add")
    assert trusted.get(f"/card/{pid}/appointments/book").status_code == 200
    assert confirm(trusted, pid, slot_id).status_code == 303
    assert events(app, "appointment.booked")[-1].actor_role == "trusted"
    # a doctor treating the patient does not book through the citizen's pages
    doctor = login(demo["doctor"])
    assert doctor.get(f"/card/{pid}/appointments/book").status_code == 404


def test_after_the_clinic_cancels_one_click_rebooks_an_alternative(app, demo, me):
    from portal.appointments.schedule import apply_exception

    pid, client = me
    slot_id = free_slot(app, DENTIST, after=timedelta(days=2))
    confirm(client, pid, slot_id)
    [booked] = [a for a in appointments(app, pid) if a.slot_id == slot_id]
    with app.app_context():
        with write_transaction():
            slot = db.session.get(Slot, slot_id)
            day = clock.local_date(slot.starts_at.replace(tzinfo=UTC))
            exception = ScheduleException(
                organisation_id=slot.organisation_id,
                practitioner_id=slot.practitioner_id,
                kind="sick_leave",
                starts_on=day,
                ends_on=day,
                reason="ОРВИ",
            )
            db.session.add(exception)
            db.session.flush()
            exception_id = exception.id
        apply_exception(exception_id)
    page = client.get(f"/card/{pid}/appointments/{booked.id}").get_data(as_text=True)
    assert "ОРВИ" in page
    alternative = int(re.search(r'name="slot" value="(\d+)"', page).group(1))
    token = csrf_token(client, f"/card/{pid}/appointments")
    done = client.post(
        f"/card/{pid}/appointments/book/confirm",
        data={"csrf_token": token, "slot": str(alternative), "replace": str(booked.id)},
    )
    assert done.status_code == 303
    statuses = {a.slot_id: a.status for a in appointments(app, pid)}
    assert statuses[slot_id] == "cancelled_by_clinic" and statuses[alternative] == "booked"
    assert len(events(app, "appointment.rebooked")) == 1


def test_step_pages_are_in_english_too(app, demo, me):
    pid, client = me
    client.set_cookie("lang", "en")
    page = client.get(f"/card/{pid}/appointments/book").get_data(as_text=True)
    assert "dentist" in page
    assert date.today().year > 2000


def test_the_database_not_a_python_check_refuses_the_second_booking(app, demo, me):
    """The slot still reads «free» (as it does to a second transaction that read it before the
    first committed), yet an active appointment holds it: the unique index refuses the INSERT,
    and the citizen sees the nearest free times; nothing else changed."""
    pid, client = me
    slot_id = free_slot(app, DENTIST)
    with app.app_context(), write_transaction():
        slot = db.session.get(Slot, slot_id)
        other = db.session.scalar(sa.select(Appointment.patient_id).where(Appointment.patient_id != pid).limit(1))
        db.session.add(
            Appointment(patient_id=other, organisation_id=slot.organisation_id, practitioner_id=slot.practitioner_id,
                        slot_id=slot.id, specialty_code=DENTIST, starts_at=slot.starts_at, status="booked")
        )  # fmt: skip
    before = len(appointments(app, pid))
    answer = confirm(client, pid, slot_id)
    assert answer.status_code == 409
    assert "book/confirm?slot=" in answer.get_data(as_text=True)
    assert len(appointments(app, pid)) == before
    [failed] = [e for e in events(app, "appointment.booked") if e.outcome == "failure"]
    assert failed.object_id == str(slot_id) and failed.patient_id == pid
    with app.app_context():
        assert audit_log_verifies()


def test_step_pages_cost_the_same_statements_for_any_number_of_doctors_and_slots(app, demo, me):
    from bench.pages import recorded_statements

    pid, client = me
    day = None
    with app.app_context():
        first = db.session.scalar(
            sa.select(Slot.starts_at)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(Practitioner.specialty_code == DENTIST, Slot.status == "free", Slot.starts_at > clock.now())
            .order_by(Slot.starts_at)
            .limit(1)
        )
        day = clock.local_date(first.replace(tzinfo=UTC)).isoformat()
    paths = [
        f"/card/{pid}/appointments",
        f"/card/{pid}/appointments/book",
        f"/card/{pid}/appointments/book/doctor?specialty={DENTIST}",
        f"/card/{pid}/appointments/book/date?specialty={DENTIST}&doctor=any",
        f"/card/{pid}/appointments/book/time?specialty={DENTIST}&doctor=any&date={day}",
    ]

    def counts() -> list[int]:
        with app.app_context():
            engine = db.engine
        found = []
        for path in paths:
            client.get(path)
            with recorded_statements(engine) as statements:
                assert client.get(path).status_code == 200
            found.append(len(statements))
        return found

    before = counts()
    with app.app_context(), write_transaction():  # three more dentists for each one, with the same free slots
        dentists = list(db.session.scalars(sa.select(Practitioner).where(Practitioner.specialty_code == DENTIST)))
        for n in range(3):
            for d in dentists:
                twin = Practitioner(surname=f"Двойник{n}", name=d.name, patronymic=d.patronymic, specialty=d.specialty,
                                    specialty_code=DENTIST, position=d.position, registration_number=f"T{n}-{d.id}",
                                    organisation_id=d.organisation_id, department_id=d.department_id)  # fmt: skip
                db.session.add(twin)
                db.session.flush()
                slots = db.session.scalars(sa.select(Slot).where(Slot.practitioner_id == d.id, Slot.status == "free"))
                db.session.add_all(
                    Slot(
                        practitioner_id=twin.id,
                        organisation_id=s.organisation_id,
                        starts_at=s.starts_at,
                        ends_at=s.ends_at,
                        room=s.room,
                        kind=s.kind,
                        status="free",
                    )  # fmt: skip
                    for s in list(slots)
                )
    assert counts() == before
