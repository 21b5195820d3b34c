"""«Сообщить об ошибке»: a citizen reports an error in an entry, a registrar corrects or rejects it,
and the entry's history keeps the old value."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from portal import clock
from portal.audit.models import AuditEvent
from portal.corrections.models import CorrectionFile, CorrectionRequest
from portal.corrections.service import CORRECTABLE
from portal.database import db, write_transaction
from portal.directory.models import Organisation
from portal.identifiers import enp_check_digit
from portal.notify.models import Notification
from portal.record import models as m
from tests.conftest import csrf_token


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def pdf() -> bytes:
    import pikepdf

    out = io.BytesIO()
    with pikepdf.new() as document:
        document.add_blank_page()
        document.save(out)
    return out.getvalue()


@pytest.fixture
def login(login):
    """Clients that read the pages in English, the language the messages are written in."""

    def make(account, stage: str = "complete"):
        client = login(account, stage)
        client.set_cookie("lang", "en")
        return client

    return make


def make_entries(app, patient_id: int) -> dict[str, int]:
    """One entry of each correctable section on this card."""
    today = clock.today()
    with app.app_context(), write_transaction():
        org = db.session.scalar(sa.select(Organisation).order_by(Organisation.id).limit(1))
        doctor = m.Practitioner(
            surname="Соколов",
            name="Дмитрий",
            patronymic="Александрович",
            specialty="терапевт",
            registration_number="77-000001",
            organisation_id=org.id,
        )
        db.session.add(doctor)
        db.session.flush()
        who = {"patient_id": patient_id, "organisation_id": org.id, "practitioner_id": doctor.id}
        rows = {
            "visits": m.Visit(
                started_at=datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
                kind="clinic",
                complaints="Кашель",
                conclusion="ОРВИ",
                **who,
            ),
            "diagnoses": m.Diagnosis(
                code="I10",
                title="Эссенциальная [первичная] гипертензия",
                onset_on=date(2025, 3, 1),
                status="active",
                **who,
            ),
            "services": m.ServiceRecord(
                provided_on=date(2025, 5, 5), code="B01.047.001", name="Приём терапевта", cost_kopecks=150000, **who
            ),
            "insurance": m.InsurancePolicy(
                patient_id=patient_id,
                number="7755000000000010",
                insurer="СОГАЗ-Мед",
                region_code="77",
                status="active",
                valid_from=date(2020, 1, 1),
            ),
            "allergies": m.Allergy(
                substance="Пенициллин",
                category="medication",
                severity="moderate",
                recorded_on=today - timedelta(days=30),
                **who,
            ),
        }
        db.session.add_all(rows.values())
        db.session.flush()
        return {key: row.id for key, row in rows.items()}


@pytest.fixture
def entries(app, demo):
    return make_entries(app, demo["patient"].patient_id)


def demo_vaccination(app, patient_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(m.Immunization.id).where(m.Immunization.patient_id == patient_id).order_by(m.Immunization.id)
        )


def send(client, path: str, description: str, files=()):
    data = {"csrf_token": csrf_token(client, path), "description": description}
    if files:
        data["files"] = [(io.BytesIO(body), name) for name, body in files]
    return client.post(path, data=data, content_type="multipart/form-data")


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def revisions_of(app, request_id: int) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).where(m.EntryRevision.correction_id == request_id)
        return db.session.scalar(query)


def stored_files(app) -> set[Path]:
    base = Path(app.config["UPLOAD_DIR"])
    return {p for p in base.rglob("*") if p.is_file()} if base.exists() else set()


def latest(app) -> CorrectionRequest:
    with app.app_context():
        return db.session.scalar(sa.select(CorrectionRequest).order_by(CorrectionRequest.id.desc()).limit(1))


def report(login, account, patient_id, section, entry_id, text="Дата указана неверно, было позже", files=()):
    client = login(account)
    response = send(client, f"/card/{patient_id}/{section}/{entry_id}/report-error", text, files)
    return client, response


# -- the citizen's report ------------------------------------------------------------------------


def test_a_report_gets_a_number_a_timeline_files_and_a_notification(app, demo, login, entries):
    patient = demo["patient"]
    path = f"/card/{patient.patient_id}/visits/{entries['visits']}/report-error"
    client = login(patient)
    form = client.get(path).get_data(as_text=True)
    assert "1/15/26, 12:30" in form and "терапевт, Соколов Д.А." in form  # the entry, in one line
    before = stored_files(app)
    response = send(
        client, path, "Жалобы записаны неверно: был не кашель, а насморк.", [("scan.png", png()), ("letter.pdf", pdf())]
    )
    assert response.status_code == 303
    row = latest(app)
    assert response.headers["Location"].endswith(f"/card/{patient.patient_id}/corrections/{row.id}")
    assert row.number == f"И-{datetime.now(UTC).year}-{row.id:06d}" and row.status == "registered"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert row.number in page and "Registered" in page and "scan.png" in page and "letter.pdf" in page
    with app.app_context():
        files = list(db.session.scalars(sa.select(CorrectionFile).where(CorrectionFile.correction_id == row.id)))
        events = list(
            db.session.scalars(
                sa.select(m.RequestEvent).where(
                    m.RequestEvent.request_id == row.id, m.RequestEvent.request_kind == "correction"
                )
            )
        )
        note = db.session.scalar(sa.select(Notification).where(Notification.account_id == patient.id))
        audited = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "correction.registered"))
    assert [(f.filename, f.content_type) for f in files] == [
        ("scan.png", "image/png"),
        ("letter.pdf", "application/pdf"),
    ]
    new_files = stored_files(app) - before
    assert len(new_files) == 2 and all(b"%PDF" not in p.read_bytes() for p in new_files)  # encrypted at rest
    assert [e.status for e in events] == ["registered"]
    assert note.event == "request_status" and row.number in note.params and note.url.endswith(f"/{row.id}")
    assert (audited.actor_id, audited.patient_id, audited.section) == (patient.id, patient.patient_id, "visits")
    listing = client.get(f"/card/{patient.patient_id}/corrections").get_data(as_text=True)
    assert row.number in listing


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "Describe the error"),
        ("короткий", "Describe the error in at least 10 characters"),
        ("ошибка " * 300, "Describe the error in at most 2000 characters"),
    ],
)
def test_a_bad_description_is_refused_with_the_text_kept(app, demo, login, entries, text, message):
    client, response = report(
        login, demo["patient"], demo["patient"].patient_id, "visits", entries["visits"], text, [("scan.png", png())]
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page and 'id="error-summary"' in page
    assert text.strip()[:40] in page
    assert count(app, CorrectionRequest) == 1 and count(app, CorrectionFile) == 1  # the demo's only


def test_files_are_checked_and_a_refused_file_stores_nothing(app, demo, login, entries):
    patient = demo["patient"]
    text = "Реакция указана неверно, была сыпь"
    before = stored_files(app)
    _client, response = report(
        login,
        patient,
        patient.patient_id,
        "allergies",
        entries["allergies"],
        text,
        [("good.png", png()), ("notes.txt", b"just text")],
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "notes.txt: The file must be a PDF, JPG or PNG" in page and text in page
    _client, response = report(
        login,
        patient,
        patient.patient_id,
        "allergies",
        entries["allergies"],
        text,
        [(f"{n}.png", png()) for n in range(4)],
    )
    assert response.status_code == 400 and "Attach at most 3 files" in response.get_data(as_text=True)
    assert count(app, CorrectionRequest) == 1 and count(app, CorrectionFile) == 1
    assert stored_files(app) == before


# -- who may report ------------------------------------------------------------------------------


def test_the_guardian_reports_for_a_child(app, demo, login):
    child = demo["child_9"]
    ids = make_entries(app, child.id)
    _client, response = report(login, demo["guardian"], child.id, "diagnoses", ids["diagnoses"])
    assert response.status_code == 303
    assert latest(app).requested_by_id == demo["guardian"].id


def test_a_trusted_person_reports_only_in_the_sections_shared(app, demo, login, entries):
    patient_id = demo["patient"].patient_id
    trusted = login(demo["trusted"])
    vaccination = demo_vaccination(app, patient_id)
    assert trusted.get(f"/card/{patient_id}/vaccinations/{vaccination}/report-error").status_code == 200
    assert trusted.get(f"/card/{patient_id}/visits/{entries['visits']}/report-error").status_code == 404
    _client, response = report(login, demo["trusted"], patient_id, "visits", entries["visits"])
    assert response.status_code == 404
    _client, response = report(login, demo["trusted"], patient_id, "vaccinations", vaccination)
    assert response.status_code == 303
    listing = trusted.get(f"/card/{patient_id}/corrections").get_data(as_text=True)
    assert latest(app).number in listing


def test_a_stranger_gets_404_and_the_denial_is_audited(app, demo, login, entries):
    patient_id = demo["patient"].patient_id
    path = f"/card/{patient_id}/visits/{entries['visits']}/report-error"
    stranger = login(demo["doctor_b"])
    response = stranger.get(path)
    assert response.status_code == 404 and "Смирнова" not in response.get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.outcome, event.actor_id, event.section) == (
        "card.read",
        "denied",
        demo["doctor_b"].id,
        "visits",
    )
    assert send(stranger, path, "Чужая карта, но попробую").status_code == 404
    assert count(app, CorrectionRequest) == 1
    detail = f"/card/{patient_id}/corrections/{latest(app).id}"
    assert stranger.get(detail).status_code == 404


def test_an_entry_of_another_card_or_an_unknown_section_is_not_found(app, demo, login, entries):
    guardian = login(demo["guardian"])
    child_id = demo["child_9"].id
    assert guardian.get(f"/card/{child_id}/visits/{entries['visits']}/report-error").status_code == 404
    patient = login(demo["patient"])
    assert patient.get(f"/card/{demo['patient'].patient_id}/access_log/1/report-error").status_code == 404
    demo_request = latest(app)
    assert guardian.get(f"/card/{child_id}/corrections/{demo_request.id}").status_code == 404


# -- the registrar -------------------------------------------------------------------------------


def decide(login, account, request_id: int, action: str, **data):
    client = login(account)
    page = f"/clinic/corrections/{request_id}"
    body = {"csrf_token": csrf_token(client, page), **data}
    return client.post(f"{page}/{action}", data=body)


def notifications(app, account_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Notification.params).where(Notification.account_id == account_id).order_by(Notification.id)
            )
        )


def test_the_registrar_corrects_and_the_citizen_sees_the_old_value(app, demo, login, entries):
    patient = demo["patient"]
    _client, response = report(
        login,
        patient,
        patient.patient_id,
        "diagnoses",
        entries["diagnoses"],
        "Диагноз записан не тот: у меня была ОРВИ",
        [("scan.png", png())],
    )
    row = latest(app)
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/corrections").get_data(as_text=True)
    assert row.number in queue
    page = registrar.get(f"/clinic/corrections/{row.id}").get_data(as_text=True)
    assert "I10" in page and "Эссенциальная" in page and "scan.png" in page  # current values and files
    with app.app_context():
        file_id = db.session.scalar(sa.select(CorrectionFile.id).where(CorrectionFile.correction_id == row.id))
    download = registrar.get(f"/clinic/corrections/{row.id}/files/{file_id}")
    assert download.status_code == 200 and download.headers["Content-Type"] == "image/png"
    assert "attachment" in download.headers["Content-Disposition"]

    assert decide(login, demo["registrar"], row.id, "review").status_code == 303
    assert latest(app).status == "in_review"
    response = decide(
        login, demo["registrar"], row.id, "correct", field="code", value="j06.9", note="Клиника подтвердила ошибку"
    )
    assert response.status_code == 303
    with app.app_context():
        diagnosis = db.session.get(m.Diagnosis, entries["diagnoses"])
        revision = db.session.scalar(sa.select(m.EntryRevision).where(m.EntryRevision.correction_id == row.id))
        actions = list(
            db.session.scalars(
                sa.select(AuditEvent.action).where(
                    AuditEvent.patient_id == patient.patient_id, AuditEvent.actor_id == demo["registrar"].id
                )
            )
        )
    assert (diagnosis.code, diagnosis.title) == ("J06.9", "Острая инфекция верхних дыхательных путей неуточненная")
    assert (revision.field, revision.old_value, revision.new_value) == ("code", "I10", "J06.9")
    assert (revision.reason, revision.correction_id, revision.changed_by_id) == (
        "Клиника подтвердила ошибку",
        row.id,
        demo["registrar"].id,
    )
    assert latest(app).status == "corrected" and latest(app).resolved_by_id == demo["registrar"].id
    assert {"card.read", "correction.in_review", "card.write", "correction.corrected"} <= set(actions)
    statuses = [re.search(r'"status": "(\w+)"', p)[1] for p in notifications(app, patient.id)]
    assert statuses == ["registered", "in_review", "corrected"]

    citizen = login(patient)
    detail = citizen.get(f"/card/{patient.patient_id}/corrections/{row.id}").get_data(as_text=True)
    assert "Change history" in detail and "I10" in detail and "J06.9" in detail and "Клиника подтвердила" in detail
    assert "In review" in detail and "Corrected" in detail
    entry_page = citizen.get(f"/card/{patient.patient_id}/diagnoses/{entries['diagnoses']}")
    assert entry_page.status_code == 200  # the record's entry page shows the same history
    assert "<del>I10</del>" in entry_page.get_data(as_text=True)
    # «Кто смотрел мою карту»: the registrar opened and changed the entry, for this request.
    citizen.set_cookie("lang", "en")
    log = citizen.get(f"/card/{patient.patient_id}/access-log").get_data(as_text=True)
    assert "Лебедева Ирина Владимировна, registrar" in log and f"for the request {row.number}" in log
    # A decided request takes no further decision.
    assert decide(login, demo["registrar"], row.id, "reject", reason="Поздно").status_code == 404


@pytest.mark.parametrize(
    "section,field,value,message",
    [
        ("diagnoses", "onset_on", "31.02.2025", "Enter the date as day, month and year"),
        (
            "diagnoses",
            "onset_on",
            (clock.today() + timedelta(days=3)).strftime("%d.%m.%Y"),
            "must not be in the future",
        ),
        ("diagnoses", "code", "Z99.99", "is not in the ICD-10 reference book"),
        ("diagnoses", "code", "гипертония", "Enter an ICD-10 code"),
        ("diagnoses", "status", "cured", "Choose one of the listed values"),
        (
            "insurance",
            "number",
            "775500000000001" + str((enp_check_digit("775500000000001") + 1) % 10),
            "its check digit does not match",
        ),
        ("insurance", "number", "77550000", "16 digits"),
        ("services", "cost_kopecks", "дорого", "Enter the cost in roubles"),
        ("services", "cost_kopecks", "12,345", "at most 2 digits"),
        ("allergies", "substance", "Пенициллин", "same as the current one"),
        ("allergies", "reaction", "x" * 301, "at most 300 characters"),
        ("allergies", "nonsense", "x", "Choose the field to correct"),
    ],
)
def test_a_bad_correction_is_refused_precisely_and_changes_nothing(
    app, demo, login, entries, section, field, value, message
):
    patient = demo["patient"]
    report(login, patient, patient.patient_id, section, entries[section])
    row = latest(app)
    response = decide(login, demo["registrar"], row.id, "correct", field=field, value=value, note="Проверено")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'id="error-summary"' in page
    assert revisions_of(app, row.id) == 0 and latest(app).status == "registered"


def test_dates_and_costs_are_read_and_shown_in_the_history(app, demo, login, entries):
    patient = demo["patient"]
    report(login, patient, patient.patient_id, "services", entries["services"])
    row = latest(app)
    response = decide(
        login, demo["registrar"], row.id, "correct", field="cost_kopecks", value="1 250,50", note="Счёт исправлен"
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(m.ServiceRecord, entries["services"]).cost_kopecks == 125050
    citizen = login(patient)
    text = citizen.get(f"/card/{patient.patient_id}/corrections/{row.id}").get_data(as_text=True)
    assert "1,500.00" in text and "1,250.50" in text  # shown as money in the reader's locale


def test_the_registrar_rejects_with_a_required_reason(app, demo, login, entries):
    patient = demo["patient"]
    report(login, patient, patient.patient_id, "insurance", entries["insurance"])
    row = latest(app)
    response = decide(login, demo["registrar"], row.id, "reject", reason="   ")
    assert response.status_code == 400 and "Write the reason" in response.get_data(as_text=True)
    assert latest(app).status == "registered"
    assert decide(login, demo["registrar"], row.id, "reject", reason="Номер полиса верный").status_code == 303
    assert latest(app).status == "rejected"
    detail = login(patient).get(f"/card/{patient.patient_id}/corrections/{row.id}").get_data(as_text=True)
    assert "Номер полиса верный" in detail and "Rejected" in detail
    assert '"status": "rejected"' in notifications(app, patient.id)[-1]
    assert revisions_of(app, row.id) == 0


def test_a_registrar_never_resolves_a_report_about_their_own_card(app, demo, login):
    registrar = demo["registrar"]
    ids = make_entries(app, registrar.patient_id)
    _client, response = report(
        login, registrar, registrar.patient_id, "allergies", ids["allergies"], files=[("scan.png", png())]
    )
    assert response.status_code == 303
    row = latest(app)
    client = login(registrar)
    page = client.get(f"/clinic/corrections/{row.id}").get_data(as_text=True)
    assert "another registrar must decide it" in page and "Пенициллин" not in page and "scan.png" not in page
    with app.app_context():
        file_id = db.session.scalar(sa.select(CorrectionFile.id).where(CorrectionFile.correction_id == row.id))
    assert client.get(f"/clinic/corrections/{row.id}/files/{file_id}").status_code == 404
    assert decide(login, registrar, row.id, "review").status_code == 404
    assert (
        decide(login, registrar, row.id, "correct", field="substance", value="Аспирин", note="Сама").status_code == 404
    )
    assert decide(login, registrar, row.id, "reject", reason="Не хочу").status_code == 404
    assert latest(app).status == "registered" and revisions_of(app, row.id) == 0


def test_citizens_and_clinicians_do_not_reach_the_registrar_pages(app, demo, login):
    demo_request = latest(app)
    for key in ("patient", "doctor", "org_admin"):
        client = login(demo[key])
        assert client.get("/clinic/corrections").status_code == 404
        assert client.get(f"/clinic/corrections/{demo_request.id}").status_code == 404


@pytest.mark.parametrize("section", list(CORRECTABLE))
def test_every_section_can_be_reported_and_shown_to_the_registrar(app, demo, login, entries, section):
    """The demo history (and ``make_entries``) give Smirnova entries of every section: the form
    names each entry, and the one who decides it (the registrar; for an entry whose author works
    at the clinic, that doctor: tests/test_author_corrections.py) sees its correctable values."""
    from portal.access.policy import AUTHOR_SECTIONS

    patient = demo["patient"]
    with app.app_context():
        model = CORRECTABLE[section].model
        query = sa.select(model.id, sa.literal(None).label("author"))
        if section in AUTHOR_SECTIONS:
            query = sa.select(model.id, m.Practitioner.account_id).outerjoin(
                m.Practitioner, m.Practitioner.id == model.practitioner_id
            )
        found = db.session.execute(
            query.where(model.patient_id == patient.patient_id).order_by(model.id).limit(1)
        ).first()
    assert found is not None, f"no {section} entry to report"
    entry_id, author = found
    client, response = report(login, patient, patient.patient_id, section, entry_id)
    assert response.status_code == 303
    if author is None:
        page = login(demo["registrar"]).get(f"/clinic/corrections/{latest(app).id}")
    else:
        doctor = next(demo[key] for key in ("doctor", "doctor_b") if demo[key].id == author)
        page = login(doctor).get(f"/doctor/corrections/{latest(app).id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for field in CORRECTABLE[section].fields:
        assert f'<option value="{field.name}">' in text


# -- the entry pages without an entry page of their own: a policy and a document --------------------


def test_a_policy_is_reported_from_the_insurance_page_and_shows_its_history_there(app, demo, login, entries):
    patient = demo["patient"]
    card = patient.patient_id
    citizen = login(patient)
    page = citizen.get(f"/card/{card}/insurance").get_data(as_text=True)
    link = f'href="/card/{card}/insurance/{entries["insurance"]}/report-error"'
    assert link in page and "Report an error in the policy 7755000000000010" in page
    assert "does not pass the check digit" not in page  # 7755000000000010 is a valid ENP
    report(login, patient, card, "insurance", entries["insurance"])
    row = latest(app)
    # Decided straight from «registered»: the timeline still shows the review, the citizen is told once.
    number = "775500000000002" + str(enp_check_digit("775500000000002"))
    response = decide(login, demo["registrar"], row.id, "correct", field="number", value=number, note="Полис заменён")
    assert response.status_code == 303
    with app.app_context():
        steps = list(
            db.session.scalars(
                sa.select(m.RequestEvent.status)
                .where(m.RequestEvent.request_kind == "correction", m.RequestEvent.request_id == row.id)
                .order_by(m.RequestEvent.id)
            )
        )
    assert steps == ["registered", "in_review", "corrected"]
    statuses = [re.search(r'"status": "(\w+)"', p)[1] for p in notifications(app, patient.id)]
    assert statuses == ["registered", "corrected"]
    page = citizen.get(f"/card/{card}/insurance").get_data(as_text=True)
    assert "Change history of the policy " + number in page
    assert "<del>7755000000000010</del>" in page and "Полис заменён" in page
    detail = citizen.get(f"/card/{card}/corrections/{row.id}").get_data(as_text=True)
    assert f'href="/card/{card}/insurance"' in detail  # the request leads back to where the policy is shown


def test_a_policy_number_that_fails_its_check_digit_is_pointed_out(app, demo, login, entries):
    patient = demo["patient"]
    with app.app_context(), write_transaction():
        db.session.get(m.InsurancePolicy, entries["insurance"]).number = "7755000000000018"
    page = login(patient).get(f"/card/{patient.patient_id}/insurance").get_data(as_text=True)
    assert "The number 7755000000000018 does not pass the check digit" in page


def test_a_documents_title_is_reported_from_its_page_and_corrected_with_history(app, demo, login):
    patient = demo["patient"]
    card = patient.patient_id
    with app.app_context():
        document_id = db.session.scalar(
            sa.select(m.Document.id).where(m.Document.patient_id == card, m.Document.uploaded_by_id.is_(None)).limit(1)
        )
        old_title = db.session.get(m.Document, document_id).title
    citizen = login(patient)
    page = citizen.get(f"/card/{card}/documents/{document_id}").get_data(as_text=True)
    assert f'href="/card/{card}/documents/{document_id}/report-error"' in page
    report(login, patient, card, "documents", document_id)
    row = latest(app)
    assert decide(login, demo["registrar"], row.id, "review").status_code == 303
    response = decide(
        login,
        demo["registrar"],
        row.id,
        "correct",
        field="title",
        value="Выписной эпикриз (исправлено)",
        note="Опечатка",
    )
    assert response.status_code == 303
    page = citizen.get(f"/card/{card}/documents/{document_id}").get_data(as_text=True)
    assert "<h1>Выписной эпикриз (исправлено)</h1>" in page and f"<del>{old_title}</del>" in page and "Опечатка" in page


def test_a_trusted_persons_report_is_news_to_the_owner(app, demo, login):
    patient_id = demo["patient"].patient_id
    vaccination = demo_vaccination(app, patient_id)
    _client, response = report(login, demo["trusted"], patient_id, "vaccinations", vaccination)
    assert response.status_code == 303
    row = latest(app)
    assert [re.search(r'"status": "(\w+)"', p)[1] for p in notifications(app, demo["trusted"].id)] == ["registered"]
    owner = [p for p in notifications(app, demo["patient"].id) if row.number in p]
    assert len(owner) == 1 and '"status": "registered"' in owner[0]
    decide(login, demo["registrar"], row.id, "reject", reason="Дата верна")
    owner = [p for p in notifications(app, demo["patient"].id) if row.number in p]
    assert [re.search(r'"status": "(\w+)"', p)[1] for p in owner] == ["registered", "rejected"]


def test_a_report_about_a_certificate_stays_with_the_owner(app, demo, login):
    """The owner's report about a 086/у in «Мои документы» is hers: a trusted person shown the
    Documents section finds it neither in the card's reports nor by its address."""
    from portal.sharing.models import AccessGrant

    patient = demo["patient"]
    card = patient.patient_id
    with app.app_context(), write_transaction():
        document = m.Document(
            patient_id=card,
            kind="certificate",
            title="Медицинская справка (форма 086/у) № С-2026-000009",
            document_date=clock.today(),
            storage_key="not-stored",
            filename="certificate.pdf",
            content_type="application/pdf",
            size=1,
            keep_until=clock.today() + timedelta(days=300),
            search_text="",
        )
        db.session.add(document)
        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        grant.sections = "documents,vaccinations"
        db.session.flush()
        document_id = document.id
    report(login, patient, card, "documents", document_id)
    row = latest(app)
    trusted = login(demo["trusted"])
    assert row.number not in trusted.get(f"/card/{card}/corrections").get_data(as_text=True)
    assert trusted.get(f"/card/{card}/corrections/{row.id}").status_code == 404
    assert row.number in login(patient).get(f"/card/{card}/corrections").get_data(as_text=True)


def test_a_trusted_person_whose_access_ended_is_not_told_the_outcome(app, demo, login):
    from portal.sharing.models import AccessGrant

    patient_id = demo["patient"].patient_id
    vaccination = demo_vaccination(app, patient_id)
    report(login, demo["trusted"], patient_id, "vaccinations", vaccination)
    row = latest(app)
    with app.app_context(), write_transaction():
        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        grant.revoked_at = datetime.now(UTC)
    decide(login, demo["registrar"], row.id, "reject", reason="Дата верна: прививка 12.03")
    trusted = [re.search(r'"status": "(\w+)"', p)[1] for p in notifications(app, demo["trusted"].id) if row.number in p]
    owner = [re.search(r'"status": "(\w+)"', p)[1] for p in notifications(app, demo["patient"].id) if row.number in p]
    assert trusted == ["registered"] and owner == ["registered", "rejected"]


# -- the registrar reads through an open request only (issue 8, points 5 and 31) ------------------


def file_of(app, request_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(CorrectionFile.id).where(CorrectionFile.correction_id == request_id))


def registrar_reads(app, registrar_id: int, patient_id: int, outcome: str = "success") -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(AuditEvent)
                .where(
                    AuditEvent.action == "card.read",
                    AuditEvent.actor_id == registrar_id,
                    AuditEvent.patient_id == patient_id,
                    AuditEvent.outcome == outcome,
                )
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
    return rows


def test_a_decided_request_no_longer_shows_the_entry_or_its_files(app, demo, login, entries):
    """After «Исправлено» or «Отклонено» the registrar still finds the request's own page (its
    number, status, timeline), but neither the entry nor the files: walking past requests reads
    nothing of the card. The refused file is 404 and audited as a denial."""
    patient, registrar = demo["patient"], demo["registrar"]
    report(login, patient, patient.patient_id, "allergies", entries["allergies"], files=[("scan.png", png())])
    row = latest(app)
    client = login(registrar)
    open_page = client.get(f"/clinic/corrections/{row.id}").get_data(as_text=True)
    assert "Пенициллин" in open_page and "scan.png" in open_page  # an open request shows both
    assert decide(login, registrar, row.id, "reject", reason="Запись верна").status_code == 303
    reads = len(registrar_reads(app, registrar.id, patient.patient_id))

    response = client.get(f"/clinic/corrections/{row.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and row.number in page and "Rejected" in page and "Запись верна" in page
    assert "Пенициллин" not in page and "Moderate" not in page and "scan.png" not in page
    assert "no longer shown" in page and "Correct the entry" not in page
    assert client.get(f"/clinic/corrections/{row.id}/files/{file_of(app, row.id)}").status_code == 404
    assert len(registrar_reads(app, registrar.id, patient.patient_id)) == reads  # nothing of the card was read
    [denied] = registrar_reads(app, registrar.id, patient.patient_id, "denied")
    assert (denied.actor_role, denied.section) == ("registrar", "allergies") and "decided" in denied.reason


def test_a_corrected_request_does_not_show_the_corrected_entry(app, demo, login, entries):
    patient, registrar = demo["patient"], demo["registrar"]
    report(login, patient, patient.patient_id, "diagnoses", entries["diagnoses"])
    row = latest(app)
    response = decide(login, registrar, row.id, "correct", field="code", value="J06.9", note="Подтверждено")
    assert response.status_code == 303
    page = login(registrar).get(f"/clinic/corrections/{row.id}").get_data(as_text=True)
    assert "Corrected" in page and "J06.9" not in page and "I10" not in page and "Current values" not in page


def test_withdrawn_consent_stops_the_registrar(app, demo, login, entries):
    """A patient who withdrew consent to processing is shut to everyone else, registrars too: the
    request's page shows no entry and no files, the file is 404, and nothing can be decided."""
    from portal.auth.models import Account
    from portal.consent import service as consent

    patient, registrar = demo["patient"], demo["registrar"]
    report(login, patient, patient.patient_id, "allergies", entries["allergies"], files=[("scan.png", png())])
    row = latest(app)
    with app.app_context():
        assert consent.revoke(db.session.get(Account, patient.id), None)
    client = login(registrar)
    response = client.get(f"/clinic/corrections/{row.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and row.number in page and "withdrawn consent" in page
    assert "Пенициллин" not in page and "scan.png" not in page and "Correct the entry" not in page
    assert client.get(f"/clinic/corrections/{row.id}/files/{file_of(app, row.id)}").status_code == 404
    response = decide(login, registrar, row.id, "correct", field="substance", value="Аспирин", note="Проверено")
    assert response.status_code == 404
    assert decide(login, registrar, row.id, "review").status_code == 404
    with app.app_context():
        assert db.session.get(m.Allergy, entries["allergies"]).substance == "Пенициллин"
    assert latest(app).status == "registered" and registrar_reads(app, registrar.id, patient.patient_id) == []
    assert {e.reason for e in registrar_reads(app, registrar.id, patient.patient_id, "denied")} == {
        "the patient has not given consent to processing"
    }


def test_an_attachment_the_registrar_opens_is_in_who_opened_my_card(app, demo, login, entries):
    patient, registrar = demo["patient"], demo["registrar"]
    report(login, patient, patient.patient_id, "allergies", entries["allergies"], files=[("scan.png", png())])
    row = latest(app)
    file_id = file_of(app, row.id)
    assert login(registrar).get(f"/clinic/corrections/{row.id}/files/{file_id}").status_code == 200
    [read] = registrar_reads(app, registrar.id, patient.patient_id)
    assert (read.object_type, read.object_id, read.actor_role) == ("correction_file", str(file_id), "registrar")
    log = login(patient).get(f"/card/{patient.patient_id}/access-log").get_data(as_text=True)
    assert log.count(f"for the request {row.number}") == 1
