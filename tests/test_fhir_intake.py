"""Results and prescriptions arriving from a clinic's systems as a FHIR R4 Bundle (``flask
import-record``): a good Bundle lands in the card, flagged, and the patient is told; a wrong one
is refused with a message that says where, and nothing of it is written."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.audit.models import AuditEvent
from portal.database import db
from portal.notify.models import Notification
from portal.record.models import LabReport, Observation


def quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def observation(uid: str, loinc: str, value: float, unit: str, low: float, high: float) -> dict:
    return {
        "fullUrl": f"urn:uuid:{uid}",
        "resource": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": "urn:uuid:patient"},
            "valueQuantity": quantity(value, unit),
            "referenceRange": [{"low": quantity(low, unit), "high": quantity(high, unit)}],
        },
    }


def blood_count(snils: str, taken: datetime | None = None) -> dict:
    """An ОАК for the card with this SNILS, as a laboratory information system sends it."""
    taken = taken or datetime.now(UTC) - timedelta(hours=5)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:patient",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": snils}],
                },
            },
            {
                "fullUrl": "urn:uuid:report",
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
                    "subject": {"reference": "urn:uuid:patient"},
                    "effectiveDateTime": taken.isoformat(),
                    "result": [{"reference": "urn:uuid:hb"}, {"reference": "urn:uuid:wbc"}],
                },
            },
            observation("hb", "718-7", 171, "g/L", 120, 150),
            observation("wbc", "6690-2", 6.2, "10*9/L", 4, 9),
        ],
    }


def run(app, tmp_path, bundle, author: str):
    path = tmp_path / "bundle.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle), encoding="utf-8")
    return app.test_cli_runner().invoke(args=["import-record", str(path), "--author", author])


def reports_of(app, patient_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(LabReport).where(LabReport.patient_id == patient_id)
        )


def test_a_laboratorys_bundle_lands_in_the_card_flagged_and_the_patient_is_told(app, demo, login, tmp_path):
    patient = demo["patient"]
    result = run(app, tmp_path, blood_count(patient.snils), demo["doctor"].email)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "written: 1 report, 0 prescriptions"
    with app.app_context():
        report = db.session.scalar(
            sa.select(LabReport).where(LabReport.patient_id == patient.patient_id).order_by(LabReport.id.desc())
        )
        flags = {
            loinc: flag
            for loinc, flag in db.session.execute(
                sa.select(Observation.loinc, Observation.flag).where(Observation.report_id == report.id)
            )
        }
        told = db.session.scalar(
            sa.select(Notification).where(Notification.account_id == patient.id, Notification.event == "result_new")
        )
    assert (report.code, report.flagged) == ("58410-2", 1) and flags == {"718-7": "high", "6690-2": None}
    assert told is not None and json.loads(told.params)["out_of_range"] == 1
    client = login(patient)
    client.set_cookie("lang", "en")
    page = client.get(f"/card/{patient.patient_id}/results/{report.id}").get_data(as_text=True)
    assert "171" in page and "above the range" in page


def _without_loinc(bundle):
    bundle["entry"][2]["resource"]["code"]["coding"][0]["system"] = "http://example.org/lab-codes"


def _not_ucum(bundle):
    bundle["entry"][3]["resource"]["valueQuantity"]["system"] = "http://example.org/units"


def _dangling(bundle):
    bundle["entry"][1]["resource"]["result"].append({"reference": "urn:uuid:nowhere"})


def _future(bundle):
    bundle["entry"][1]["resource"]["effectiveDateTime"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()


def _no_patient(bundle):
    del bundle["entry"][0]


def _stranger(bundle):
    bundle["entry"][0]["resource"]["identifier"][0]["value"] = "00000000000"


def _not_fhir(bundle):
    bundle["entry"][1]["resource"]["status"] = 42


def _someone_else(bundle):
    bundle["entry"][3]["resource"]["subject"] = {"reference": "Patient/someone-else"}


def _preliminary(bundle):
    bundle["entry"][1]["resource"]["status"] = "preliminary"


def _text_number(bundle):
    bundle["entry"][2]["resource"]["valueQuantity"]["value"] = "171"


def _comparator(bundle):
    bundle["entry"][3]["resource"]["valueQuantity"]["comparator"] = "<"


def _range_in_other_units(bundle):
    bundle["entry"][2]["resource"]["referenceRange"][0]["high"] = quantity(15, "g/dL")


def _cancelled_prescription(bundle):
    today = clock.today()
    bundle["entry"].append(medication_request("77-9003", "Метформин, таблетки", today, today))
    bundle["entry"][-1]["resource"]["status"] = "cancelled"


def _expired_prescription(bundle):
    old = clock.today() - timedelta(days=40)
    bundle["entry"].append(medication_request("77-9004", "Метформин, таблетки", old, old + timedelta(days=30)))


def medication_request(number: str, medicine: str, issued: date, until: date) -> dict:
    return {
        "fullUrl": f"urn:uuid:rx-{number}",
        "resource": {
            "resourceType": "MedicationRequest",
            "identifier": [{"value": number}],
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": medicine},
            "subject": {"reference": "urn:uuid:patient"},
            "authoredOn": issued.isoformat(),
            "dosageInstruction": [{"text": "по 1 таблетке 2 раза в день"}],
            "dispenseRequest": {
                "validityPeriod": {"start": issued.isoformat(), "end": until.isoformat()},
                "quantity": {"value": 60, "unit": "таблеток"},
            },
        },
    }


def _prescription_without_form(bundle):
    bundle["entry"].append(medication_request("77-9001", "Метформин", clock.today(), clock.today()))


def _prescription_ending_early(bundle):
    today = clock.today()
    bundle["entry"].append(medication_request("77-9002", "Метформин, таблетки", today, today - timedelta(days=1)))


@pytest.mark.parametrize(
    "spoil,message",
    [
        (_without_loinc, "entry[1] DiagnosticReport.result[0]: no LOINC code"),
        (_not_ucum, "entry[1] DiagnosticReport.result[1]: the unit must be UCUM"),
        (_dangling, "result[2]: 'urn:uuid:nowhere' is not an Observation in the Bundle"),
        (_future, "effectiveDateTime"),
        (_no_patient, "the Bundle must hold one Patient, it holds 0"),
        (_stranger, "Patient: no card with SNILS 00000000000"),
        (_not_fhir, "not a FHIR R4 Bundle"),
        (_prescription_without_form, "write the medicine as «name, form»"),
        (_someone_else, "result[1]: the subject 'Patient/someone-else' is not the Bundle's Patient"),
        (_preliminary, "status 'preliminary' is not one of final, amended, corrected"),
        (_text_number, "the value '171' is not a number"),
        (_comparator, "a value with a comparator (<) is sent as valueString"),
        (_range_in_other_units, "referenceRange.high: the unit 'g/dL' is not the value's 'g/L'"),
        (_cancelled_prescription, "only an active order is a prescription (status 'cancelled'"),
        (_expired_prescription, "the prescription expired on"),
        (_prescription_ending_early, "the validity period ends before the prescription was issued"),
    ],
)
def test_a_wrong_bundle_is_refused_precisely_and_nothing_is_written(app, demo, tmp_path, spoil, message):
    patient = demo["patient"]
    before = reports_of(app, patient.patient_id)
    bundle = copy.deepcopy(blood_count(patient.snils))
    spoil(bundle)
    result = run(app, tmp_path, bundle, demo["doctor"].email)
    assert result.exit_code != 0 and message in result.output, result.output
    assert reports_of(app, patient.patient_id) == before


@pytest.mark.parametrize("who,message", [("doctor_b", "may not write to this card"), ("nurse", "may not write")])
def test_only_a_doctor_treating_the_patient_signs_results(app, demo, tmp_path, who, message):
    patient = demo["patient"]
    before = reports_of(app, patient.patient_id)
    result = run(app, tmp_path, blood_count(patient.snils), demo[who].email)
    assert result.exit_code != 0 and message in result.output, result.output
    assert reports_of(app, patient.patient_id) == before
    with app.app_context():
        denied = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.write").order_by(AuditEvent.id.desc()).limit(1)
        )
    assert (denied.actor_id, denied.outcome, denied.section) == (demo[who].id, "denied", "results")


def test_a_file_that_is_not_json_is_refused(app, demo, tmp_path):
    result = run(app, tmp_path, "{not json", demo["doctor"].email)
    assert result.exit_code != 0 and "not JSON" in result.output


def test_a_prescription_from_the_regional_service_lands_and_the_patient_is_told(app, demo, login, tmp_path):
    from portal.record.models import Prescription

    patient = demo["patient"]
    bundle = blood_count(patient.snils)
    del bundle["entry"][1:]  # the Patient alone, then one prescription
    today = clock.today()
    bundle["entry"].append(
        medication_request("77-0042", "Метформин, таблетки 500 мг", today, today + timedelta(days=60))
    )
    result = run(app, tmp_path, bundle, demo["doctor"].email)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "written: 0 reports, 1 prescription"
    with app.app_context():
        rx = db.session.scalar(sa.select(Prescription).where(Prescription.number == "77-0042"))
        told = db.session.scalar(
            sa.select(Notification).where(
                Notification.account_id == patient.id, Notification.event == "prescription_issued"
            )
        )
        assert (rx.drug, rx.form, rx.quantity, rx.valid_until) == (
            "Метформин",
            "таблетки 500 мг",
            "60 таблеток",
            today + timedelta(days=60),
        )
        assert rx.practitioner.account_id == demo["doctor"].id
    assert told is not None and json.loads(told.params)["number"] == "77-0042"
    client = login(patient)
    client.set_cookie("lang", "en")
    assert "Prescription issued: Метформин" in client.get("/notifications").get_data(as_text=True)


def test_the_same_bundle_sent_twice_is_written_once_and_a_late_duplicate_writes_nothing(app, demo, tmp_path):
    from portal.record.models import Prescription

    patient = demo["patient"]
    today = clock.today()
    bundle = blood_count(patient.snils)
    assert run(app, tmp_path, bundle, demo["doctor"].email).exit_code == 0
    again = run(app, tmp_path, bundle, demo["doctor"].email)
    assert again.exit_code != 0 and "are in the card already; nothing is written" in again.output
    # A new report together with a prescription the card holds already: neither is written.
    first = copy.deepcopy(bundle)
    del first["entry"][1:]
    first["entry"].append(medication_request("77-0050", "Лозартан, таблетки 50 мг", today, today + timedelta(days=30)))
    assert run(app, tmp_path, first, demo["doctor"].email).exit_code == 0
    before = reports_of(app, patient.patient_id)
    mixed = blood_count(patient.snils, datetime.now(UTC) - timedelta(hours=1))
    mixed["entry"].append(first["entry"][1])
    result = run(app, tmp_path, mixed, demo["doctor"].email)
    assert result.exit_code != 0 and "the prescription 77-0050 is in the card already" in result.output
    assert reports_of(app, patient.patient_id) == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Prescription.number == "77-0050")) == 1


def test_the_laboratory_amends_a_value_and_the_entry_keeps_the_old_one(app, demo, login, tmp_path):
    """A wrong haemoglobin reported through «Сообщить об ошибке» is put right where it came from:
    the laboratory sends the report again as amended; the value is corrected in place, the old
    one stays in the entry's history, the flag follows the new value and the patient is told."""
    patient = demo["patient"]
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    assert run(app, tmp_path, blood_count(patient.snils, taken), demo["doctor"].email).exit_code == 0
    amended = blood_count(patient.snils, taken)
    amended["entry"][1]["resource"]["status"] = "amended"
    amended["entry"][2]["resource"]["status"] = "amended"
    amended["entry"][2]["resource"]["valueQuantity"]["value"] = 141
    before = reports_of(app, patient.patient_id)
    result = run(app, tmp_path, amended, demo["doctor"].email)
    assert result.exit_code == 0, result.output
    assert reports_of(app, patient.patient_id) == before  # corrected, not added
    with app.app_context():
        report = db.session.scalar(
            sa.select(LabReport).where(LabReport.patient_id == patient.patient_id).order_by(LabReport.id.desc())
        )
        hb = db.session.scalar(
            sa.select(Observation).where(Observation.report_id == report.id, Observation.loinc == "718-7")
        )
        notes = db.session.scalars(
            sa.select(Notification.params).where(
                Notification.account_id == patient.id, Notification.event == "result_new"
            )
        ).all()
    assert (hb.value, hb.flag, report.flagged) == (141, None, 0)
    assert [json.loads(n).get("amended") for n in notes] == [False, True]
    client = login(patient)
    client.set_cookie("lang", "en")
    page = client.get(f"/card/{patient.patient_id}/results/{report.id}").get_data(as_text=True)
    assert "Change history" in page and "<del>171 g/L</del>" in page and "141 g/L" in page
    assert "Исправлено лабораторией" in page
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "Result corrected by the laboratory: Complete blood count" in inbox
    # Sending the same amendment again changes nothing and is refused as such.
    again = run(app, tmp_path, amended, demo["doctor"].email)
    assert again.exit_code != 0 and "in the card already" in again.output


def test_a_doctor_of_another_clinic_cannot_amend_a_clinics_results(app, demo, tmp_path):
    """Clinic B treats the patient too, but the results are clinic A's: B's amended report is
    refused (nothing changes, the refusal is audited); A's own doctor still amends them."""
    from portal.access.models import CareRelationship
    from portal.auth.models import StaffMembership
    from portal.database import write_transaction

    patient = demo["patient"]
    with app.app_context(), write_transaction():
        clinic_b = db.session.scalar(
            sa.select(StaffMembership.organisation_id).where(StaffMembership.account_id == demo["doctor_b"].id)
        )
        db.session.add(
            CareRelationship(
                practitioner_id=demo["doctor_b"].id,
                patient_id=patient.patient_id,
                organisation_id=clinic_b,
                basis="referral",
            )
        )
    taken = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    assert run(app, tmp_path, blood_count(patient.snils, taken), demo["doctor"].email).exit_code == 0
    amended = blood_count(patient.snils, taken)
    for n in (1, 2):
        amended["entry"][n]["resource"]["status"] = "amended"
    amended["entry"][2]["resource"]["valueQuantity"]["value"] = 99

    result = run(app, tmp_path, amended, demo["doctor_b"].email)
    assert result.exit_code != 0 and "may not write to this card" in result.output

    def haemoglobin() -> float:
        with app.app_context():
            return db.session.scalar(
                sa.select(Observation.value)
                .join(LabReport, LabReport.id == Observation.report_id)
                .where(LabReport.patient_id == patient.patient_id, LabReport.taken_at == taken)
                .where(Observation.loinc == "718-7")
            )

    assert haemoglobin() == 171
    with app.app_context():
        denied = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.actor_id == demo["doctor_b"].id, AuditEvent.outcome == "denied")
        )
    assert (denied.action, denied.section, denied.patient_id) == ("card.write", "results", patient.patient_id)
    assert run(app, tmp_path, amended, demo["doctor"].email).exit_code == 0
    assert haemoglobin() == 99
