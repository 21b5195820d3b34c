"""Results and prescriptions from a clinic's systems (a laboratory's, a regional e-prescription
service), as a FHIR R4 Bundle: the way in for integrators until the FHIR API arrives. The Bundle
holds the Patient (identified by SNILS) and any of:

- DiagnosticReports coded in LOINC and the Observations they reference (LOINC, a UCUM quantity
  or a string, the reference range); a report with status amended or corrected corrects the one
  the card holds for that panel and moment, its old values kept in the entry's history;
- MedicationRequests: the number as an identifier, the medicine as «name, form» (the shape our
  IPS export writes), the dosage text, the quantity, authoredOn and the validity period's end.

The whole Bundle is read and checked before anything is written: every subject is the Bundle's
Patient, results are final (or amended, corrected), prescriptions are active orders still valid,
values are numbers in UCUM with ranges in the same unit. Then all its entries are written through
the record's intake (decided, audited, the card's holders told) in one transaction, or none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

from pydantic import ValidationError
from sqlalchemy import select

from portal import clock
from portal.database import db, write_transaction
from portal.export.fhir import LOINC, SNILS, UCUM  # the systems our IPS export writes, read back
from portal.identifiers import snils_digits
from portal.record.intake import Measured, write_prescription, write_results
from portal.record.models import Patient


class BundleRefused(ValueError):
    """The Bundle cannot be taken; the message says where and why."""


@dataclass(frozen=True)
class IncomingReport:
    code: str
    taken_at: datetime
    values: list[Measured]
    conclusion: str | None
    amended: bool = False  # status amended or corrected: it corrects the report the card holds


@dataclass(frozen=True)
class IncomingPrescription:
    number: str
    drug: str
    form: str
    dose: str
    quantity: str
    issued_on: date
    valid_until: date


@dataclass(frozen=True)
class IncomingResults:
    patient_id: int
    reports: list[IncomingReport]
    prescriptions: list[IncomingPrescription] = field(default_factory=list)


def _loinc(concept, where: str) -> str:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == LOINC and coding.get("code"):
            return coding["code"]
    raise BundleRefused(f"{where}: no LOINC code (system {LOINC})")


def _moment(text: str | None, where: str) -> datetime:
    if not text:
        raise BundleRefused(f"{where}: no effectiveDateTime")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BundleRefused(f"{where}: effectiveDateTime {text!r} is not a date and time") from exc
    if moment.tzinfo is None:
        raise BundleRefused(f"{where}: effectiveDateTime {text!r} has no time zone")
    if moment > datetime.now(UTC):
        raise BundleRefused(f"{where}: effectiveDateTime {text!r} is in the future")
    return moment


def _quantity(quantity: dict | None, where: str) -> tuple[float | None, str | None]:
    if not quantity:
        return None, None
    if quantity.get("system") not in (None, UCUM):
        raise BundleRefused(f"{where}: the unit must be UCUM ({UCUM})")
    if quantity.get("comparator"):
        raise BundleRefused(f"{where}: a value with a comparator ({quantity['comparator']}) is sent as valueString")
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BundleRefused(f"{where}: the value {value!r} is not a number")
    return float(value), quantity.get("code") or quantity.get("unit")


# A result that is not (or no longer) a result: refused rather than filed.
RESULT_STATUSES = ("final", "amended", "corrected")


def _final(resource: dict, where: str) -> None:
    if resource.get("status") not in RESULT_STATUSES:
        raise BundleRefused(f"{where}: status {resource.get('status')!r} is not one of {', '.join(RESULT_STATUSES)}")


def _measured(observation: dict, where: str) -> Measured:
    _final(observation, where)
    code = _loinc(observation.get("code"), where)
    value, unit = _quantity(observation.get("valueQuantity"), where) if "valueQuantity" in observation else (None, None)
    text = observation.get("valueString")
    if value is None and not text:
        raise BundleRefused(f"{where}: no value (valueQuantity or valueString)")
    ranges = observation.get("referenceRange") or [{}]
    low = high = None
    for end in ("low", "high"):
        if ranges[0].get(end):
            limit, limit_unit = _quantity(ranges[0][end], f"{where}.referenceRange.{end}")
            if value is not None and limit_unit != unit:
                raise BundleRefused(
                    f"{where}.referenceRange.{end}: the unit {limit_unit!r} is not the value's {unit!r}"
                )
            low, high = (limit, high) if end == "low" else (low, limit)
    return Measured(code, value, unit, low, high, text)


def _day(text: str | None, where: str, what: str) -> date:
    if not text:
        raise BundleRefused(f"{where}: no {what}")
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise BundleRefused(f"{where}: {what} {text!r} is not a date") from exc


def _text(value: str, where: str, what: str, longest: int) -> str:
    if len(value) > longest:
        raise BundleRefused(f"{where}: the {what} is longer than {longest} characters")
    return value


def _prescription(resource: dict, where: str) -> IncomingPrescription:
    if (resource.get("status"), resource.get("intent")) != ("active", "order"):
        raise BundleRefused(
            f"{where}: only an active order is a prescription "
            f"(status {resource.get('status')!r}, intent {resource.get('intent')!r})"
        )
    number = next((i.get("value") for i in resource.get("identifier") or [] if i.get("value")), None)
    if not number:
        raise BundleRefused(f"{where}: no prescription number (identifier)")
    medicine = ((resource.get("medicationCodeableConcept") or {}).get("text") or "").strip()
    drug, _comma, form = medicine.partition(", ")
    if not drug or not form:
        raise BundleRefused(f"{where}: write the medicine as «name, form» in medicationCodeableConcept.text")
    dose = " ".join(d.get("text", "") for d in resource.get("dosageInstruction") or []).strip()
    if not dose:
        raise BundleRefused(f"{where}: no dosageInstruction text")
    dispense = resource.get("dispenseRequest") or {}
    amount = dispense.get("quantity") or {}
    value = amount.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BundleRefused(f"{where}: dispenseRequest.quantity has no number")
    quantity = f"{value:g} {amount.get('unit') or ''}".strip()
    issued_on = _day(resource.get("authoredOn"), where, "authoredOn")
    valid_until = _day((dispense.get("validityPeriod") or {}).get("end"), where, "dispenseRequest.validityPeriod.end")
    if valid_until < issued_on:
        raise BundleRefused(f"{where}: the validity period ends before the prescription was issued")
    if valid_until < clock.today():
        raise BundleRefused(f"{where}: the prescription expired on {valid_until.isoformat()}")
    return IncomingPrescription(
        _text(number, where, "number", 32),
        _text(drug.strip(), where, "medicine's name", 200),
        _text(form.strip(), where, "form", 100),
        _text(dose, where, "dosage", 200),
        _text(quantity, where, "quantity", 100),
        issued_on,
        valid_until,
    )


def read(bundle: dict) -> IncomingResults:
    """Check a results Bundle and find its card; BundleRefused says what is wrong."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        Bundle.model_validate(bundle)  # FHIR types and cardinality
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleRefused(f"not a FHIR R4 Bundle: {where}: {first['msg']}") from exc
    entries = bundle.get("entry") or []
    by_reference: dict[str, dict] = {}
    for entry in entries:
        resource = entry.get("resource") or {}
        if entry.get("fullUrl"):
            by_reference[entry["fullUrl"]] = resource
        if resource.get("id"):
            by_reference[f"{resource['resourceType']}/{resource['id']}"] = resource
    patients = [e["resource"] for e in entries if (e.get("resource") or {}).get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise BundleRefused(f"the Bundle must hold one Patient, it holds {len(patients)}")
    snils = next((i.get("value") for i in patients[0].get("identifier") or [] if i.get("system") == SNILS), None)
    if not snils:
        raise BundleRefused(f"Patient: no SNILS identifier (system {SNILS})")
    patient_id = db.session.scalar(select(Patient.id).where(Patient.snils == snils_digits(snils)))
    if patient_id is None:
        raise BundleRefused(f"Patient: no card with SNILS {snils}")
    the_patient = patients[0]

    def about_the_patient(resource: dict, where: str) -> None:
        subject = (resource.get("subject") or {}).get("reference", "")
        if by_reference.get(subject) is not the_patient:
            raise BundleRefused(f"{where}: the subject {subject!r} is not the Bundle's Patient")

    reports, prescriptions = [], []
    for n, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "MedicationRequest":
            about_the_patient(resource, f"entry[{n}] MedicationRequest")
            prescriptions.append(_prescription(resource, f"entry[{n}] MedicationRequest"))
            continue
        if resource.get("resourceType") != "DiagnosticReport":
            continue
        where = f"entry[{n}] DiagnosticReport"
        about_the_patient(resource, where)
        if resource.get("status") not in RESULT_STATUSES:
            raise BundleRefused(
                f"{where}: status {resource.get('status')!r} is not one of {', '.join(RESULT_STATUSES)}"
            )
        values = []
        for k, ref in enumerate(resource.get("result") or []):
            observation = by_reference.get(ref.get("reference", ""))
            if observation is None or observation.get("resourceType") != "Observation":
                missing = ref.get("reference")
                raise BundleRefused(f"{where}.result[{k}]: {missing!r} is not an Observation in the Bundle")
            about_the_patient(observation, f"{where}.result[{k}]")
            values.append(_measured(observation, f"{where}.result[{k}]"))
        if not values:
            raise BundleRefused(f"{where}: no results")
        reports.append(
            IncomingReport(
                _loinc(resource.get("code"), where),
                _moment(resource.get("effectiveDateTime"), where),
                values,
                resource.get("conclusion"),
                resource.get("status") in ("amended", "corrected"),
            )
        )
    if not reports and not prescriptions:
        raise BundleRefused("the Bundle holds no DiagnosticReport and no MedicationRequest")
    return IncomingResults(patient_id, reports, prescriptions)


@dataclass(frozen=True)
class Taken:
    reports: list[int]
    prescriptions: list[int]


def take(author, bundle: dict) -> Taken:
    """Read the Bundle, then write its reports and prescriptions as ``author`` in one
    transaction: all of them, or (AccessDenied, AlreadyInCard, …) none; the new ids."""
    incoming = read(bundle)
    with write_transaction():
        reports = [
            write_results(
                author, incoming.patient_id, r.code, r.taken_at, r.values, conclusion=r.conclusion, amended=r.amended
            ).id
            for r in incoming.reports
        ]
        patient_id = incoming.patient_id
        prescriptions = [write_prescription(author, patient_id, **asdict(p)).id for p in incoming.prescriptions]
    return Taken(reports, prescriptions)
