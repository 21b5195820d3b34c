"""A guardian gives and withdraws the consent to processing for a child's card, on a consent page
of the child's card, with the same effect as the patient's own withdrawal: the clinicians and
trusted persons stop seeing the card at once; the guardian still does."""

from __future__ import annotations

import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.database import db
from tests.conftest import csrf_token


def change(client, child_id: int, choice: str):
    page = f"/consent/child/{child_id}"
    return client.post(f"{page}/{choice}", data={"csrf_token": csrf_token(client, "/consent/")})


def test_a_guardian_withdraws_and_gives_again_the_consent_for_the_childs_card(app, demo, login):
    child = demo["child_9"]
    guardian, doctor, nurse = login(demo["guardian"]), login(demo["doctor"]), login(demo["nurse"])
    guardian.set_cookie("lang", "en")
    assert f'href="/consent/child/{child.id}"' in guardian.get("/consent/").get_data(as_text=True)
    page = guardian.get(f"/consent/child/{child.id}").get_data(as_text=True)
    assert "Consent for the card of Кузнецова Дарья" in page and "consent given" in page
    assert doctor.get(f"/card/{child.id}").status_code == 200
    response = change(guardian, child.id, "revoke")
    assert response.status_code == 303 and response.headers["Location"] == f"/consent/child/{child.id}?done=revoked"
    assert doctor.get(f"/card/{child.id}").status_code == 404
    assert nurse.get(f"/card/{child.id}/vaccinations").status_code == 404
    assert guardian.get(f"/card/{child.id}").status_code == 200  # the guardian still sees it
    assert "no consent" in guardian.get(f"/consent/child/{child.id}").get_data(as_text=True)
    assert change(guardian, child.id, "revoke").status_code == 303  # a repeated click records nothing
    assert change(guardian, child.id, "give").status_code == 303
    assert doctor.get(f"/card/{child.id}").status_code == 200
    with app.app_context():
        events = list(
            db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("consent.%")).order_by(AuditEvent.id))
        )
    assert [(e.action, e.actor_id, e.actor_role, e.patient_id) for e in events] == [
        ("consent.revoked", demo["guardian"].id, "guardian", child.id),
        ("consent.given", demo["guardian"].id, "guardian", child.id),
    ]


def test_the_guardians_own_consent_is_untouched(app, demo, login):
    guardian = login(demo["guardian"])
    change(guardian, demo["child_9"].id, "revoke")
    assert guardian.get(f"/card/{demo['guardian'].patient_id}").status_code == 200  # his own card


def test_nobody_else_manages_the_consent_for_the_childs_card(app, demo, login):
    child = demo["child_9"]
    for key in ("patient", "trusted", "doctor", "registrar"):
        client = login(demo[key])
        assert client.get(f"/consent/child/{child.id}").status_code == 404
        assert change(client, child.id, "revoke").status_code == 404
    # A child of 15 or older manages their own consent: the guardianship has ended.
    guardian = login(demo["guardian"])
    assert guardian.get(f"/consent/child/{demo['child_16'].id}").status_code == 404
    assert f"/consent/child/{demo['child_16'].id}" not in guardian.get("/consent/").get_data(as_text=True)
    assert login(demo["doctor"]).get(f"/card/{child.id}").status_code == 200  # nothing changed
    with app.app_context():
        denied = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == child.id, AuditEvent.outcome == "denied")
        )
    assert denied >= 8
