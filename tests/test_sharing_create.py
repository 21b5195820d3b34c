"""Giving a trusted person access to a card: found by SNILS or e-mail plus surname without revealing
who uses Medkarta, confirmed with a one-time code, changed and ended by the owner with effect on the
trusted person's next request, and shown in «Кто смотрел мою карту»."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from portal import clock
from portal.audit.models import AuditEvent
from portal.database import db
from portal.identifiers import make_snils
from portal.notify.models import Notification
from portal.sharing.models import AccessGrant
from tests.conftest import audit_log_verifies, csrf_token, last_code, outbox

OWNER_PHONE = "+79000000011"  # Smirnova confirms by SMS (portal/demodata/people.py)
NOT_FOUND = "We did not find a person with a confirmed Medkarta account"


def shared_sections(client, patient_id: int) -> set[str]:
    """The sections the card page offers this viewer (its «Sections of the card» list)."""
    html = client.get(f"/card/{patient_id}").get_data(as_text=True)
    nav = html.split('id="sections-heading"', 1)[1].split("</nav>", 1)[0]
    return set(re.findall(rf'href="/card/{patient_id}/([a-z_-]+)"', nav))


def ask(client, path: str, **fields):
    data = {"csrf_token": csrf_token(client, path), "level": "view"}
    data["expires_on"] = (clock.today() + timedelta(days=30)).strftime("%d.%m.%Y")
    data.update(fields)
    return client.post(path, data=data)


def confirm(client, code: str):
    return client.post("/sharing/confirm", data={"csrf_token": csrf_token(client, "/sharing"), "code": code})


def grants_to(app, grantee_id: int) -> list[AccessGrant]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AccessGrant).where(AccessGrant.grantee_id == grantee_id)))
        db.session.expunge_all()
    return rows


def test_the_form_finds_a_person_only_with_the_surname_and_tells_nobody_who_uses_medkarta(app, demo, login):
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    guardian_snils = make_snils("002000012")
    misses = [
        {"person": guardian_snils, "surname": "Петров"},  # a real user, the wrong surname
        {"person": make_snils("009999999"), "surname": "Кузнецов"},  # nobody has this SNILS
        {"person": "applicant@example.ru", "surname": "Орлов"},  # a user whose identity is not confirmed
    ]
    for fields in misses:
        response = ask(owner, "/sharing/new", sections=["results"], **fields)
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and NOT_FOUND in html, fields
        assert f'value="{fields["surname"]}"' in html  # what the owner typed stays
    bad = ask(owner, "/sharing/new", person="112-233-445 96", surname="Кузнецов", sections=["results"])
    assert bad.status_code == 400 and "check number does not match" in bad.get_data(as_text=True)
    late = (clock.today() + timedelta(days=400)).strftime("%d.%m.%Y")
    too_long = ask(
        owner, "/sharing/new", person=guardian_snils, surname="Кузнецов", sections=["results"], expires_on=late
    )
    assert too_long.status_code == 400 and "at most one year from today" in too_long.get_data(as_text=True)
    none_chosen = ask(owner, "/sharing/new", person=guardian_snils, surname="Кузнецов")
    assert none_chosen.status_code == 400 and "Choose at least one section" in none_chosen.get_data(as_text=True)
    assert not [m for m in outbox(app, OWNER_PHONE) if m.kind == "code_grant"]  # no code for any of them

    # Five people at once at most: the demo grant and four more fill the card's places.
    from portal.auth.models import Account
    from portal.sharing import service

    with app.test_request_context():
        smirnova = db.session.get(Account, demo["patient"].id)
        for key in ("guardian", "doctor", "nurse", "doctor_b"):
            service.grant(smirnova, demo[key].id, {"results"}, "view", clock.today() + timedelta(days=10))
    full = ask(owner, "/sharing/new", person=make_snils("002000017"), surname="Лебедева", sections=["results"])
    assert full.status_code == 400 and "at most 5 people" in full.get_data(as_text=True)


def test_a_grant_needs_the_right_code_and_opens_exactly_the_shared_sections(app, demo, login):
    owner, guardian = login(demo["patient"]), login(demo["guardian"])
    patient_id = demo["patient"].patient_id
    assert guardian.get(f"/card/{patient_id}").status_code == 404
    owner.set_cookie("lang", "en")
    response = ask(
        owner, "/sharing/new", person="Guardian@Example.ru", surname="кузнецов", sections=["results", "allergies"]
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/sharing/confirm")
    assert "Кузнецов А. И." in owner.get("/sharing/confirm").get_data(as_text=True)
    assert grants_to(app, demo["guardian"].id) == []  # pending in the owner's session only

    code = last_code(app, OWNER_PHONE)
    wrong = confirm(owner, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and "The code is not right" in wrong.get_data(as_text=True)
    assert grants_to(app, demo["guardian"].id) == [] and guardian.get(f"/card/{patient_id}").status_code == 404

    done = confirm(owner, code)
    assert done.status_code == 303 and "done=created" in done.headers["Location"]
    assert "Кузнецов Андрей Игоревич" in owner.get("/sharing").get_data(as_text=True)
    assert "Смирнова Елена" in guardian.get("/cards").get_data(as_text=True)
    assert shared_sections(guardian, patient_id) == {"results", "allergies"}
    assert guardian.get(f"/card/{patient_id}/results").status_code == 200
    assert guardian.get(f"/card/{patient_id}/diagnoses").status_code == 404
    assert guardian.get(f"/card/{patient_id}/access-log").status_code == 404
    assert confirm(owner, code).status_code == 303  # the pending grant is gone: back to the list
    assert len(grants_to(app, demo["guardian"].id)) == 1

    with app.app_context():
        told = db.session.scalar(sa.select(Notification).where(Notification.account_id == demo["guardian"].id))
    assert told.event == "grant_received" and told.patient_id == patient_id
    assert "notify_grant_received" in [m.kind for m in outbox(app, demo["guardian"].email)]
    log = owner.get(f"/card/{patient_id}/access-log").get_data(as_text=True)
    assert "shared the card with Кузнецов Андрей Игоревич: «Allergies», «Test results»; view, until" in log


def test_a_change_applies_on_the_next_request_and_the_owner_can_end_it(app, demo, login):
    owner, trusted = login(demo["patient"]), login(demo["trusted"])
    patient_id = demo["patient"].patient_id
    grant_id = re.search(r"/sharing/(\d+)/edit", owner.get("/sharing").get_data(as_text=True)).group(1)
    # The demo grant: test results, vaccinations and prescriptions, to view only.
    assert trusted.get(f"/card/{patient_id}/results").status_code == 200
    assert trusted.get(f"/card/{patient_id}/diagnoses").status_code == 404
    assert trusted.get(f"/card/{patient_id}/vaccinations/add").status_code == 404  # view only: no adding

    page = owner.get(f"/sharing/{grant_id}/edit").get_data(as_text=True)
    assert re.search(r'value="results" checked', page) and not re.search(r'value="diagnoses" checked', page)
    response = ask(owner, f"/sharing/{grant_id}/edit", sections=["diagnoses", "vaccinations"], level="add")
    assert response.status_code == 303
    assert trusted.get(f"/card/{patient_id}/results").status_code == 200  # nothing changes before the code
    assert confirm(owner, last_code(app, OWNER_PHONE)).status_code == 303

    assert trusted.get(f"/card/{patient_id}/results").status_code == 404
    assert trusted.get(f"/card/{patient_id}/diagnoses").status_code == 200
    assert trusted.get(f"/card/{patient_id}/vaccinations/add").status_code == 200
    assert shared_sections(trusted, patient_id) == {"diagnoses", "vaccinations"}
    assert login(demo["guardian"]).get(f"/sharing/{grant_id}/edit").status_code == 404

    token = csrf_token(owner, "/sharing")
    assert owner.post(f"/sharing/{grant_id}/revoke", data={"csrf_token": token}).status_code == 303
    assert trusted.get(f"/card/{patient_id}/diagnoses").status_code == 404
    assert owner.get(f"/sharing/{grant_id}/edit").status_code == 404

    owner.set_cookie("lang", "en")
    log = owner.get(f"/card/{patient_id}/access-log").get_data(as_text=True)
    assert "changed the access of Павлова Ольга Сергеевна: «Diagnoses», «Vaccinations»; view and add entries" in log
    assert "ended the access of Павлова Ольга Сергеевна" in log
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("grant.%"))))
        assert audit_log_verifies().ok
    assert actions == ["grant.changed", "grant.revoked"]
