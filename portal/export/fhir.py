"""The card as a FHIR R4 document Bundle in the International Patient Summary shape (IPS 1.1.0,
DOMAIN.md §5.2).

entry[0] is the Composition; every other resource is an entry with a ``urn:uuid:`` fullUrl
(fresh for each export, so no database id leaves the portal). The three required sections
(problems, allergies, medications) are always present: a section the viewer may not see says
``withheld`` and holds nothing; a visible section without entries says ``unavailable`` (the
portal cannot claim "no known allergies": that is a clinician's statement, ``nilknown``).
Optional sections appear only when the viewer may see them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from markupsafe import escape

from portal import clock
from portal.export.service import CardExport, ResultGroup
from portal.formatting import format_date
from portal.record import catalog
from portal.record.models import Allergy, Diagnosis, Immunization, Observation, Patient, Practitioner, Prescription

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_RU = "urn:oid:1.2.643.5.1.13.13.11.1005"  # МКБ-10, НСИ Минздрава России 1005
# СНИЛС: the OID СЭМД documents use as the identifier root (the Russian Core IG names the same
# identifier http://fhir.ru/core/systems/snils).
SNILS = "urn:oid:1.2.643.100.3"
UCUM = "http://unitsofmeasure.org"
URI = "urn:ietf:rfc:3986"
IPS = "http://hl7.org/fhir/uv/ips/StructureDefinition/"
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
XHTML = "http://www.w3.org/1999/xhtml"
SECTION_KEYS = "urn:medkarta:card-section"  # a section a plugin adds, named by its key
MEDIA_TYPE = "application/fhir+json"

# (card section, LOINC code, LOINC display, required by IPS)
IPS_SECTIONS = (
    ("diagnoses", "11450-4", "Problem list - Reported", True),
    ("allergies", "48765-2", "Allergies and adverse reactions Document", True),
    ("prescriptions", "10160-0", "History of Medication use Narrative", True),
    ("vaccinations", "11369-6", "History of Immunization Narrative", False),
    ("results", "30954-2", "Relevant diagnostic tests/laboratory data Narrative", False),
)


def section_title(section: str) -> str:
    return {
        "diagnoses": _("Problems"),
        "allergies": _("Allergies and intolerances"),
        "prescriptions": _("Medication summary"),
        "vaccinations": _("Immunizations"),
        "results": _("Results"),
    }[section]


def _dt(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def _d(day: date) -> str:
    return day.isoformat()


def _code(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(text: str, *codings: dict) -> dict:
    concept: dict = {"text": text}
    if codings:
        concept["coding"] = list(codings)
    return concept


def _quantity(value: float, unit: str | None) -> dict:
    quantity: dict = {"value": value}
    if unit:
        quantity.update(unit=unit, system=UCUM, code=unit)
    return quantity


def narrative(headers: list[str], rows: list[list[object]], empty: str) -> dict:
    """XHTML narrative: a table of what the section holds, or a sentence when it holds nothing."""
    if not rows:
        return {"status": "generated", "div": f'<div xmlns="{XHTML}"><p>{escape(empty)}</p></div>'}
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if c is None else c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return {
        "status": "generated",
        "div": f'<div xmlns="{XHTML}"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>',
    }


class _Document:
    """Entries with fresh urn:uuid fullUrls; practitioners and organisations added once each."""

    def __init__(self) -> None:
        self.entries: list[dict] = []
        self._shared: dict[tuple[str, int], dict] = {}

    def add(self, resource: dict) -> dict:
        uid = str(uuid.uuid4())
        resource["id"] = uid
        self.entries.append({"fullUrl": f"urn:uuid:{uid}", "resource": resource})
        return {"reference": f"urn:uuid:{uid}"}

    def organisation(self, org) -> dict:
        key = ("Organization", org.id)
        if key not in self._shared:
            self._shared[key] = self.add(
                {
                    "resourceType": "Organization",
                    "meta": {"profile": [IPS + "Organization-uv-ips"]},
                    "identifier": [{"system": URI, "value": f"urn:oid:{org.oid}"}],  # ФРМО
                    "name": org.name,
                    "telecom": [{"system": "phone", "value": org.phone}] if org.phone else [],
                    "address": [{"text": f"{org.city}, {org.address}", "city": org.city}],
                }
            )
        return self._shared[key]

    def practitioner(self, person: Practitioner) -> dict:
        key = ("Practitioner", person.id)
        if key not in self._shared:
            given = [p for p in (person.name, person.patronymic) if p]
            self._shared[key] = self.add(
                {
                    "resourceType": "Practitioner",
                    "meta": {"profile": [IPS + "Practitioner-uv-ips"]},
                    "name": [{"text": person.full_name, "family": person.surname, "given": given}],
                    "qualification": [{"code": {"text": person.specialty}}],
                }
            )
        return self._shared[key]


def _patient(patient: Patient) -> dict:
    return {
        "resourceType": "Patient",
        "meta": {"profile": [IPS + "Patient-uv-ips"]},
        "identifier": [
            {
                "type": _concept("СНИЛС", _code(IDENTIFIER_TYPE, "SB", "Social Beneficiary Identifier")),
                "system": SNILS,
                "value": patient.snils,
            }
        ],
        "name": [
            {
                "use": "official",
                "text": patient.full_name,
                "family": patient.surname,
                "given": [p for p in (patient.name, patient.patronymic) if p],
            }
        ],
        "gender": {"M": "male", "F": "female"}[patient.sex],
        "birthDate": _d(patient.birth_date),
    }


def _condition(doc: _Document, diagnosis: Diagnosis, subject: dict) -> dict:
    return {
        "resourceType": "Condition",
        "meta": {"profile": [IPS + "Condition-uv-ips"]},
        "clinicalStatus": _concept(
            "active", _code("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")
        ),
        "category": [
            _concept(
                "problem-list-item",
                _code("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item"),
            )
        ],
        "code": _concept(
            diagnosis.title,
            _code(ICD10, diagnosis.code, diagnosis.title),
            _code(ICD10_RU, diagnosis.code, diagnosis.title),
        ),
        "subject": subject,
        "onsetDateTime": _d(diagnosis.onset_on),
        "recorder": doc.practitioner(diagnosis.practitioner),
    }


def _allergy(doc: _Document, allergy: Allergy, patient: dict) -> dict:
    resource = {
        "resourceType": "AllergyIntolerance",
        "meta": {"profile": [IPS + "AllergyIntolerance-uv-ips"]},
        "clinicalStatus": _concept(
            allergy.status,
            _code("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", allergy.status),
        ),
        "category": [allergy.category] if allergy.category in ("food", "medication", "environment") else [],
        "criticality": "high" if allergy.severity == "severe" else "low",
        "code": {"text": allergy.substance},
        "patient": patient,
        "recordedDate": _d(allergy.recorded_on),
        "recorder": doc.practitioner(allergy.practitioner),
    }
    if allergy.reaction:
        reaction = {"manifestation": [{"text": allergy.reaction}]}
        if allergy.severity in ("mild", "moderate", "severe"):
            reaction["severity"] = allergy.severity
        resource["reaction"] = [reaction]
    return resource


def _medication(doc: _Document, prescription: Prescription, subject: dict) -> dict:
    return {
        "resourceType": "MedicationRequest",
        "meta": {"profile": [IPS + "MedicationRequest-uv-ips"]},
        "identifier": [{"value": prescription.number}],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": f"{prescription.drug}, {prescription.form}"},
        "subject": subject,
        "authoredOn": _d(prescription.issued_on),
        "requester": doc.practitioner(prescription.practitioner),
        "dosageInstruction": [{"text": prescription.dose}],
        "dispenseRequest": {
            "validityPeriod": {"start": _d(prescription.issued_on), "end": _d(prescription.valid_until)}
        },
    }


def _immunization(doc: _Document, shot: Immunization, patient: dict) -> dict:
    resource: dict = {
        "resourceType": "Immunization",
        "meta": {"profile": [IPS + "Immunization-uv-ips"]},
        "status": "completed",
        "vaccineCode": {"text": shot.vaccine},
        "patient": patient,
        "occurrenceDateTime": _d(shot.given_on),
        "primarySource": bool(shot.confirmed),
    }
    if shot.series:
        resource["lotNumber"] = shot.series
    performers = []
    if shot.practitioner is not None:
        performers.append({"actor": doc.practitioner(shot.practitioner)})
    if shot.organisation is not None:
        performers.append({"actor": doc.organisation(shot.organisation)})
    if performers:
        resource["performer"] = performers
    dose = shot.dose_label or (str(shot.dose_number) if shot.dose_number else None)
    if dose:
        resource["protocolApplied"] = [{"targetDisease": [{"text": shot.target}], "doseNumberString": dose}]
    return resource


def _observation(doc: _Document, obs: Observation, report, subject: dict, locale: str) -> dict:
    test = catalog.TESTS.get(obs.loinc)
    resource: dict = {
        "resourceType": "Observation",
        "meta": {"profile": [IPS + "Observation-results-laboratory-uv-ips"]},
        "status": "final",
        "category": [
            _concept("laboratory", _code("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"))
        ],
        "code": _concept(test.name(locale) if test else obs.loinc, _code(LOINC, obs.loinc, test.en if test else None)),
        "subject": subject,
        "effectiveDateTime": _dt(obs.taken_at),
        "performer": [doc.organisation(report.organisation)],
    }
    if obs.value is not None:
        resource["valueQuantity"] = _quantity(obs.value, obs.unit)
    elif obs.value_text:
        resource["valueString"] = obs.value_text
    if obs.low is not None or obs.high is not None:
        limits = {}
        if obs.low is not None:
            limits["low"] = _quantity(obs.low, obs.unit)
        if obs.high is not None:
            limits["high"] = _quantity(obs.high, obs.unit)
        resource["referenceRange"] = [limits]
    if obs.flag in ("high", "low"):
        code, display = ("H", "High") if obs.flag == "high" else ("L", "Low")
        resource["interpretation"] = [_concept(flag_words(obs.flag), _code(INTERPRETATION, code, display))]
    return resource


def _report(doc: _Document, group: ResultGroup, subject: dict, locale: str) -> tuple[dict, list[list[object]]]:
    """A DiagnosticReport for the panel and its observations; the narrative rows they make."""
    report = group.report
    panel = catalog.PANELS.get(report.code)
    name = panel.name(locale) if panel else report.code
    results = []
    rows: list[list[object]] = []
    for obs in group.observations:
        results.append(doc.add(_observation(doc, obs, report, subject, locale)))
        rows.append(
            [
                _date_text(clock.local_date(report.taken_at)),
                catalog.TESTS[obs.loinc].name(locale) if obs.loinc in catalog.TESTS else obs.loinc,
                value_text(obs),
                range_text(obs),
                flag_words(obs.flag) if obs.flag else "",
            ]
        )
    resource: dict = {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [IPS + "DiagnosticReport-uv-ips"]},
        "status": "final",
        "code": _concept(name, _code(LOINC, report.code, panel.en if panel else None)),
        "subject": subject,
        "effectiveDateTime": _dt(report.taken_at),
        "performer": [doc.organisation(report.organisation)],
    }
    if report.kind == "lab":
        resource["category"] = [_concept("LAB", _code("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB"))]
    if results:
        resource["result"] = results
    if report.conclusion:
        resource["conclusion"] = report.conclusion
        rows.append([_date_text(clock.local_date(report.taken_at)), name, report.conclusion, "", ""])
    return resource, rows


def flag_words(flag: str | None) -> str:
    return {"high": _("above normal"), "low": _("below normal")}.get(flag or "", "")


def _number(value: float) -> str:
    return format_decimal(value)


def value_text(obs: Observation) -> str:
    if obs.value is not None:
        return f"{_number(obs.value)} {catalog.unit_label(obs.unit, str(get_locale() or 'ru'))}".strip()
    return obs.value_text or ""


def range_text(obs: Observation) -> str:
    if obs.low is not None and obs.high is not None:
        return f"{_number(obs.low)}–{_number(obs.high)}"
    if obs.low is not None:
        return f"≥ {_number(obs.low)}"
    if obs.high is not None:
        return f"≤ {_number(obs.high)}"
    return ""


def _date_text(day: date) -> str:
    return format_date(day, "short")


def _section(section: str, code: str, display: str, text: dict, entries: list[dict], empty_reason: str | None) -> dict:
    out = {
        "title": section_title(section),
        "code": {"coding": [_code(LOINC, code, display)]},
        "text": text,
    }
    if entries:
        out["entry"] = entries
    else:
        out["emptyReason"] = {"coding": [_code(EMPTY_REASON, empty_reason or "unavailable")]}
    return out


def _added_section(key: str, rows: list) -> dict:
    """A section a plugin adds (``RecordSection.export``): its rows as the narrative, coded by the
    portal's section key (no LOINC code is known for it) and without entries."""
    from portal.record.sections import LABELS

    title = str(LABELS[key])
    lines = [[row.label, row.value, _date_text(row.on) if row.on else ""] for row in rows]
    out = {
        "title": title,
        "code": {"coding": [_code(SECTION_KEYS, key)], "text": title},
        "text": narrative([_("Entry"), _("Value"), _("Date")], lines, _("No entries in the card.")),
    }
    if not lines:
        out["emptyReason"] = {"coding": [_code(EMPTY_REASON, "unavailable")]}
    return out


def build_bundle(data: CardExport) -> dict:
    """The IPS document Bundle for ``data``: only what the viewer may see of this one patient."""
    locale = str(get_locale() or "ru")
    doc = _Document()
    subject = doc.add(_patient(data.patient))
    author = doc.add({"resourceType": "Device", "deviceName": [{"name": _("Medkarta"), "type": "user-friendly-name"}]})
    sections = []
    for section, code, display, required in IPS_SECTIONS:
        if not data.may(section):
            if required:
                text = narrative([], [], _("This section is not included in this export."))
                sections.append(_section(section, code, display, text, [], "withheld"))
            continue
        entries, headers, rows = [], [], []
        if section == "diagnoses":
            headers = [_("Code"), _("Diagnosis"), _("Since")]
            for item in data.diagnoses:
                entries.append(doc.add(_condition(doc, item, subject)))
                rows.append([item.code, item.title, _date_text(item.onset_on)])
        elif section == "allergies":
            headers = [_("Substance"), _("Reaction"), _("Severity")]
            for item in data.allergies:
                entries.append(doc.add(_allergy(doc, item, subject)))
                rows.append([item.substance, item.reaction or "", severity_words(item.severity)])
        elif section == "prescriptions":
            headers = [_("Medicine"), _("Dose"), _("Valid until")]
            for item in data.prescriptions:
                entries.append(doc.add(_medication(doc, item, subject)))
                rows.append([f"{item.drug}, {item.form}", item.dose, _date_text(item.valid_until)])
        elif section == "vaccinations":
            headers = [_("Date"), _("Vaccine"), _("Dose")]
            for item in data.vaccinations:
                entries.append(doc.add(_immunization(doc, item, subject)))
                rows.append([_date_text(item.given_on), item.vaccine, item.dose_label or item.dose_number or ""])
        elif section == "results":
            headers = [_("Date"), _("Test"), _("Result"), _("Reference range"), _("Flag")]
            for group in data.results:
                report, report_rows = _report(doc, group, subject, locale)
                entries.append(doc.add(report))
                rows.extend(report_rows)
        text = narrative(headers, rows, _("No entries in the card."))
        sections.append(_section(section, code, display, text, entries, "unavailable"))
    sections += [_added_section(key, rows) for key, rows in data.added.items()]

    moment = _dt(data.generated_at)
    title = _("Patient summary: %(name)s", name=data.patient.full_name)
    composition = {
        "resourceType": "Composition",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [IPS + "Composition-uv-ips"]},
        "language": locale,
        "status": "final",
        "type": {"coding": [_code(LOINC, "60591-5", "Patient summary Document")]},
        "subject": subject,
        "date": moment,
        "author": [author],
        "title": title,
        "section": sections,
    }
    entries = [{"fullUrl": f"urn:uuid:{composition['id']}", "resource": composition}, *doc.entries]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [IPS + "Bundle-uv-ips"]},
        "language": locale,
        "identifier": {"system": URI, "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": moment,
        "entry": entries,
    }


def severity_words(severity: str) -> str:
    return {"mild": _("mild"), "moderate": _("moderate"), "severe": _("severe")}.get(severity, severity)
