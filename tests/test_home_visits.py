"""Calling a doctor home («вызов врача на дом»): the form (address, symptoms, temperature, phone)
with an error summary that keeps what was typed and changes nothing; the call goes to the card's
attached clinic; that clinic's registrar accepts it (a doctor of the clinic and a date) or refuses
it with a reason, and the citizen follows the status and is told; another clinic's registrar gets
404 and changes nothing; every step audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments.models import HomeVisitRequest
from portal.audit.models import AuditEvent
from portal.clinic.service import assign_role
from portal.database import db
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner
from portal.notify.models import Notification
from tests.conftest import audit_log_verifies, csrf_token

GOOD = {
    "address": "ул. Ленина, д. 5, кв. 12, подъезд 2, этаж 3",
    "symptoms": "Кашель и температура со вчерашнего дня",
    "temperature": "38,4",
    "phone": "+7 912 345-67-89",
}


def call(client, pid: int, **data):
    token = csrf_token(client, f"/card/{pid}/home-visits/new")
    return client.post(f"/card/{pid}/home-visits/new", data={"csrf_token": token, **data})


def calls(app) -> list[HomeVisitRequest]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(HomeVisitRequest).order_by(HomeVisitRequest.id)))
        db.session.expunge_all()
    return rows


@pytest.fixture
def me(app, demo, login):
    return demo["patient"].patient_id, login(demo["patient"])


@pytest.fixture
def registrar_b(app, demo):
    with app.app_context():
        assign_role(None, demo["doctor_b"].id, demo_organisations()["B"].id, "registrar")
    return demo["doctor_b"]


def test_bad_input_keeps_what_was_typed_and_changes_nothing(app, demo, me):
    pid, client = me
    form = client.get(f"/card/{pid}/home-visits/new")
    assert form.status_code == 200 and "Вызвать врача на дом" in form.get_data(as_text=True)
    cases = [
        ({**GOOD, "address": ""}, "Введите адрес"),
        ({**GOOD, "address": "дом"}, "от 10 до 300 символов"),
        ({**GOOD, "symptoms": ""}, "Опишите симптомы"),
        ({**GOOD, "temperature": "жар"}, "Введите температуру числом"),
        ({**GOOD, "temperature": "45"}, "от 34 до 43"),
        ({**GOOD, "phone": "123"}, "Введите российский номер"),
        ({**GOOD, "phone": ""}, "Введите номер"),
    ]
    for data, message in cases:
        answer = call(client, pid, **data)
        body = answer.get_data(as_text=True)
        assert answer.status_code == 400, data
        assert message in body and 'id="error-summary"' in body, (data, message)
        assert "Кашель и температура" in body or not data["symptoms"]  # what was typed stays
    assert calls(app) == []


def test_the_clinic_accepts_the_citizen_follows_and_is_told(app, demo, me, login, registrar_b):
    pid, client = me
    done = call(client, pid, **GOOD)
    assert done.status_code == 303
    [item] = calls(app)
    assert (item.status, item.phone, str(item.temperature)) == ("new", "+79123456789", "38.4")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "ждёт решения поликлиники" in page
    again = call(client, pid, **GOOD)
    assert again.status_code == 409 and len(calls(app)) == 1  # one waiting call per card

    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/home-visits")
    assert queue.status_code == 200 and f"/clinic/home-visits/{item.id}" in queue.get_data(as_text=True)
    # another clinic's registrar: 404, nothing changes
    other = login(registrar_b)
    assert f"/clinic/home-visits/{item.id}" not in other.get("/clinic/home-visits").get_data(as_text=True)
    assert other.get(f"/clinic/home-visits/{item.id}").status_code == 404
    refused = other.post(
        f"/clinic/home-visits/{item.id}/refuse",
        data={"csrf_token": csrf_token(other, "/clinic/home-visits"), "reason": "Чужой адрес"},
    )
    assert refused.status_code == 404 and calls(app)[0].status == "new"

    token = csrf_token(registrar, f"/clinic/home-visits/{item.id}")
    with app.app_context():
        doctor = db.session.scalar(
            sa.select(Practitioner.id).where(Practitioner.organisation_id == item.organisation_id).limit(1)
        )
        foreign_doctor = db.session.scalar(
            sa.select(Practitioner.id).where(Practitioner.organisation_id != item.organisation_id).limit(1)
        )
    far = (clock.today() + timedelta(days=10)).isoformat()
    bad = registrar.post(
        f"/clinic/home-visits/{item.id}/accept",
        data={"csrf_token": token, "practitioner": str(doctor), "visit_on": far},
    )
    assert bad.status_code == 400 and "до 3 дней вперёд" in bad.get_data(as_text=True)
    bad = registrar.post(
        f"/clinic/home-visits/{item.id}/accept",
        data={"csrf_token": token, "practitioner": str(foreign_doctor), "visit_on": clock.today().isoformat()},
    )
    assert bad.status_code == 400 and calls(app)[0].status == "new"
    ok = registrar.post(
        f"/clinic/home-visits/{item.id}/accept",
        data={"csrf_token": token, "practitioner": str(doctor), "visit_on": clock.today().isoformat()},
    )
    assert ok.status_code == 303
    decided = calls(app)[0]
    assert (decided.status, decided.practitioner_id, decided.visit_on) == ("accepted", doctor, clock.today())
    page = client.get(f"/card/{pid}/home-visits").get_data(as_text=True)
    assert "принято" in page
    with app.app_context():
        told = db.session.scalars(
            sa.select(Notification.event).where(Notification.account_id == demo["patient"].id)
        ).all()
        assert told.count("home_visit_status") == 2  # registered, accepted
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("home_visit.%"))).all()
        assert {"home_visit.requested", "home_visit.read", "home_visit.decided"} <= set(actions)
        assert audit_log_verifies()
    twice = registrar.post(f"/clinic/home-visits/{item.id}/refuse", data={"csrf_token": token, "reason": "Передумали"})
    assert twice.status_code == 400 and calls(app)[0].status == "accepted"


def test_a_refusal_needs_a_reason_and_the_citizen_sees_it(app, demo, me, login):
    pid, client = me
    assert call(client, pid, **GOOD).status_code == 303
    [item] = calls(app)
    registrar = login(demo["registrar"])
    token = csrf_token(registrar, f"/clinic/home-visits/{item.id}")
    empty = registrar.post(f"/clinic/home-visits/{item.id}/refuse", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 400 and "Укажите причину" in empty.get_data(as_text=True)
    assert calls(app)[0].status == "new"
    done = registrar.post(
        f"/clinic/home-visits/{item.id}/refuse", data={"csrf_token": token, "reason": "Адрес вне участка"}
    )
    assert done.status_code == 303
    page = client.get(f"/card/{pid}/home-visits").get_data(as_text=True)
    assert "отказано" in page
    assert "Адрес вне участка" in page


def test_a_guardian_calls_for_a_child_and_a_stranger_gets_404(app, demo, login):
    guardian = login(demo["guardian"])
    child = demo["child_9"].id
    assert call(guardian, child, **GOOD).status_code == 303
    patient = login(demo["patient"])
    assert patient.get(f"/card/{child}/home-visits").status_code == 404
    assert patient.get(f"/card/{child}/home-visits/new").status_code == 404
    answer = call(patient, child, **GOOD)
    assert answer.status_code == 404 and len(calls(app)) == 1
