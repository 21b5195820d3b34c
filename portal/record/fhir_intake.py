"""Results from a laboratory's system, as a FHIR R4 Bundle: the way in for integrators until the
FHIR API arrives. The Bundle holds the Patient (identified by SNILS), DiagnosticReports coded in
LOINC and the Observations they reference (LOINC, a UCUM quantity or a string, the reference
range). The whole Bundle is read and checked before anything is written; each report is then
written through the record's intake (decided, audited, the card's holders told).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import select

from portal.database import db
from portal.identifiers import snils_digits
from portal.record.intake import Measured, add_results
from portal.record.models import Patient

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNILS = "urn:oid:1.2.643.100.3"


class BundleRefused(ValueError):
    """The Bundle cannot be taken; the message says where and why."""


@dataclass(frozen=True)
class IncomingReport:
    code: str
    taken_at: datetime
    values: list[Measured]
    conclusion: str | None


@dataclass(frozen=True)
class IncomingResults:
    patient_id: int
    reports: list[IncomingReport]


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
    return quantity.get("value"), quantity.get("code") or quantity.get("unit")


def _measured(observation: dict, where: str) -> Measured:
    code = _loinc(observation.get("code"), where)
    value, unit = _quantity(observation.get("valueQuantity"), where)
    text = observation.get("valueString")
    if value is None and not text:
        raise BundleRefused(f"{where}: no value (valueQuantity or valueString)")
    ranges = observation.get("referenceRange") or [{}]
    low, _ = _quantity(ranges[0].get("low"), f"{where}.referenceRange")
    high, _ = _quantity(ranges[0].get("high"), f"{where}.referenceRange")
    return Measured(code, value, unit, low, high, text)


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
    reports = []
    for n, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") != "DiagnosticReport":
            continue
        where = f"entry[{n}] DiagnosticReport"
        values = []
        for k, ref in enumerate(resource.get("result") or []):
            observation = by_reference.get(ref.get("reference", ""))
            if observation is None or observation.get("resourceType") != "Observation":
                missing = ref.get("reference")
                raise BundleRefused(f"{where}.result[{k}]: {missing!r} is not an Observation in the Bundle")
            values.append(_measured(observation, f"{where}.result[{k}]"))
        if not values:
            raise BundleRefused(f"{where}: no results")
        reports.append(
            IncomingReport(
                _loinc(resource.get("code"), where),
                _moment(resource.get("effectiveDateTime"), where),
                values,
                resource.get("conclusion"),
            )
        )
    if not reports:
        raise BundleRefused("the Bundle holds no DiagnosticReport")
    return IncomingResults(patient_id, reports)


def take(author, bundle: dict) -> list[int]:
    """Read the Bundle, then write its reports as ``author``; the new reports' ids."""
    incoming = read(bundle)
    return [
        add_results(author, incoming.patient_id, r.code, r.taken_at, r.values, conclusion=r.conclusion).id
        for r in incoming.reports
    ]
