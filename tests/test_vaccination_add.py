"""A citizen adds a vaccination done elsewhere, with the certificate; it shows «не подтверждено»
until a doctor treating the patient confirms it, and then the citizen is told."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from portal import clock
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.notify.models import Notification
from portal.record.models import Document, Immunization, Practitioner
from portal.sharing.models import AccessGrant
from tests.conftest import csrf_token
from tests.test_documents import pdf


def add(client, patient_id: int, certificate: tuple[bytes, str] | None = ..., **changes):
    page = f"/card/{patient_id}/vaccinations/add"
    data = {
        "csrf_token": csrf_token(client, page) if client.get(page).status_code == 200 else csrf_token(client, "/cards"),
        "vaccine": "Приорикс",
        "target": "MMR",
        "given_on": (clock.today() - timedelta(days=30)).strftime("%d.%m.%Y"),
        "dose_number": "2",
        "series": "A12BC",
        "place": "Поликлиника № 3, Тула",
        "reactions": "",
    }
    if certificate is ...:
        certificate = (pdf(), "сертификат.pdf")
    if certificate is not None:
        data["certificate"] = (io.BytesIO(certificate[0]), certificate[1])
    data.update(changes)
    return client.post(page, data=data, content_type="multipart/form-data")


def entries(app, patient_id: int) -> list[Immunization]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(Immunization).where(
                    Immunization.patient_id == patient_id, Immunization.added_by_id.is_not(None)
                )
            )
        )
        db.session.expunge_all()
    return rows


def grant(app, demo, sections: str, level: str) -> None:
    with app.app_context(), write_transaction():
        row = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        row.sections, row.level = sections, level


def document_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Document))


def english(client):
    client.set_cookie("lang", "en")
    return client


def test_the_patient_adds_a_vaccination_shown_unconfirmed_with_its_certificate(app, demo, login):
    card = demo["patient"].patient_id
    patient = english(login(demo["patient"]))
    form = patient.get(f"/card/{card}/vaccinations/add")
    assert form.status_code == 200 and "Measles, mumps, rubella" in form.get_data(as_text=True)
    response = add(patient, card)
    assert response.status_code == 303
    [entry] = entries(app, card)
    assert response.headers["Location"] == f"/card/{card}/vaccinations/{entry.id}?added=1"
    assert (entry.vaccine, entry.target, entry.dose_number, entry.series, entry.place) == (
        "Приорикс",
        "MMR",
        2,
        "A12BC",
        "Поликлиника № 3, Тула",
    )
    assert entry.confirmed is False and entry.added_by_id == demo["patient"].id and entry.reactions is None
    with app.app_context():
        certificate = db.session.get(Document, entry.document_id)
    assert (certificate.kind, certificate.patient_id, certificate.uploaded_by_id) == (
        "vaccination_certificate",
        card,
        demo["patient"].id,
    )
    page = patient.get(response.headers["Location"]).get_data(as_text=True)
    assert "The vaccination is added" in page and "not confirmed" in page
    assert f"/card/{card}/documents/{certificate.id}" in page  # the certificate is one click away
    listing = patient.get(f"/card/{card}/vaccinations").get_data(as_text=True)
    assert "Приорикс" in listing and "not confirmed" in listing
    with app.app_context():
        added = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "card.add"))
    assert (added.section, added.object_type, added.object_id) == ("vaccinations", "immunization", str(entry.id))


def test_the_certificate_is_listed_among_documents_and_cannot_be_deleted_there(app, demo, login):
    card = demo["patient"].patient_id
    patient = english(login(demo["patient"]))
    add(patient, card)
    [entry] = entries(app, card)
    assert "Vaccination certificate" in patient.get(f"/card/{card}/documents").get_data(as_text=True)
    page = f"/card/{card}/documents/{entry.document_id}/delete"
    assert patient.get(page).status_code == 404
    assert patient.post(page, data={"csrf_token": csrf_token(patient)}).status_code == 404


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"given_on": (clock.today() + timedelta(days=1)).strftime("%d.%m.%Y")}, "The date must not be in the future"),
        ({"given_on": "01.01.1950"}, "The date must not be before the date of birth"),
        ({"given_on": "вчера"}, "Enter the date as day, month and year"),
        ({"dose_number": "два"}, "Enter the dose number as a whole number from 1 to 20"),
        ({"target": "Smallpox"}, "Choose the disease"),
        ({"vaccine": ""}, "Enter the vaccine's name"),
        ({"place": ""}, "Enter where the vaccination was done"),
        ({"certificate": None}, "Choose a file"),
        ({"certificate": (b"GIF89a....", "scan.gif")}, "The file must be a PDF, JPG or PNG"),
    ],
)
def test_bad_input_is_refused_with_what_was_typed(app, demo, login, changes, message):
    card = demo["patient"].patient_id
    patient = english(login(demo["patient"]))
    certificate = changes.pop("certificate", ...)
    before = document_count(app)
    response = add(patient, card, certificate, **changes)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert message in html
    if "place" not in changes:
        assert 'value="Поликлиника № 3, Тула"' in html
    assert entries(app, card) == [] and document_count(app) == before


def test_the_certificate_is_required(app, demo, login):
    card = demo["patient"].patient_id
    response = add(english(login(demo["patient"])), card, None)
    assert response.status_code == 400 and "Choose a file" in response.get_data(as_text=True)
    assert entries(app, card) == []


@pytest.mark.parametrize(
    "who,sections,level,status",
    [
        ("trusted", "vaccinations", "view", 404),
        ("trusted", "vaccinations", "add", 200),
        ("trusted", "documents", "add", 404),  # add, but not on vaccinations
        ("guardian", None, None, 404),
        ("doctor", None, None, 404),  # clinicians record vaccinations in their own system
        ("doctor_b", None, None, 404),
        ("registrar", None, None, 404),
    ],
)
def test_who_may_add(app, demo, login, who, sections, level, status):
    card = demo["patient"].patient_id
    if sections:
        grant(app, demo, sections, level)
    client = login(demo[who])
    assert client.get(f"/card/{card}/vaccinations/add").status_code == status
    assert add(client, card).status_code == (303 if status == 200 else 404)
    assert len(entries(app, card)) == (1 if status == 200 else 0)


def test_a_guardian_adds_the_childs_vaccination(app, demo, login):
    child = demo["child_9"]
    guardian = login(demo["guardian"])
    too_early = (child.birth_date - timedelta(days=1)).strftime("%d.%m.%Y")
    assert add(guardian, child.id, given_on=too_early).status_code == 400
    assert add(guardian, child.id, given_on=child.birth_date.strftime("%d.%m.%Y")).status_code == 303
    assert [e.added_by_id for e in entries(app, child.id)] == [demo["guardian"].id]


# -- confirming -----------------------------------------------------------------------------------


def confirm(client, card: int, entry_id: int):
    page = f"/card/{card}/vaccinations/{entry_id}"
    return client.post(f"{page}/confirm", data={"csrf_token": csrf_token(client, "/cards")})


def test_the_doctor_confirms_and_the_patient_is_told(app, demo, login):
    card = demo["patient"].patient_id
    add(login(demo["patient"]), card)
    [entry] = entries(app, card)
    doctor = english(login(demo["doctor"]))
    page = doctor.get(f"/card/{card}/vaccinations/{entry.id}").get_data(as_text=True)
    assert "Confirm the vaccination" in page and f"/card/{card}/documents/{entry.document_id}" in page
    response = confirm(doctor, card, entry.id)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/card/{card}/vaccinations/{entry.id}?confirmed=1"
    [entry] = entries(app, card)
    with app.app_context():
        practitioner = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor"].id))
        notes = list(db.session.scalars(sa.select(Notification).where(Notification.event == "request_status")))
        written = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "card.write"))
    assert entry.confirmed is True and entry.confirmed_by_id == practitioner.id and entry.confirmed_at is not None
    assert [(n.account_id, n.patient_id) for n in notes] == [(demo["patient"].id, card)]
    assert json.loads(notes[0].params)["vaccine"] == "Приорикс"
    assert (written.actor_id, written.object_id, written.outcome) == (demo["doctor"].id, str(entry.id), "success")
    assert "Confirm the vaccination" not in doctor.get(f"/card/{card}/vaccinations/{entry.id}").get_data(as_text=True)
    # Twice is harmless: nothing changes and nobody is told again.
    assert confirm(doctor, card, entry.id).status_code == 303
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Notification).where(Notification.event == "request_status")
            )
            == 1
        )
    patient = english(login(demo["patient"]))
    assert "not confirmed" not in patient.get(f"/card/{card}/vaccinations/{entry.id}").get_data(as_text=True)


@pytest.mark.parametrize("who", ["patient", "nurse", "doctor_b", "trusted", "registrar"])
def test_only_a_treating_doctor_confirms(app, demo, login, who):
    card = demo["patient"].patient_id
    add(login(demo["patient"]), card)
    [entry] = entries(app, card)
    assert confirm(login(demo[who]), card, entry.id).status_code == 404
    [entry] = entries(app, card)
    assert entry.confirmed is False and entry.confirmed_by_id is None


def test_confirming_an_entry_of_another_card_or_none_is_not_found(app, demo, login):
    child = demo["child_9"].id
    add(login(demo["guardian"]), child)
    [entry] = entries(app, child)
    doctor = login(demo["doctor"])
    assert confirm(doctor, demo["patient"].patient_id, entry.id).status_code == 404
    assert confirm(doctor, child, 999999).status_code == 404
    assert entries(app, child)[0].confirmed is False


def test_a_confirmation_needs_the_csrf_token(app, demo, login):
    card = demo["patient"].patient_id
    add(login(demo["patient"]), card)
    [entry] = entries(app, card)
    assert login(demo["doctor"]).post(f"/card/{card}/vaccinations/{entry.id}/confirm").status_code == 400
    assert entries(app, card)[0].confirmed is False


# -- who is told, and what (issue 8, points 14 and 33) ---------------------------------------------


def told(app, patient_id: int) -> dict[int, dict]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Notification.account_id, Notification.params).where(
                Notification.event == "request_status", Notification.patient_id == patient_id
            )
        ).all()
    return {account_id: json.loads(params) for account_id, params in rows}


def test_a_former_trusted_person_is_not_told_of_the_confirmation(app, demo, login):
    card = demo["patient"].patient_id
    grant(app, demo, "vaccinations", "add")
    assert add(login(demo["trusted"]), card).status_code == 303
    [entry] = entries(app, card)
    with app.app_context(), write_transaction():
        row = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        row.revoked_at = datetime.now(UTC)
    assert confirm(login(demo["doctor"]), card, entry.id).status_code == 303
    assert set(told(app, card)) == {demo["patient"].id}


def test_a_trusted_person_who_still_holds_access_is_told(app, demo, login):
    card = demo["patient"].patient_id
    grant(app, demo, "vaccinations", "add")
    add(login(demo["trusted"]), card)
    [entry] = entries(app, card)
    assert confirm(login(demo["doctor"]), card, entry.id).status_code == 303
    assert set(told(app, card)) == {demo["patient"].id, demo["trusted"].id}


def test_the_guardian_is_told_of_the_childs_confirmed_vaccination(app, demo, login):
    """The child's card has no account of its own: its holder, the guardian, is told, also when
    the vaccination was added by someone else (here written as the clinic's own import would)."""
    child = demo["child_9"].id
    with app.app_context(), write_transaction():
        entry = Immunization(
            patient_id=child,
            vaccine="Превенар 13",
            target="MMR",
            given_on=clock.today() - timedelta(days=40),
            dose_number=1,
            place="Детская поликлиника № 1",
            confirmed=False,
        )
        db.session.add(entry)
        db.session.flush()
        entry_id = entry.id
    assert confirm(login(demo["doctor"]), child, entry_id).status_code == 303
    assert set(told(app, child)) == {demo["guardian"].id}


def test_the_confirmation_names_the_vaccination_not_a_request_number(app, demo, login):
    card = demo["patient"].patient_id
    add(login(demo["patient"]), card)
    [entry] = entries(app, card)
    confirm(login(demo["doctor"]), card, entry.id)
    patient = login(demo["patient"])
    russian = unescape(patient.get("/notifications").get_data(as_text=True))
    given = entry.given_on
    assert "Прививка подтверждена: Приорикс" in russian
    assert f"{given.day} " in russian and str(given.year) in russian
    assert "Заявка №" not in russian and f"№ {entry.id}" not in russian
    english_page = unescape(english(patient).get("/notifications").get_data(as_text=True))
    assert "Vaccination confirmed: Приорикс" in english_page and "Request No." not in english_page
