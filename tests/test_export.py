"""Export of the whole card: the FHIR IPS document (validated with fhir.resources R4B and our own
IPS checks), the tagged PDF, the page that explains both, and who may export what."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle

from portal import clock
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.directory.models import Organisation
from portal.record.models import (
    Allergy,
    Checkup,
    Diagnosis,
    Immunization,
    LabReport,
    Observation,
    Patient,
    Practitioner,
    Prescription,
    Visit,
)
from tests.pdf_jobs import fetch_pdf
from tests.test_htmx import count_queries

PROBLEMS, ALLERGIES, MEDICATIONS, IMMUNIZATIONS, RESULTS = "11450-4", "48765-2", "10160-0", "11369-6", "30954-2"
REQUIRED = (PROBLEMS, ALLERGIES, MEDICATIONS)
SECTION_RESOURCES = {
    PROBLEMS: {"Condition"},
    ALLERGIES: {"AllergyIntolerance"},
    MEDICATIONS: {"MedicationRequest", "MedicationStatement"},
    IMMUNIZATIONS: {"Immunization"},
    RESULTS: {"Observation", "DiagnosticReport"},
}
SHARED = ("Practitioner", "Organization", "Device")  # not in any patient's compartment
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
XHTML_DIV = '<div xmlns="http://www.w3.org/1999/xhtml">'


# -- our own IPS checks (fhir.resources checks types and cardinality, not the IPS rules) -------------


def references(node):
    """Every ``reference`` value anywhere in the JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def check_ips(bundle: dict, snils: str) -> dict[str, dict]:
    """Assert the IPS document rules for the card with this SNILS; return the sections by code."""
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    assert bundle["identifier"]["value"] and bundle["timestamp"]
    assert "http://hl7.org/fhir/uv/ips/StructureDefinition/Bundle-uv-ips" in bundle["meta"]["profile"]
    entries = bundle["entry"]
    urls = [e["fullUrl"] for e in entries]
    assert all(u.startswith("urn:uuid:") for u in urls) and len(set(urls)) == len(urls)
    composition = entries[0]["resource"]
    assert composition["resourceType"] == "Composition", "entry[0] must be the Composition"
    assert composition["status"] == "final"
    assert {"system": "http://loinc.org", "code": "60591-5"}.items() <= composition["type"]["coding"][0].items()
    assert composition["subject"]["reference"] and composition["date"] and composition["author"]
    assert composition["title"]
    assert sum(e["resource"]["resourceType"] == "Composition" for e in entries) == 1
    by_url = {e["fullUrl"]: e["resource"] for e in entries}
    unresolved = [r for r in references(bundle) if r not in by_url]
    assert not unresolved, f"references that do not resolve: {unresolved}"
    patients = [r for r in by_url.values() if r["resourceType"] == "Patient"]
    assert len(patients) == 1, "exactly one patient in the document"
    patient_url = composition["subject"]["reference"]
    assert by_url[patient_url]["resourceType"] == "Patient"
    assert {"system": "urn:oid:1.2.643.100.3", "value": snils}.items() <= by_url[patient_url]["identifier"][0].items()
    for url, resource in by_url.items():
        kind = resource["resourceType"]
        if kind in ("Composition", "Patient", *SHARED):
            continue
        owner = resource.get("subject") or resource.get("patient")
        assert owner and owner["reference"] == patient_url, f"{kind} {url} is not this patient's"
        assert resource["meta"]["profile"][0].startswith("http://hl7.org/fhir/uv/ips/StructureDefinition/")
    sections = {}
    for section in composition["section"]:
        code = section["code"]["coding"][0]
        assert code["system"] == "http://loinc.org"
        assert section["title"] and section["text"]["div"].startswith(XHTML_DIV)
        assert ("entry" in section) != ("emptyReason" in section), "ips-comp-1: entry or emptyReason"
        for ref in section.get("entry", []):
            assert by_url[ref["reference"]]["resourceType"] in SECTION_RESOURCES[code["code"]]
        if "emptyReason" in section:
            assert section["emptyReason"]["coding"][0]["system"] == EMPTY_REASON
        sections[code["code"]] = section
    assert set(REQUIRED) <= set(sections), "problems, allergies and medications are required"
    return sections


def resources_of(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def first(bundle: dict, kind: str) -> dict:
    return resources_of(bundle, kind)[0]


def empty_reason(section: dict) -> str | None:
    return section["emptyReason"]["coding"][0]["code"] if "emptyReason" in section else None


# -- a small record, built directly -------------------------------------------------------------------


def build_record(app, patient_id: int, marker: str, reports: int = 1) -> None:
    """One of every kind of entry, each named with ``marker`` so a test can find it anywhere."""
    today = clock.today()
    with app.app_context(), write_transaction():
        org = db.session.scalar(sa.select(Organisation).order_by(Organisation.id))
        doctor = Practitioner(
            surname="Белова",
            name="Анна",
            patronymic="Петровна",
            specialty="терапевт",
            registration_number="77-000001",
            organisation_id=org.id,
        )
        db.session.add(doctor)
        db.session.flush()
        who = {"patient_id": patient_id, "organisation_id": org.id, "practitioner_id": doctor.id}
        visit = Visit(
            started_at=datetime.now(UTC) - timedelta(days=3), kind="clinic", conclusion=f"Визит {marker}", **who
        )
        db.session.add(visit)
        db.session.add_all(
            [
                Diagnosis(
                    code="I10",
                    title=f"Гипертензия {marker}",
                    onset_on=today - timedelta(days=400),
                    status="active",
                    **who,
                ),
                Diagnosis(
                    code="J06.9", title=f"ОРВИ {marker}", onset_on=today - timedelta(days=90), status="resolved", **who
                ),
                Allergy(
                    substance=f"Пенициллин {marker}",
                    category="medication",
                    reaction="Крапивница",
                    severity="moderate",
                    recorded_on=today - timedelta(days=900),
                    **who,
                ),
                Prescription(
                    number=f"77-{marker}",
                    issued_on=today - timedelta(days=5),
                    drug=f"Эналаприл {marker}",
                    form="таблетки 10 мг",
                    dose="1 таблетка 2 раза в день",
                    quantity="60",
                    valid_until=today + timedelta(days=55),
                    **who,
                ),
                Prescription(
                    number=f"78-{marker}",
                    issued_on=today - timedelta(days=300),
                    drug=f"Старое {marker}",
                    form="капли",
                    dose="—",
                    quantity="1",
                    valid_until=today - timedelta(days=240),
                    **who,
                ),
                Immunization(
                    vaccine=f"Спутник {marker}",
                    target="COVID",
                    given_on=today - timedelta(days=200),
                    dose_label="V1",
                    series="И-123",
                    patient_id=patient_id,
                    organisation_id=org.id,
                    practitioner_id=doctor.id,
                ),
                Checkup(
                    year=today.year,
                    stage=1,
                    started_on=today - timedelta(days=30),
                    health_group="II",
                    systolic=135,
                    diastolic=85,
                    conclusion=f"Диспансеризация {marker}",
                    **who,
                ),
            ]
        )
        for n in range(reports):
            taken = datetime.now(UTC) - timedelta(days=10 + n)
            report = LabReport(code="58410-2", kind="lab", taken_at=taken, flagged=1, **who)
            db.session.add(report)
            db.session.flush()
            common = {"patient_id": patient_id, "report_id": report.id, "taken_at": taken}
            db.session.add_all(
                [
                    Observation(loinc="718-7", value=175, unit="g/L", low=120, high=150, flag="high", **common),
                    Observation(loinc="6690-2", value=6.1, unit="10*9/L", low=4.0, high=9.0, **common),
                ]
            )


@pytest.fixture
def record(app, demo):
    """Smirnova's record, and a different record on the guardian's daughter's card."""
    smirnova = demo["patient"].patient_id
    build_record(app, smirnova, "СМИР")
    build_record(app, demo["child_9"].id, "ДАША")
    with app.app_context():
        snils = {p.id: p.snils for p in db.session.scalars(sa.select(Patient))}
    return {"patient": smirnova, "child": demo["child_9"].id, "snils": snils}


def ips(client, patient_id: int):
    response = client.get(f"/card/{patient_id}/export/ips.json")
    assert response.status_code == 200
    return response, json.loads(response.get_data())


def last_events(app, count: int = 1) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(count)))
        db.session.expunge_all()
    return rows


# -- the FHIR document ---------------------------------------------------------------------------------------


def test_the_owner_gets_a_valid_ips_document_of_her_card_only(app, demo, record, login):
    response, bundle = ips(login(demo["patient"]), record["patient"])
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["Cache-Control"] == "no-store"
    Bundle.model_validate_json(response.get_data())  # FHIR R4(B) types and cardinality
    sections = check_ips(bundle, record["snils"][record["patient"]])
    assert all(code in sections and "entry" in sections[code] for code in SECTION_RESOURCES)
    body = response.get_data(as_text=True)
    assert "ДАША" not in body and record["snils"][record["child"]] not in body  # nothing of the daughter's

    conditions = [c for c in resources_of(bundle, "Condition") if "СМИР" in c["code"]["text"]]
    (condition,) = conditions  # the active diagnosis; the resolved one is not on the problem list
    assert {c["system"] for c in condition["code"]["coding"]} == {
        "http://hl7.org/fhir/sid/icd-10",
        "urn:oid:1.2.643.5.1.13.13.11.1005",
    }
    assert condition["code"]["coding"][0]["code"] == "I10" and condition["code"]["text"] == "Гипертензия СМИР"
    medicines = [m["medicationCodeableConcept"]["text"] for m in resources_of(bundle, "MedicationRequest")]
    assert "Эналаприл СМИР, таблетки 10 мг" in medicines and not any("Старое" in m for m in medicines)  # expired
    hemoglobin = next(o for o in resources_of(bundle, "Observation") if o["code"]["coding"][0]["code"] == "718-7")
    assert hemoglobin["valueQuantity"] == {
        "value": 175,
        "unit": "g/L",
        "system": "http://unitsofmeasure.org",
        "code": "g/L",
    }
    assert hemoglobin["referenceRange"][0]["low"]["value"] == 120
    assert hemoglobin["referenceRange"][0]["high"]["value"] == 150
    assert hemoglobin["interpretation"][0]["coding"][0]["code"] == "H"
    in_reports = {r["reference"] for d in resources_of(bundle, "DiagnosticReport") for r in d.get("result", [])}
    observations = {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"}
    assert observations and observations == in_reports  # every result belongs to its panel's report
    assert resources_of(bundle, "Practitioner") and resources_of(bundle, "Organization")
    assert "Гипертензия СМИР" in sections[PROBLEMS]["text"]["div"]  # the narrative says what the entries say


def test_the_ips_checks_catch_a_broken_document(app, demo, record, login):
    """The checks above can fail: each defect they look for is caught."""
    _response, bundle = ips(login(demo["patient"]), record["patient"])
    snils = record["snils"][record["patient"]]
    defects = {
        "composition not first": lambda b: b["entry"].reverse(),
        "dangling reference": lambda b: b["entry"][0]["resource"]["author"][0].update(reference="urn:uuid:nowhere"),
        "required section missing": lambda b: b["entry"][0]["resource"]["section"].pop(0),
        "neither entry nor emptyReason": lambda b: b["entry"][0]["resource"]["section"][0].pop("entry"),
        "an entry about someone else": lambda b: first(b, "Condition").update(
            subject={"reference": next(e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Device")}
        ),
        "a second patient": lambda b: b["entry"].append(
            {"fullUrl": "urn:uuid:0f0e6a44-0000-4000-8000-000000000000", "resource": dict(first(b, "Patient"))}
        ),
    }
    for name, break_it in defects.items():
        broken = json.loads(json.dumps(bundle))
        break_it(broken)
        with pytest.raises(AssertionError):
            check_ips(broken, snils)
            pytest.fail(f"not caught: {name}")


def test_a_trusted_person_exports_only_the_shared_sections(app, demo, record, login):
    """The demo grant: results, vaccinations and prescriptions, view only."""
    response, bundle = ips(login(demo["trusted"]), record["patient"])
    Bundle.model_validate_json(response.get_data())
    sections = check_ips(bundle, record["snils"][record["patient"]])
    assert empty_reason(sections[PROBLEMS]) == empty_reason(sections[ALLERGIES]) == "withheld"
    assert "entry" in sections[MEDICATIONS] and "entry" in sections[IMMUNIZATIONS] and "entry" in sections[RESULTS]
    assert not resources_of(bundle, "Condition") and not resources_of(bundle, "AllergyIntolerance")
    body = response.get_data(as_text=True)
    for unshared in ("Гипертензия СМИР", "ОРВИ СМИР", "Пенициллин СМИР", "Визит СМИР", "Диспансеризация СМИР"):
        assert unshared not in body
    assert "Эналаприл СМИР" in body and "Спутник СМИР" in body


def test_empty_required_sections_say_why_they_are_empty(app, demo, login):
    with app.app_context(), write_transaction():  # whatever the demo generator put there
        for model in (Diagnosis, Allergy, Prescription):
            db.session.execute(sa.delete(model).where(model.patient_id == demo["child_9"].id))
    guardian = login(demo["guardian"])
    response, bundle = ips(guardian, demo["child_9"].id)
    Bundle.model_validate_json(response.get_data())
    with app.app_context():
        snils = db.session.get(Patient, demo["child_9"].id).snils
    sections = check_ips(bundle, snils)
    assert {empty_reason(sections[code]) for code in REQUIRED} == {"unavailable"}


def test_the_document_costs_the_same_queries_for_a_short_and_a_long_record(app, demo, login):
    patient_id = demo["patient"].patient_id
    owner = login(demo["patient"])
    build_record(app, patient_id, "A", reports=1)
    owner.get(f"/card/{patient_id}/export/ips.json")  # the first request sets up the connection
    small = count_queries(app, owner, f"/card/{patient_id}/export/ips.json")
    for n in range(4):
        build_record(app, patient_id, f"B{n}", reports=6)
    assert count_queries(app, owner, f"/card/{patient_id}/export/ips.json") == small


# -- who may export, and the audit ---------------------------------------------------------------------------


def test_each_export_is_audited_once_and_shown_to_the_owner(app, demo, record, login):
    doctor = login(demo["doctor"])
    before = max((e.id for e in last_events(app)), default=0)
    ips(doctor, record["patient"])
    events = [e for e in last_events(app, 5) if e.id > before]
    assert [(e.action, e.object_type, e.object_id, e.actor_role) for e in events] == [
        ("card.export", "export", "ips", "clinician")
    ]
    fetch_pdf(app, doctor, f"/card/{record['patient']}/export/summary.pdf")
    assert (last_events(app)[0].action, last_events(app)[0].object_id) == ("card.export", "pdf")
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    log = owner.get(f"/card/{record['patient']}/access-log").get_data(as_text=True)
    assert "Соколов Дмитрий Александрович, clinician" in log
    # the owner reads which file left the portal
    assert "exported the card as a PDF summary" in log
    assert "exported the card as a FHIR file (International Patient Summary)" in log
    owner.set_cookie("lang", "ru")
    russian = owner.get(f"/card/{record['patient']}/access-log").get_data(as_text=True)
    assert "Выгрузка карты в PDF" in russian and "Выгрузка карты в формате FHIR" in russian


@pytest.mark.parametrize("suffix", ["/export", "/export/ips.json", "/export/summary.pdf"])
def test_a_stranger_gets_404_and_the_refusal_is_audited(app, demo, record, login, suffix):
    response = login(demo["doctor_b"]).get(f"/card/{record['patient']}{suffix}")
    assert response.status_code == 404
    assert "Смирнова" not in response.get_data(as_text=True)
    event = last_events(app)[0]
    assert (event.action, event.outcome, event.actor_id) == ("card.export", "denied", demo["doctor_b"].id)


def test_a_nurse_and_emergency_access_may_not_export(app, demo, record, login):
    from tests.test_access import emergency

    patient_id = record["patient"]
    nurse = login(demo["nurse"])
    assert nurse.get(f"/card/{patient_id}").status_code == 200
    assert nurse.get(f"/card/{patient_id}/export/ips.json").status_code == 404
    doctor_b = login(demo["doctor_b"])
    assert emergency(doctor_b, demo["patient"].snils).status_code == 303
    assert doctor_b.get(f"/card/{patient_id}").status_code == 200
    assert doctor_b.get(f"/card/{patient_id}/export/ips.json").status_code == 404
    assert doctor_b.get(f"/card/{patient_id}/export").status_code == 404


# -- the page ------------------------------------------------------------------------------------------------------


def test_the_page_names_what_the_viewer_may_export_and_links_both_files(app, demo, record, login):
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    html = owner.get(f"/card/{record['patient']}/export").get_data(as_text=True)
    assert f'href="/card/{record["patient"]}/export/summary.pdf"' in html
    assert f'href="/card/{record["patient"]}/export/ips.json"' in html
    assert "Diagnoses: the current ones" in html and "Check-ups: the 5 latest, in the PDF only" in html
    trusted = login(demo["trusted"])
    trusted.set_cookie("lang", "en")
    shared = trusted.get(f"/card/{record['patient']}/export").get_data(as_text=True)
    assert "Test results: the 10 latest tests" in shared and "Vaccinations: all of them" in shared
    assert "Diagnoses:" not in shared and "Allergies:" not in shared and "Visits and examination reports:" not in shared
    assert "Only the sections the patient shared with you are included." in shared
    # The page itself is an audited read, not an export.
    assert last_events(app)[0].action == "card.read"


def test_the_card_links_to_the_export_page(app, demo, login):
    html = login(demo["patient"]).get(f"/card/{demo['patient'].patient_id}").get_data(as_text=True)
    assert f'href="/card/{demo["patient"].patient_id}/export"' in html


# -- the PDF ----------------------------------------------------------------------------------------------------------


def pdf_text(tmp_path, data: bytes, name: str) -> tuple[str, str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    return info, " ".join(text.split())


def test_the_pdf_is_tagged_titled_and_holds_the_card(app, demo, record, login, tmp_path):
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    response = fetch_pdf(app, owner, f"/card/{record['patient']}/export/summary.pdf")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    info, text = pdf_text(tmp_path, response.get_data(), "owner")
    assert "Tagged:          yes" in info
    assert "Title:           Summary of the medical card: Смирнова Елена Викторовна" in info
    assert "Смирнова Елена Викторовна" in text and "Гипертензия СМИР" in text
    assert "ОРВИ СМИР" not in text  # resolved: not an active diagnosis
    assert "Пенициллин СМИР" in text and "Эналаприл СМИР" in text and "Спутник СМИР" in text
    assert "Hemoglobin" in text and "above normal" in text
    assert "175 g/L" in text and "6.1 ×10⁹/L" in text  # units as a laboratory form prints them
    assert "10*9/L" not in text
    assert "Визит СМИР" in text and "Диспансеризация СМИР" in text
    assert "ДАША" not in text
    assert "Generated" in text and "by Смирнова Елена Викторовна" in text


def test_the_pdf_holds_the_valid_referrals_the_policy_and_the_attached_clinic(app, demo, record, login, tmp_path):
    from portal.record.models import ClinicAttachment, InsurancePolicy, Practitioner, Referral

    patient_id, today = record["patient"], clock.today()
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner).order_by(Practitioner.id).limit(1))
        who = {"patient_id": patient_id, "organisation_id": doctor.organisation_id, "practitioner_id": doctor.id}
        common = {"issued_on": today - timedelta(days=3), "kind": "consultation", **who}
        db.session.add_all(
            [
                Referral(
                    number="Н-501",
                    target="Кардиолог СМИР",
                    valid_until=today + timedelta(days=27),
                    status="issued",
                    **common,
                ),
                Referral(
                    number="Н-502",
                    target="Окулист СМИР",
                    valid_until=today - timedelta(days=1),
                    status="issued",
                    **common,
                ),
                Referral(
                    number="Н-503",
                    target="Хирург СМИР",
                    valid_until=today + timedelta(days=27),
                    status="used",
                    **common,
                ),
                InsurancePolicy(
                    patient_id=patient_id,
                    number="7755000000000010",
                    insurer="СОГАЗ-Мед",
                    region_code="77",
                    status="active",
                    valid_from=date(2020, 1, 1),
                ),
            ]
        )
        attached = db.session.scalar(sa.select(ClinicAttachment).where(ClinicAttachment.patient_id == patient_id))
        clinic = attached.organisation.name if attached and attached.until is None else None
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    _info, text = pdf_text(
        tmp_path, fetch_pdf(app, owner, f"/card/{patient_id}/export/summary.pdf").get_data(), "owner"
    )
    assert "Н-501" in text and "Кардиолог СМИР" in text
    assert "Окулист СМИР" not in text and "Хирург СМИР" not in text  # expired, used
    assert "7755000000000010" in text and "СОГАЗ-Мед" in text
    assert clinic, "the demo attaches Smirnova to a clinic"
    assert " ".join(clinic.split()) in text
    page = owner.get(f"/card/{patient_id}/export").get_data(as_text=True)
    assert "Referrals: the ones still valid, in the PDF only" in page
    trusted = login(demo["trusted"])
    _info, shared = pdf_text(
        tmp_path, fetch_pdf(app, trusted, f"/card/{patient_id}/export/summary.pdf").get_data(), "trusted"
    )
    assert "Н-501" not in shared and "7755000000000010" not in shared  # not shared with her


def test_a_trusted_persons_pdf_lacks_the_unshared_sections(app, demo, record, login, tmp_path):
    trusted = login(demo["trusted"])
    trusted.set_cookie("lang", "en")
    response = fetch_pdf(app, trusted, f"/card/{record['patient']}/export/summary.pdf")
    info, text = pdf_text(tmp_path, response.get_data(), "trusted")
    assert "Tagged:          yes" in info
    assert "Смирнова Елена Викторовна" in text
    assert "Эналаприл СМИР" in text and "Спутник СМИР" in text and "Hemoglobin" in text
    for unshared in (
        "Гипертензия СМИР",
        "Пенициллин СМИР",
        "Визит СМИР",
        "Диспансеризация СМИР",
        "Diagnoses",
        "Allergies",
    ):
        assert unshared not in text
    assert "by Павлова Ольга Сергеевна" in text


def test_downloads_are_rate_limited(app_factory, demo_factory):
    from tests.conftest import session_for

    app = app_factory(RATELIMIT_ENABLED=True)
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    url = f"/card/{people['patient'].patient_id}/export/ips.json"
    statuses = [client.get(url).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    assert client.get(f"/card/{people['patient'].patient_id}/export").status_code == 200  # the page is not limited


# -- step-up: the password again before the whole card leaves (SECURITY.md check 20) ------------------------------


def _stale(app, client, minutes: int = 11) -> None:
    """Move this client's last password entry ``minutes`` into the past."""
    from portal.auth.models import ServerSession

    with app.app_context(), write_transaction():
        for row in db.session.scalars(sa.select(ServerSession).where(ServerSession.ended_at.is_(None))):
            row.authenticated_at = datetime.now(UTC) - timedelta(minutes=minutes)


@pytest.mark.parametrize("suffix", ["/export/summary.pdf", "/export/ips.json"])
def test_an_old_sign_in_confirms_the_password_before_a_download(app, demo, record, login, suffix):
    from tests.conftest import csrf_token

    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    pid = record["patient"]
    _stale(app, owner)
    exports_before = len([e for e in last_events(app, 50) if e.action == "card.export"])
    response = owner.get(f"/card/{pid}{suffix}")
    assert response.status_code == 303
    asked = response.headers["Location"]
    assert asked == f"/auth/confirm-password?next=/card/{pid}{suffix}&cancel=/card/{pid}/export"
    assert len([e for e in last_events(app, 50) if e.action == "card.export"]) == exports_before  # nothing left
    page = owner.get(asked)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Confirm it is you" in html and 'autocomplete="current-password"' in html
    assert f'href="/card/{pid}/export"' in html  # «Cancel» goes back to the export page
    assert "entered more than 10 minutes ago" in html
    owner.set_cookie("lang", "ru")
    assert "был введён более 10 минут назад" in owner.get(asked).get_data(as_text=True)
    owner.set_cookie("lang", "en")

    wrong = owner.post(asked, data={"csrf_token": csrf_token(owner, asked), "current_password": "not-my-password"})
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "The password is not right" in body and "There is a problem" in body
    assert last_events(app)[0].action == "auth.reauthenticated" and last_events(app)[0].outcome == "failure"
    assert owner.get(f"/card/{pid}{suffix}").status_code == 303  # still asked

    from portal.demodata.people import DEMO_PASSWORD

    right = owner.post(asked, data={"csrf_token": csrf_token(owner, asked), "current_password": DEMO_PASSWORD})
    assert right.status_code == 303 and right.headers["Location"] == f"/card/{pid}{suffix}"
    assert last_events(app)[0].action == "auth.reauthenticated" and last_events(app)[0].outcome == "success"
    # the file (the PDF: the «готовится» page first, 202)
    assert owner.get(right.headers["Location"]).status_code == (202 if suffix.endswith(".pdf") else 200)
    # and for the next ten minutes the other format downloads without asking again
    other = "/export/ips.json" if suffix.endswith(".pdf") else "/export/summary.pdf"
    assert owner.get(f"/card/{pid}{other}").status_code == (200 if other.endswith(".json") else 202)


def test_a_stranger_with_an_old_sign_in_still_gets_404_not_a_password_form(app, demo, record, login):
    stranger = login(demo["doctor_b"])
    _stale(app, stranger)
    assert stranger.get(f"/card/{record['patient']}/export/summary.pdf").status_code == 404


def test_the_confirmation_goes_back_only_to_this_site(app, demo, login):
    from portal.demodata.people import DEMO_PASSWORD
    from tests.conftest import csrf_token

    owner = login(demo["patient"])
    path = "/auth/confirm-password?next=https://evil.example/&cancel=//evil.example/"
    page = owner.get(path).get_data(as_text=True)
    assert 'action="/auth/confirm-password?next=/&amp;cancel=/"' in page and 'href="//evil' not in page
    answer = owner.post(path, data={"csrf_token": csrf_token(owner, path), "current_password": DEMO_PASSWORD})
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
