"""Calling a doctor home («вызов врача на дом»): the form (address, symptoms, temperature, phone)
with an error summary that keeps what was typed and changes nothing; the call goes to the card's
attached clinic; that clinic's registrar accepts it (a doctor of the clinic and a date) or refuses
it with a reason, and the citizen follows the status and is told; another clinic's registrar gets
404 and changes nothing; every step audited."""

from __future__ import annotations

import re
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


# -- the end of a call: done, or cancelled by the citizen or the clinic ---------------------------


def accepted(app, demo, item_id: int, on=None) -> None:
    """The clinic's registrar accepts the call (a doctor of the clinic, today unless ``on``)."""
    from portal.appointments import homevisit
    from portal.auth.models import Account

    with app.app_context():
        registrar = db.session.get(Account, demo["registrar"].id)
        item = db.session.get(HomeVisitRequest, item_id)
        doctor = db.session.scalar(
            sa.select(Practitioner.id).where(Practitioner.organisation_id == item.organisation_id).limit(1)
        )
        homevisit.decide(registrar, item_id, True, doctor, on or clock.today())


def text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def told(app, account_id: int) -> list[dict]:
    import json

    with app.app_context():
        return [
            json.loads(p)
            for p in db.session.scalars(
                sa.select(Notification.params)
                .where(Notification.account_id == account_id, Notification.event == "home_visit_status")
                .order_by(Notification.id)
            )
        ]


def test_the_citizen_cancels_a_call_not_yet_done_and_nothing_more(app, demo, me):
    pid, client = me
    assert call(client, pid, **GOOD).status_code == 303
    [item] = calls(app)
    listing = client.get(f"/card/{pid}/home-visits").get_data(as_text=True)
    assert f"/card/{pid}/home-visits/{item.id}/cancel" in listing
    page = client.get(f"/card/{pid}/home-visits/{item.id}/cancel")
    assert page.status_code == 200 and "Отменить вызов" in page.get_data(as_text=True)
    token = csrf_token(client, f"/card/{pid}/home-visits/{item.id}/cancel")
    long = client.post(f"/card/{pid}/home-visits/{item.id}/cancel", data={"csrf_token": token, "reason": "я" * 301})
    assert long.status_code == 400 and 'id="error-summary"' in long.get_data(as_text=True)
    assert "я" * 301 in long.get_data(as_text=True) and calls(app)[0].status == "new"
    done = client.post(
        f"/card/{pid}/home-visits/{item.id}/cancel", data={"csrf_token": token, "reason": "  Стало лучше  "}
    )
    assert done.status_code == 303
    gone = calls(app)[0]
    assert (gone.status, gone.cancelled_by, gone.cancelled_by_id, gone.cancel_reason) == (
        "cancelled", "citizen", demo["patient"].id, "Стало лучше",
    )  # fmt: skip
    listing = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "отменено по вашей просьбе: Стало лучше" in text(listing)
    assert f"/home-visits/{item.id}/cancel" not in listing
    assert told(app, demo["patient"].id)[-1] == {
        "number": told(app, demo["patient"].id)[-1]["number"], "status": "cancelled", "by": "citizen",
        "reason": "Стало лучше",
    }  # fmt: skip
    # Again: a clear page, nothing changed, nobody told twice.
    again = client.post(f"/card/{pid}/home-visits/{item.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409 and "Ничего не изменилось" in again.get_data(as_text=True)
    assert len(told(app, demo["patient"].id)) == 2 and calls(app)[0].cancel_reason == "Стало лучше"
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "home_visit.cancelled"))
        assert (event.actor_id, event.actor_role, event.reason) == (
            demo["patient"].id,
            "self",
            "cancelled: Стало лучше",
        )
        assert audit_log_verifies()


def test_the_clinic_marks_a_visit_done_or_cancels_it_with_a_reason(app, demo, me, login):
    pid, client = me
    assert call(client, pid, **GOOD).status_code == 303
    [first] = calls(app)
    accepted(app, demo, first.id)
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/home-visits").get_data(as_text=True)
    assert "Принятые вызовы" in queue and f"/clinic/home-visits/{first.id}" in queue
    token = csrf_token(registrar, f"/clinic/home-visits/{first.id}")
    empty = registrar.post(f"/clinic/home-visits/{first.id}/cancel", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 400 and "Укажите причину" in empty.get_data(as_text=True)
    assert calls(app)[0].status == "accepted"
    cancelled = registrar.post(
        f"/clinic/home-visits/{first.id}/cancel", data={"csrf_token": token, "reason": "Врач заболел"}
    )
    assert cancelled.status_code == 303
    item = calls(app)[0]
    assert (item.status, item.cancelled_by, item.cancel_reason) == ("cancelled", "clinic", "Врач заболел")
    assert "отменено поликлиникой: Врач заболел" in text(client.get(f"/card/{pid}/home-visits").get_data(as_text=True))
    assert told(app, demo["patient"].id)[-1]["by"] == "clinic"

    assert call(client, pid, **GOOD).status_code == 303
    second = calls(app)[1]
    accepted(app, demo, second.id)
    assert registrar.post(f"/clinic/home-visits/{second.id}/done", data={"csrf_token": token}).status_code == 303
    assert calls(app)[1].status == "done"
    assert "выполнено: врач приходил" in client.get(f"/card/{pid}/home-visits").get_data(as_text=True)
    assert told(app, demo["patient"].id)[-1]["status"] == "done"
    # A done visit is cancelled by nobody; the citizen's page says so, the post changes nothing.
    page = client.get(f"/card/{pid}/home-visits/{second.id}/cancel").get_data(as_text=True)
    assert "уже нельзя отменить" in page
    token_c = csrf_token(client, f"/card/{pid}/home-visits")
    refused = client.post(f"/card/{pid}/home-visits/{second.id}/cancel", data={"csrf_token": token_c})
    assert refused.status_code == 409 and calls(app)[1].status == "done"
    refused = registrar.post(f"/clinic/home-visits/{second.id}/cancel", data={"csrf_token": token, "reason": "Ошибка"})
    assert refused.status_code == 409 and "Ничего не изменилось" in refused.get_data(as_text=True)
    assert calls(app)[1].status == "done"
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("home_visit.%"))).all()
        assert {"home_visit.cancelled", "home_visit.done"} <= set(actions)
        assert audit_log_verifies()


def test_bad_moves_and_forged_ids_change_nothing(app, demo, me, login, registrar_b):
    pid, client = me
    assert call(client, pid, **GOOD).status_code == 303
    [item] = calls(app)
    registrar = login(demo["registrar"])
    token = csrf_token(registrar, f"/clinic/home-visits/{item.id}")
    # Not accepted yet: neither done nor cancelled by the clinic (it is refused instead).
    for action, data in (("done", {}), ("cancel", {"reason": "Нет врача"})):
        answer = registrar.post(f"/clinic/home-visits/{item.id}/{action}", data={"csrf_token": token, **data})
        assert answer.status_code == 409 and calls(app)[0].status == "new"
    refused = registrar.post(f"/clinic/home-visits/{item.id}/refuse", data={"csrf_token": token, "reason": "Чужой"})
    assert refused.status_code == 303
    done = registrar.post(f"/clinic/home-visits/{item.id}/done", data={"csrf_token": token})
    assert done.status_code == 409 and "выполнен, отклонён или уже отменён" in done.get_data(as_text=True)
    assert calls(app)[0].status == "refused"
    # Accepted for tomorrow: not done today.
    assert call(client, pid, **GOOD).status_code == 303
    later = calls(app)[1]
    accepted(app, demo, later.id, clock.today() + timedelta(days=1))
    early = registrar.post(f"/clinic/home-visits/{later.id}/done", data={"csrf_token": token})
    assert early.status_code == 409 and calls(app)[1].status == "accepted"
    # Another clinic's registrar, a missing CSRF token: 404 and 400, nothing changed.
    other = login(registrar_b)
    other_token = csrf_token(other, "/clinic/home-visits")
    assert other.post(f"/clinic/home-visits/{later.id}/done", data={"csrf_token": other_token}).status_code == 404
    cancel = other.post(
        f"/clinic/home-visits/{later.id}/cancel", data={"csrf_token": other_token, "reason": "Чужой вызов"}
    )
    assert cancel.status_code == 404
    assert registrar.post(f"/clinic/home-visits/{later.id}/done").status_code == 400
    # The child's call through her own card's path, and through the child's card: 404.
    guardian = login(demo["guardian"])
    child = demo["child_9"].id
    assert call(guardian, child, **GOOD).status_code == 303
    childs = calls(app)[2]
    token_c = csrf_token(client, f"/card/{pid}/home-visits")
    assert client.get(f"/card/{pid}/home-visits/{childs.id}/cancel").status_code == 404
    assert client.post(f"/card/{pid}/home-visits/{childs.id}/cancel", data={"csrf_token": token_c}).status_code == 404
    assert client.post(f"/card/{child}/home-visits/{childs.id}/cancel", data={"csrf_token": token_c}).status_code == 404
    assert [c.status for c in calls(app)] == ["refused", "accepted", "new"]
    # The guardian cancels the child's call.
    token_g = csrf_token(guardian, f"/card/{child}/home-visits")
    assert (
        guardian.post(f"/card/{child}/home-visits/{childs.id}/cancel", data={"csrf_token": token_g}).status_code == 303
    )
    gone = calls(app)[2]
    assert (gone.status, gone.cancelled_by, gone.cancel_reason) == ("cancelled", "citizen", None)
