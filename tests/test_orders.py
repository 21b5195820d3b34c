"""Orders from the visit (portal/orders): the doctor's prescriptions, referrals and vaccinations
written from an appointment of their day, the confirmation of a vaccination the citizen added, and
the nurse's vaccination form. Each write goes through the record's intake: in the card, audited,
told to the card's holders."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments import care
from portal.appointments.models import Appointment, Slot
from portal.audit.models import AuditEvent
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner
from portal.notify.models import Notification
from portal.record.models import Immunization, Prescription, Referral
from tests.conftest import audit_log_verifies, csrf_token, outbox

ENDOCRINOLOGIST = "91"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def orgs(app):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


@pytest.fixture
def visit(app, demo, orgs) -> int:
    """Smirnova (who has an account, so she is told) arrived at the demo doctor's just now; the
    booking opened her card to him."""
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor"].id))
        row = Appointment(
            patient_id=demo["patient"].patient_id, organisation_id=orgs["A"], practitioner_id=doctor.id,
            specialty_code=doctor.specialty_code, starts_at=clock.now() - timedelta(minutes=5), status="arrived",
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        care.open_for(row, None, "system")
        return row.id


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def told(app, patient_id: int, event: str, kind: str | None = None) -> list[dict]:
    """The parameters of the card's notices of ``event`` (of that ``kind``, when given)."""
    with app.app_context():
        found = [
            params if isinstance(params, dict) else json.loads(params)
            for params in db.session.scalars(
                sa.select(Notification.params).where(Notification.patient_id == patient_id, Notification.event == event)
            )
        ]
    return [p for p in found if kind is None or p.get("kind") == kind]


def ddmmyyyy(day: date) -> str:
    return day.strftime("%d.%m.%Y")


PRESCRIPTION = {
    "drug": "Амоксициллин", "form": "таблетки 500 мг", "dose": "1", "dose_unit": "tablet", "frequency": "3",
    "quantity": "2", "validity": "30",
}  # fmt: skip


def prescription_data(**changes) -> dict:
    today = clock.today()
    return {
        **PRESCRIPTION,
        "course_start": ddmmyyyy(today),
        "course_end": ddmmyyyy(today + timedelta(days=7)),
        **changes,
    }


def test_the_doctors_day_links_each_row_to_its_orders(app, demo, login, visit):
    html = login(demo["doctor"]).get("/doctor").get_data(as_text=True)
    assert f"/doctor/appointments/{visit}/orders" in html
    page = login(demo["doctor"]).get(f"/doctor/appointments/{visit}/orders")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for form in ("prescription", "referral", "vaccination"):
        assert f"/doctor/appointments/{visit}/orders/{form}" in body
    with app.app_context():
        reads = db.session.scalars(
            sa.select(AuditEvent.section).where(AuditEvent.action == "card.read", AuditEvent.object_id == str(visit))
        ).all()
    assert set(reads) == {"prescriptions", "referrals", "vaccinations"}


def test_a_prescription_goes_into_the_card_and_the_patient_is_told(app, demo, login, visit):
    doctor = login(demo["doctor"])
    path = f"/doctor/appointments/{visit}/orders/prescription"
    assert doctor.get(path).status_code == 200
    response = post(doctor, path, **prescription_data(preferential="y"))
    assert response.status_code == 303, text(response)
    assert response.headers["Location"].endswith(f"/doctor/appointments/{visit}/orders?done=prescription")
    pid = demo["patient"].patient_id
    with app.app_context():
        written = db.session.scalar(sa.select(Prescription).where(Prescription.appointment_id == visit))
        assert written.patient_id == pid and written.drug == "Амоксициллин"
        assert written.dose == "1 табл. 3 раза в день" and written.quantity == "2 уп."
        assert written.course_end - written.course_start == timedelta(days=7)
        assert written.valid_until == clock.today() + timedelta(days=30) and written.preferential
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.write", AuditEvent.object_id == str(written.id))
        )
        assert event.actor_id == demo["doctor"].id and event.section == "prescriptions"
        number = written.number
    assert number in [p.get("number") for p in told(app, pid, "prescription_issued")]
    orders = text(doctor.get(f"/doctor/appointments/{visit}/orders?done=prescription"))
    assert "Амоксициллин" in orders and number in orders
    # the patient sees it in her card
    patient = login(demo["patient"])
    assert "Амоксициллин" in text(patient.get(f"/card/{pid}/prescriptions"))
    entry = text(patient.get(f"/card/{pid}/prescriptions/{written.id}"))
    assert "1 табл. 3 раза в день" in entry and "Курс" in entry
    with app.app_context():
        assert audit_log_verifies()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dose": "-1"}, "Доза должна быть больше нуля"),
        ({"dose": "0"}, "Доза должна быть больше нуля"),
        ({"dose": "много"}, "Введите дозу числом"),
        ({"course_end": "01.01.2000"}, "Курс не может закончиться раньше, чем начался"),
        ({"quantity": "0"}, "целым числом от 1 до 100"),
        ({"dose_unit": ""}, "Выберите единицу дозы"),
        ({"course_start": "32.13.2025"}, "например 15.03.2025"),
    ],
)
def test_a_bad_prescription_comes_back_with_what_was_typed_and_nothing_is_kept(
    app, demo, login, visit, changes, message
):
    doctor = login(demo["doctor"])
    path = f"/doctor/appointments/{visit}/orders/prescription"
    data = prescription_data(**changes)
    response = post(doctor, path, **data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="error-summary"' in page
    assert message in text(response), text(response)
    for key in ("drug", "form", "dose", "course_start", "course_end", "quantity"):
        assert f'value="{data[key]}"' in page, key
    with app.app_context():
        assert db.session.scalar(sa.select(Prescription.id).where(Prescription.appointment_id == visit)) is None
    assert not [p for p in told(app, demo["patient"].patient_id, "prescription_issued") if "-P" in p.get("number", "")]


def free_slot(app, specialty: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Slot.id)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                Practitioner.specialty_code == specialty,
                Slot.status == "free",
                Slot.kind == "in_person",
                Slot.starts_at > clock.now() + timedelta(days=1),
            )
            .order_by(Slot.starts_at, Slot.id)
            .limit(1)
        )


def book(client, patient_id: int, slot_id: int, **extra):
    token = csrf_token(client, f"/card/{patient_id}/appointments")
    return client.post(
        f"/card/{patient_id}/appointments/book/confirm",
        data={"csrf_token": token, "slot": str(slot_id), **{k: str(v) for k, v in extra.items()}},
    )


def test_a_referral_to_a_specialist_lets_the_patient_book_that_specialty(app, demo, login, visit):
    pid = demo["patient"].patient_id
    patient = login(demo["patient"])
    slot_id = free_slot(app, ENDOCRINOLOGIST)
    assert slot_id is not None
    assert book(patient, pid, slot_id).status_code == 400  # an endocrinologist needs a referral
    doctor = login(demo["doctor"])
    path = f"/doctor/appointments/{visit}/orders/referral"
    until = clock.today() + timedelta(days=30)
    response = post(
        doctor, path, kind="consultation", specialty=ENDOCRINOLOGIST, target="", reason="Гипергликемия натощак",
        diagnosis_code="r73.0", valid_until=ddmmyyyy(until),
    )  # fmt: skip
    assert response.status_code == 303, text(response)
    with app.app_context():
        referral = db.session.scalar(sa.select(Referral).where(Referral.appointment_id == visit))
        assert referral.kind == "consultation" and referral.status == "issued" and referral.valid_until == until
        assert referral.diagnosis_code == "R73.0" and "эндокринолог" in referral.target
        referral_id, number = referral.id, referral.number
    assert number in [p.get("number") for p in told(app, pid, "prescription_issued")]
    inbox = text(patient.get("/notifications"))
    assert "Выдано направление" in inbox
    # e-mail says what came, with no medical details
    mail = outbox(app, demo["patient"].email)[-1]
    assert "новое направление" in mail.subject and "эндокрин" not in mail.body
    assert "эндокринолог" in text(patient.get(f"/card/{pid}/referrals"))
    # the patient books the endocrinologist with it
    step = patient.get(f"/card/{pid}/appointments/book").get_data(as_text=True)
    assert f"referral={referral_id}" in step
    done = book(patient, pid, slot_id, referral=referral_id)
    assert done.status_code == 303, text(done)
    with app.app_context():
        assert db.session.get(Referral, referral_id).status == "used"
        assert (
            db.session.scalar(sa.select(Appointment.referral_id).where(Appointment.slot_id == slot_id)) == referral_id
        )


def test_a_bad_referral_says_what_is_missing(app, demo, login, visit):
    doctor = login(demo["doctor"])
    path = f"/doctor/appointments/{visit}/orders/referral"
    cases = [
        ({"kind": "consultation", "specialty": "", "valid_until": ddmmyyyy(clock.today())}, "Выберите специалиста"),
        ({"kind": "test", "target": "", "valid_until": ddmmyyyy(clock.today())}, "Укажите анализ или исследование"),
        (
            {"kind": "study", "target": "ЭКГ", "valid_until": ddmmyyyy(clock.today() - timedelta(days=1))},
            "не раньше сегодняшнего дня",
        ),
        (
            {"kind": "study", "target": "ЭКГ", "diagnosis_code": "гипертония", "valid_until": ddmmyyyy(clock.today())},
            "I10",
        ),
    ]
    for data, message in cases:
        response = post(doctor, path, **data)
        assert response.status_code == 400, data
        assert message in text(response), (data, text(response))
        assert 'id="error-summary"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Referral.id).where(Referral.appointment_id == visit)) is None


def test_the_doctor_records_a_vaccination_given_by_the_calendar(app, demo, login, visit):
    doctor = login(demo["doctor"])
    pid = demo["patient"].patient_id
    path = f"/doctor/appointments/{visit}/orders/vaccination"
    future = post(
        doctor,
        path,
        item="Td-10y",
        vaccine="АДС-М",
        series="А-123",
        given_on=ddmmyyyy(clock.today() + timedelta(days=1)),
    )
    assert future.status_code == 400
    assert "Дата не может быть в будущем" in text(future)
    assert 'value="А-123"' in future.get_data(as_text=True)
    response = post(doctor, path, item="Td-10y", vaccine="АДС-М", series="А-123", given_on=ddmmyyyy(clock.today()))
    assert response.status_code == 303, text(response)
    with app.app_context():
        given = db.session.scalar(sa.select(Immunization).where(Immunization.appointment_id == visit))
        assert (given.target, given.dose_label, given.dose_number, given.confirmed) == ("Td", "R", 1, True)
        assert given.series == "А-123" and given.given_on == clock.today()
    assert len(told(app, pid, "vaccination_due", "given")) == 1
    assert "Проведена вакцинация: АДС-М" in text(login(demo["patient"]).get("/notifications"))
    assert "А-123" in text(login(demo["patient"]).get(f"/card/{pid}/vaccinations/{given.id}"))
    # the same dose of the same day again: said, not stored twice
    again = post(doctor, path, item="Td-10y", vaccine="АДС-М", series="А-123", given_on=ddmmyyyy(clock.today()))
    assert again.status_code == 400 and "уже есть в карте" in text(again)


def test_the_doctor_confirms_a_vaccination_the_patient_added(app, demo, login, visit):
    pid = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        added = Immunization(
            patient_id=pid, vaccine="Вактривир", target="MMR", given_on=date(2001, 5, 14), dose_number=1,
            place="Поликлиника в Твери", confirmed=False, added_by_id=demo["patient"].id,
        )  # fmt: skip
        db.session.add(added)
        db.session.flush()
        entry_id = added.id
    doctor = login(demo["doctor"])
    orders = f"/doctor/appointments/{visit}/orders"
    page = doctor.get(orders).get_data(as_text=True)
    action = f"/doctor/appointments/{visit}/orders/vaccinations/{entry_id}/confirm"
    assert action in page and "Вактривир" in page
    assert doctor.post(action, data={}).status_code == 400  # no CSRF token
    assert post(login(demo["doctor_b"]), action.replace(orders, orders)).status_code == 404
    response = post(doctor, action)
    assert response.status_code == 303
    with app.app_context():
        entry = db.session.get(Immunization, entry_id)
        assert entry.confirmed and entry.confirmed_by_id is not None
    assert [p["vaccine"] for p in told(app, pid, "request_status", "vaccination")] == ["Вактривир"]
    assert action not in doctor.get(orders).get_data(as_text=True)


def test_the_nurse_records_a_vaccination_at_an_arrived_appointment(app, demo, login, visit):
    nurse = login(demo["nurse"])
    listing = nurse.get("/nurse").get_data(as_text=True)
    path = f"/nurse/appointments/{visit}/vaccination"
    assert path in listing
    assert nurse.get(path).status_code == 200
    response = post(nurse, path, item="Flu", vaccine="Совигрипп", series="Ф-77", given_on=ddmmyyyy(clock.today()))
    assert response.status_code == 303, text(response)
    assert response.headers["Location"].endswith("/nurse?done=vaccinated")
    with app.app_context():
        given = db.session.scalar(sa.select(Immunization).where(Immunization.appointment_id == visit))
        nurse_record = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.account_id == demo["nurse"].id))
        assert given.practitioner_id == nurse_record and given.target == "Flu" and given.confirmed
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.write", AuditEvent.object_id == str(given.id))
        )
        assert event.actor_id == demo["nurse"].id and event.section == "vaccinations"
    assert len(told(app, demo["patient"].patient_id, "vaccination_due", "given")) == 1


def test_a_nurse_without_a_practitioner_record_is_told_so_and_nothing_is_kept(app, demo, login, visit, orgs):
    with app.app_context():
        assign_role(None, demo["registrar"].id, orgs["A"], "nurse")
    nurse = login(demo["registrar"])
    path = f"/nurse/appointments/{visit}/vaccination"
    page = nurse.get(path)
    assert page.status_code == 200 and "не связана с записью медицинского работника" in text(page)
    response = post(nurse, path, item="Flu", vaccine="Совигрипп", series="Ф-77", given_on=ddmmyyyy(clock.today()))
    assert response.status_code == 409
    assert "не связана с записью медицинского работника" in text(response)
    assert 'value="Ф-77"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Immunization.id).where(Immunization.appointment_id == visit)) is None


def test_another_doctors_appointment_and_other_roles_get_404(app, demo, login, visit, orgs):
    paths = [
        f"/doctor/appointments/{visit}/orders",
        f"/doctor/appointments/{visit}/orders/prescription",
        f"/doctor/appointments/{visit}/orders/referral",
        f"/doctor/appointments/{visit}/orders/vaccination",
    ]
    for who in ("doctor_b", "nurse", "registrar", "patient", "auditor", "org_admin"):
        client = login(demo[who])
        for path in paths:
            assert client.get(path).status_code == 404, (who, path)
        assert post(client, paths[1], **prescription_data()).status_code == 404, who
    for who in ("doctor", "doctor_b", "registrar", "patient"):
        assert login(demo[who]).get(f"/nurse/appointments/{visit}/vaccination").status_code == 404
    # an appointment of clinic B is 404 to clinic A's doctor and nurse
    with app.app_context(), write_transaction():
        doctor_b = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor_b"].id))
        row = Appointment(
            patient_id=demo["guardian"].patient_id, organisation_id=orgs["B"], practitioner_id=doctor_b.id,
            specialty_code=doctor_b.specialty_code, starts_at=clock.now() - timedelta(minutes=10), status="arrived",
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        care.open_for(row, None, "system")
        in_b = row.id
    assert login(demo["doctor"]).get(f"/doctor/appointments/{in_b}/orders").status_code == 404
    assert login(demo["nurse"]).get(f"/nurse/appointments/{in_b}/vaccination").status_code == 404
    assert login(demo["doctor_b"]).get(f"/doctor/appointments/{in_b}/orders").status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(Prescription.id).where(Prescription.appointment_id == visit)) is None


def test_two_orders_numbered_at_once_keep_one_and_say_so(app, demo, login, visit):
    """Another order took the number this one was given (two doctors' windows saving at once):
    the form comes back with the values typed and a message; nothing half-written is kept."""
    with app.app_context(), write_transaction():
        appointment = db.session.get(Appointment, visit)
        first = db.session.scalar(sa.select(Prescription).where(Prescription.patient_id == appointment.patient_id))
        db.session.add(
            Prescription(
                patient_id=appointment.patient_id,
                number=f"{appointment.organisation_id}-{visit}-P1",
                issued_on=clock.today(),
                drug="Парацетамол",
                form="таблетки",
                dose="1 табл.",
                quantity="1 уп.",
                valid_until=clock.today(),
                organisation_id=first.organisation_id,
                practitioner_id=first.practitioner_id,
            )  # fmt: skip
        )
    path = f"/doctor/appointments/{visit}/orders/prescription"
    response = post(login(demo["doctor"]), path, **prescription_data())
    assert response.status_code == 409
    assert "выпишите ещё раз" in text(response) and 'value="Амоксициллин"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(Prescription.id).where(Prescription.appointment_id == visit)) is None
