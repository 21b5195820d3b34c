"""Reading and writing the card for plugins, through the policy and the record's intake.

Every read here goes the way a core card page goes: ``service.open_section`` decides (the policy's
"read" on the section, a plugin's deny rules included) and audits the access (``card.read``, with
the basis, in the same transaction as the read); a refusal raises the core's AccessDenied, which
the portal answers with its 404 page and audits as a denial. The queries are the core's own
(``record.listing``, ``record.service``). What a plugin gets back is frozen data classes, never
ORM rows, so it can neither change the record by accident nor reach a table through a relation.

Writes call the record's intake (``record.intake``), the same functions the clinicians' workspace
and the FHIR API call: the policy's "write", the audit event and the message to the card's
holders are theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from flask import abort, g
from flask_babel import get_locale

from portal import clock
from portal.audit.service import audited_read
from portal.plugin_api.personal import _reader, _writing
from portal.record import catalog, intake, listing, service
from portal.record.intake import Measured, NewDiagnosis

__all__ = [
    "CARD_SECTIONS",
    "DiagnosisEntry",
    "Measured",
    "MeasurementPoint",
    "MeasurementSeries",
    "NewDiagnosis",
    "ObservationValue",
    "PatientSummary",
    "PrescriptionEntry",
    "ResultEntry",
    "ResultReport",
    "SectionPage",
    "VaccinationEntry",
    "VisitEntry",
    "VisitProtocol",
    "card_entry",
    "card_section",
    "measurements",
    "patient_summary",
    "write_measurements",
    "write_visit_conclusion",
]

# What ``card_section`` lists; "measurements" are the results of the vital-signs panel, read
# under the policy's "results".
CARD_SECTIONS = ("visits", "diagnoses", "results", "vaccinations", "prescriptions", "measurements")
POLICY_SECTION = {"measurements": "results"}
MAX_PAGE = 100
OPENED = "plugin_api.opened"


@dataclass(frozen=True)
class PatientSummary:
    id: int
    full_name: str  # «Смирнова Елена Викторовна»
    short_name: str  # «Смирнова Елена», as card pages name the card
    birth_date: date
    age: int  # full years today, in the portal's time zone
    basis: str  # why this reader sees the card: self, guardian, trusted, clinician, emergency
    sections: tuple[str, ...]  # the sections this reader may open


@dataclass(frozen=True)
class VisitEntry:
    id: int
    started_at: datetime
    kind: str  # clinic, home, telemedicine, inpatient
    organisation: str
    doctor: str  # «Соколов Д. А.»
    specialty: str


@dataclass(frozen=True)
class VisitProtocol(VisitEntry):
    """A visit with its examination report (``card_entry``)."""

    complaints: str | None
    history: str | None
    examination: str | None
    conclusion: str | None
    recommendations: str | None


@dataclass(frozen=True)
class DiagnosisEntry:
    id: int
    code: str  # ICD-10
    title: str
    onset_on: date
    status: str  # active, resolved
    resolved_on: date | None
    kind: str  # main, concomitant, complication
    verification: str | None  # preliminary, final
    doctor: str


@dataclass(frozen=True)
class ResultEntry:
    id: int
    code: str  # LOINC panel or study
    name: str  # in the reader's language
    kind: str  # lab, instrumental, vitals
    taken_at: datetime
    flagged: int  # how many values are out of the reference range
    conclusion: str | None
    organisation: str


@dataclass(frozen=True)
class ObservationValue:
    code: str  # LOINC
    name: str
    value: float | None
    value_text: str | None
    unit: str | None  # UCUM
    low: float | None
    high: float | None
    flag: str | None  # low, high, or None within range


@dataclass(frozen=True)
class ResultReport(ResultEntry):
    """A result with its values (``card_entry``)."""

    observations: tuple[ObservationValue, ...]


@dataclass(frozen=True)
class VaccinationEntry:
    id: int
    vaccine: str
    target: str  # the national calendar's item: HepB, MMR, DTP, ...
    given_on: date
    dose_label: str | None  # V1, V2, R1
    confirmed: bool  # False: added by the citizen, not yet confirmed by a clinic
    organisation: str | None


@dataclass(frozen=True)
class PrescriptionEntry:
    id: int
    number: str
    drug: str
    form: str
    dose: str
    quantity: str
    issued_on: date
    valid_until: date
    preferential: bool
    state: str  # active, expired, blocked, cancelled
    doctor: str


@dataclass(frozen=True)
class SectionPage:
    """One page of a section, newest first; ``next_after`` is the ``after`` of the next page."""

    entries: tuple
    next_after: str | None


@dataclass(frozen=True)
class MeasurementPoint:
    taken_at: datetime
    value: float
    flag: str | None


@dataclass(frozen=True)
class MeasurementSeries:
    """The last values of one test or measurement (LOINC ``code``), oldest first."""

    code: str
    name: str
    unit: str | None
    low: float | None
    high: float | None
    points: tuple[MeasurementPoint, ...]


# -- opening the card ------------------------------------------------------------------------------


def open_for_plugin(patient_id: int, section: str, object_type: str | None = None, object_id: object = None):
    """Decide and audit one read of ``section``, as a core page does (``service.open_section``),
    once per request for the same section and object: a guard and the view's reads make one event.
    AccessDenied (404, audited as a denial) when the policy refuses."""
    opened = g.setdefault(OPENED, {})
    key = (patient_id, section, object_type, None if object_id is None else str(object_id))
    with audited_read():
        if key not in opened:
            opened[key] = service.open_section(_reader(), patient_id, section, "read", object_type, object_id)
    g.card = opened[key]
    return opened[key]


def _locale() -> str:
    return str(get_locale() or "ru")


def patient_summary(patient_id: int) -> PatientSummary:
    """Who the card belongs to, as the card's summary shows them."""
    context = open_for_plugin(patient_id, "summary")
    patient = context.patient
    return PatientSummary(
        patient.id,
        patient.full_name,
        context.short_name,
        patient.birth_date,
        context.age,
        context.basis,
        tuple(context.sections),
    )


# -- reading sections ------------------------------------------------------------------------------


def _visit(v) -> VisitEntry:
    return VisitEntry(
        v.id, v.started_at, v.kind, v.organisation.name, v.practitioner.short_name, v.practitioner.specialty
    )


def _diagnosis(d) -> DiagnosisEntry:
    return DiagnosisEntry(
        d.id, d.code, d.title, d.onset_on, d.status, d.resolved_on, d.kind, d.verification, d.practitioner.short_name
    )


def _result(r, organisation: str) -> ResultEntry:
    name = catalog.panel_name(r.code, _locale())
    return ResultEntry(r.id, r.code, name, r.kind, r.taken_at, r.flagged, r.conclusion, organisation)


def _vaccination(v) -> VaccinationEntry:
    organisation = v.organisation.name if v.organisation is not None else None
    return VaccinationEntry(v.id, v.vaccine, v.target, v.given_on, v.dose_label, v.confirmed, organisation)


def _prescription(p) -> PrescriptionEntry:
    return PrescriptionEntry(
        p.id,
        p.number,
        p.drug,
        p.form,
        p.dose,
        p.quantity,
        p.issued_on,
        p.valid_until,
        p.preferential,
        listing.prescription_state(p),
        p.practitioner.short_name,
    )


def _listed(section: str, entry) -> object:
    """An entry of a section's list as a plugin gets it (results are rows of the listed columns)."""
    if section == "visits":
        return _visit(entry)
    if section == "diagnoses":
        return _diagnosis(entry)
    if section in ("results", "measurements"):
        return _result(entry, entry.organisation_name)
    if section == "vaccinations":
        return _vaccination(entry)
    return _prescription(entry)


def card_section(patient_id: int, section: str, *, after: str | None = None, limit: int = 20) -> SectionPage:
    """One page of a section of the card (``CARD_SECTIONS``), newest first, with the core's list
    query. A visit's report and a result's values are in ``card_entry``."""
    if section not in CARD_SECTIONS:
        raise ValueError(f"plugins read {', '.join(CARD_SECTIONS)}, not {section!r}")
    spec = listing.SPECS[POLICY_SECTION.get(section, section)]
    filters = listing.Filters(type="vitals" if section == "measurements" else None, after=after or None)
    with audited_read():
        open_for_plugin(patient_id, spec.key)
        page = listing.page_of(spec, patient_id, filters, size=max(1, min(limit, MAX_PAGE)))
        entries = tuple(_listed(section, entry) for entry in page.entries)
    return SectionPage(entries, page.next_after)


def card_entry(patient_id: int, section: str, entry_id: int):
    """One entry of the card with its details, as the core's entry page reads it (a visit's
    protocol, a result's values); 404 when the card holds no such entry."""
    if section not in CARD_SECTIONS or section == "measurements":
        raise ValueError(f"plugins open entries of {', '.join(CARD_SECTIONS[:-1])}, not {section!r}")
    spec = listing.SPECS[section]
    with audited_read():
        context = open_for_plugin(patient_id, section, object_type=section, object_id=entry_id)
        found = listing.entry_of(spec, patient_id, entry_id)
        if found is None:
            abort(404)
        if section == "visits":
            return VisitProtocol(
                *_fields(_visit(found)),
                found.complaints,
                found.history,
                found.examination,
                found.conclusion,
                found.recommendations,
            )
        if section == "results":
            observations = service.related(_reader(), context, section, found)["observations"]
            return ResultReport(*_fields(_result(found, found.organisation.name)), _observations(observations))
        return _listed(section, found)


def _fields(entry) -> tuple:
    from dataclasses import astuple

    return astuple(entry)


def _observations(rows: Iterable) -> tuple[ObservationValue, ...]:
    locale = _locale()
    return tuple(
        ObservationValue(
            o.loinc, catalog.test_name(o.loinc, locale), o.value, o.value_text, o.unit, o.low, o.high, o.flag
        )
        for o in rows
    )


def measurements(patient_id: int, code: str) -> MeasurementSeries | None:
    """The last values of one test or vital sign (a LOINC code: ``"8480-6"`` systolic blood
    pressure), oldest first, as the core's trend page reads them; None when the card has none.
    Audited as a read of the results."""
    with audited_read():
        open_for_plugin(patient_id, "results", object_type="trend", object_id=code)
        found = service.trend(patient_id, code)
        if found is None:
            return None
        points = tuple(MeasurementPoint(p.taken_at, p.value, p.flag) for p in found.points)
    return MeasurementSeries(found.code, found.name, found.unit, found.low, found.high, points)


# -- writing through the intake --------------------------------------------------------------------


def write_measurements(patient_id: int, values: Iterable[Measured], *, taken_at: datetime | None = None) -> ResultEntry:
    """Write vital signs (``Measured(loinc, value, unit, low, high)``) into the card as the
    vital-signs panel, by the signed-in clinician treating the patient (the policy's "write" on
    the results): flagged against their ranges, audited (``card.write``) and told to the card's
    holders by the channels they chose, exactly as the nurse's measurements are. AccessDenied (404,
    audited) for anyone else. Runs in the open write transaction, or in one of its own."""
    from portal.access import policy

    account = _reader()
    with _writing():
        decision, _patient = policy.require(account, "write", patient_id, "results")
        report = intake.write_measurements(account, decision, patient_id, taken_at or clock.now(), list(values))
        return _result(report, report.organisation.name)


def write_visit_conclusion(
    patient_id: int,
    *,
    conclusion: str,
    kind: str = "telemedicine",
    started_at: datetime | None = None,
    complaints: str | None = None,
    history: str | None = None,
    examination: str | None = None,
    recommendations: str | None = None,
    diagnoses: Iterable[NewDiagnosis] = (),
) -> VisitProtocol:
    """Write a visit's signed protocol (what a telemedicine consultation concludes) and its
    diagnoses into the card, by the signed-in doctor treating the patient (the policy's "write" on
    the visits, and on the diagnoses when there are any): audited and told to the card's holders as
    the core's protocols are. AccessDenied (404, audited) for anyone else."""
    account = _reader()
    with _writing():
        visit = intake.write_visit(
            account,
            patient_id,
            started_at=started_at or clock.now(),
            kind=kind,
            complaints=complaints,
            history=history,
            examination=examination,
            conclusion=conclusion,
            recommendations=recommendations,
            diagnoses=list(diagnoses),
        )
        return VisitProtocol(
            *_fields(_visit(visit)),
            visit.complaints,
            visit.history,
            visit.examination,
            visit.conclusion,
            visit.recommendations,
        )
