"""Opting out of the electronic record («Отказ от ЭМК»): an application with a reason and a
confirmation, a registrar's decision (never on their own card), a closed card that nobody opens
while its data and the audit log stay intact, and joining again by giving consent again."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.consent.models import ConsentEvent, OptOutRequest
from portal.database import db
from portal.notify.models import Notification
from portal.record.models import Immunization, Patient, RequestEvent
from tests.conftest import audit_log_verifies, csrf_token


def apply(client, patient_id: int, reason: str = "Предпочитаю бумажную карту", confirm: bool = True):
    data = {"csrf_token": csrf_token(client, "/consent/opt-out"), "card": str(patient_id), "reason": reason}
    if confirm:
        data["confirm"] = "y"
    return client.post("/consent/opt-out", data=data)


def decide(registrar, request_id: int, choice: str, reason: str = ""):
    page = f"/clinic/opt-outs/{request_id}"
    data = {"csrf_token": csrf_token(registrar, page)}
    if choice == "reject":
        data["reason"] = reason
    return registrar.post(f"{page}/{choice}", data=data)


def latest(app, patient_id: int) -> OptOutRequest | None:
    with app.app_context():
        row = db.session.scalar(
            sa.select(OptOutRequest).where(OptOutRequest.patient_id == patient_id).order_by(OptOutRequest.id.desc())
        )
        db.session.expunge_all()
    return row


def kept(app, patient_id: int) -> tuple[int, int]:
    """What must never be deleted: the card's entries and the audit events about it."""
    with app.app_context():
        entries = db.session.scalar(sa.select(sa.func.count()).where(Immunization.patient_id == patient_id))
        events = db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.patient_id == patient_id))
    return entries, events


def test_an_approved_opt_out_closes_the_card_to_everyone_and_consent_reopens_it(app, demo, login):
    patient_id = demo["patient"].patient_id
    owner, registrar = login(demo["patient"]), login(demo["registrar"])
    owner.set_cookie("lang", "en")
    assert login(demo["trusted"]).get(f"/card/{patient_id}").status_code == 200

    empty = apply(owner, patient_id, reason="", confirm=False)
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400 and "Write the reason" in html and "Confirm that you understand" in html
    assert latest(app, patient_id) is None

    response = apply(owner, patient_id)
    row = latest(app, patient_id)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/consent/opt-out/{row.id}")
    assert re.fullmatch(r"О-\d{4}-\d{6}", row.number) and row.status == "registered"
    assert "already being considered" in apply(owner, patient_id).get_data(as_text=True)
    assert row.number in registrar.get("/clinic/opt-outs").get_data(as_text=True)

    before = kept(app, patient_id)
    assert decide(registrar, row.id, "approve").status_code == 303
    with app.app_context():
        closed = db.session.get(Patient, patient_id).closed_at
        consent = db.session.scalar(
            sa.select(ConsentEvent.action).where(ConsentEvent.patient_id == patient_id).order_by(ConsentEvent.id.desc())
        )
        steps = list(
            db.session.scalars(
                sa.select(RequestEvent.status)
                .where(RequestEvent.request_kind == "opt_out", RequestEvent.request_id == row.id)
                .order_by(RequestEvent.id)
            )
        )
        told = list(
            db.session.scalars(sa.select(Notification.event).where(Notification.account_id == demo["patient"].id))
        )
        assert audit_log_verifies().ok
    assert closed is not None and consent == "revoked"
    assert steps == ["registered", "approved"] and told.count("request_status") == 2

    for key in ("trusted", "doctor", "nurse"):
        assert login(demo[key]).get(f"/card/{patient_id}").status_code == 404, key
    opened = owner.get(f"/card/{patient_id}")  # no consent now: the owner is sent to give it again
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/consent/")
    status = owner.get(f"/consent/opt-out/{row.id}").get_data(as_text=True)
    assert "The card is closed" in status and "approved" in status
    assert "Your card is closed at your request" in owner.get("/consent/").get_data(as_text=True)
    entries, events = kept(app, patient_id)
    assert entries == before[0] and events > before[1]  # nothing deleted; the decision added events

    token = csrf_token(owner, "/consent/")
    assert owner.post("/consent/give", data={"csrf_token": token}).status_code == 303
    assert owner.get(f"/card/{patient_id}").status_code == 200
    assert login(demo["trusted"]).get(f"/card/{patient_id}").status_code == 404  # the grant ended with the opt-out
    with app.app_context():
        assert db.session.get(Patient, patient_id).closed_at is None
        rejoined = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "opt_out.rejoined"))
        assert rejoined.patient_id == patient_id and audit_log_verifies().ok


def test_a_guardian_closes_a_childs_card_for_every_party(app, demo, login):
    child = demo["child_9"]
    guardian = login(demo["guardian"])
    form = guardian.get("/consent/opt-out").get_data(as_text=True)
    assert "Дарья" in form and "Максим" not in form  # 16 years old: his card is his own
    assert apply(guardian, demo["child_16"].id).status_code == 400
    assert apply(login(demo["trusted"]), child.id).status_code == 400  # not her child
    assert apply(guardian, child.id).status_code == 303
    row = latest(app, child.id)
    assert decide(login(demo["registrar"]), row.id, "approve").status_code == 303
    for key in ("guardian", "doctor", "nurse"):
        assert login(demo[key]).get(f"/card/{child.id}").status_code == 404, key
    assert guardian.get(f"/card/{demo['guardian'].patient_id}").status_code == 200  # the guardian's own card
    assert guardian.get(f"/consent/opt-out/{row.id}").status_code == 200
    assert login(demo["patient"]).get(f"/consent/opt-out/{row.id}").status_code == 404


def test_the_guardian_gives_consent_again_and_the_childs_card_opens(app, demo, login):
    child = demo["child_9"]
    guardian = login(demo["guardian"])
    guardian.set_cookie("lang", "en")
    assert "closed cards" not in guardian.get("/consent/opt-out").get_data(as_text=True)
    apply(guardian, child.id)
    assert decide(login(demo["registrar"]), latest(app, child.id).id, "approve").status_code == 303
    before = kept(app, child.id)

    page = guardian.get("/consent/opt-out").get_data(as_text=True)
    assert "Your children's closed cards" in page and "Кузнецова Дарья Андреевна" in page
    action = f"/consent/opt-out/rejoin/{child.id}"
    assert f'action="{action}"' in page
    # Nobody else may reopen it: another citizen, a trusted person, a doctor, a registrar.
    for key in ("patient", "trusted", "doctor", "registrar"):
        other = login(demo[key])
        assert other.post(action, data={"csrf_token": csrf_token(other, "/consent/opt-out")}).status_code == 404, key
    assert guardian.post(action, data={}).status_code == 400  # no CSRF token: nothing happens
    with app.app_context():
        assert db.session.get(Patient, child.id).closed_at is not None

    answer = guardian.post(action, data={"csrf_token": csrf_token(guardian, "/consent/opt-out")})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/card/{child.id}?done=rejoined"
    assert "The card is open again" in guardian.get(answer.headers["Location"]).get_data(as_text=True)
    assert login(demo["doctor"]).get(f"/card/{child.id}").status_code == 200  # consent: clinicians see it again
    with app.app_context():
        consent = db.session.scalar(
            sa.select(ConsentEvent).where(ConsentEvent.patient_id == child.id).order_by(ConsentEvent.id.desc())
        )
        events = list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(
                    AuditEvent.patient_id == child.id,
                    AuditEvent.actor_id == demo["guardian"].id,
                    AuditEvent.action != "card.read",  # the reopened card's page and its dashboard
                )
                .order_by(AuditEvent.id.desc())
                .limit(3)
            )
        )
    assert (consent.action, consent.account_id) == ("given", demo["guardian"].id)
    assert "opt_out.rejoined" in events and "consent.given" in events
    entries, audited = kept(app, child.id)
    assert entries == before[0] and audited > before[1]  # nothing lost, the reopening recorded
    assert "Your children's closed cards" not in guardian.get("/consent/opt-out").get_data(as_text=True)


def test_a_refusal_needs_a_reason_and_nobody_decides_their_own_card(app, demo, login):
    registrar = login(demo["registrar"])
    own_card = demo["registrar"].patient_id
    assert apply(registrar, own_card).status_code == 303
    own = latest(app, own_card)
    registrar.set_cookie("lang", "en")
    assert "another registrar must decide it" in registrar.get(f"/clinic/opt-outs/{own.id}").get_data(as_text=True)
    assert decide(registrar, own.id, "approve").status_code == 404
    with app.app_context():
        assert db.session.get(Patient, own_card).closed_at is None

    demo_request = latest(app, demo["trusted"].patient_id)  # Павлова's application in the demo queue
    assert decide(registrar, demo_request.id, "reject", "").status_code == 400
    assert decide(registrar, demo_request.id, "reject", "Нужна личная подпись").status_code == 303
    assert decide(registrar, demo_request.id, "approve").status_code == 404  # decided once
    trusted = login(demo["trusted"])
    trusted.set_cookie("lang", "en")
    status = trusted.get(f"/consent/opt-out/{demo_request.id}").get_data(as_text=True)
    assert "refused" in status and "Нужна личная подпись" in status
    assert trusted.get(f"/card/{demo['trusted'].patient_id}").status_code == 200
