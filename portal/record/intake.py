"""The record's intake: test results, prescriptions, referrals and vaccinations a clinic writes into a card. One place
that decides (the policy's "write" on the section: a clinician treating the patient), audits,
flags values against their reference ranges and tells the card's holders, the patient and their
guardian, in the portal and by the channels they chose («Новый результат: ОАК, 2 показателя вне
нормы»). The clinicians' workspace and the FHIR API for integrators write through here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import url_for
from sqlalchemy import select

from portal import clock
from portal.access import policy
from portal.access.service import card_holders
from portal.database import db, write_transaction
from portal.notify import inbox
from portal.record import calendar, catalog
from portal.record.models import (
    Diagnosis,
    EntryRevision,
    Immunization,
    LabReport,
    Observation,
    Practitioner,
    Prescription,
    Referral,
    Visit,
)


class NotAPractitioner(LookupError):
    """The account has no practitioner record: the record names who wrote each entry."""


class AlreadyInCard(ValueError):
    """The entry is in the card already (a system sending the same results or prescription again)."""


@dataclass(frozen=True)
class Measured:
    """One value of a result as the laboratory sends it."""

    loinc: str
    value: float | None = None
    unit: str | None = None  # UCUM
    low: float | None = None
    high: float | None = None
    value_text: str | None = None  # a value in words («не обнаружено»)


def practitioner_of(account) -> Practitioner:
    practitioner = db.session.scalar(select(Practitioner).where(Practitioner.account_id == account.id))
    if practitioner is None:
        raise NotAPractitioner(account.id)
    return practitioner


def add_results(author, patient_id: int, code: str, taken_at: datetime, values: list[Measured], **more) -> LabReport:
    """``write_results`` in a write transaction of its own."""
    with write_transaction():
        return write_results(author, patient_id, code, taken_at, values, **more)


def write_results(
    author,
    patient_id: int,
    code: str,
    taken_at: datetime,
    values: list[Measured],
    *,
    kind: str | None = None,
    conclusion: str | None = None,
    visit_id: int | None = None,
    amended: bool = False,
) -> LabReport:
    """Write a panel of results (a LOINC panel or a single test) in the caller's write transaction
    and tell the card's holders how many values are out of range. AccessDenied (404) unless the
    author may write results. When the card holds this panel taken at that moment already, an
    ``amended`` one corrects its values (the old ones stay in the entry's history); otherwise
    AlreadyInCard."""
    decision, _patient = policy.require(author, "write", patient_id, "results")
    practitioner = practitioner_of(author)
    existing = db.session.scalar(
        select(LabReport).where(
            LabReport.patient_id == patient_id, LabReport.code == code, LabReport.taken_at == taken_at
        )
    )
    if existing is not None and not amended:
        raise AlreadyInCard(f"the results {code} of {taken_at.isoformat()} are in the card already")
    if existing is not None:
        # Only the organisation that wrote the results corrects them, through a doctor entitled
        # to write there: another clinic's amended report is refused (404, audited).
        decision = policy.require_writer_of(author, "write", patient_id, "results", existing.organisation_id)
        return _amend(author, decision, existing, values, conclusion)
    return _new_report(author, decision, practitioner, patient_id, code, taken_at, values, kind, conclusion, visit_id)


def write_measurements(author, decision: policy.Decision, patient_id: int, taken_at: datetime, values: list[Measured]):
    """Vital signs a nurse measured at an appointment (``catalog.VITALS_PANEL``), in the caller's
    write transaction, under ``decision`` (``policy.decide_measurement``'s, checked by the caller):
    written, flagged, audited and told to the card's holders as results are."""
    if not decision.allowed:
        raise policy.AccessDenied(decision, author.id, patient_id, "write", "results")
    practitioner = practitioner_of(author)
    return _new_report(
        author, decision, practitioner, patient_id, catalog.VITALS_PANEL, taken_at, values, None, None, None
    )


def _new_report(author, decision, practitioner, patient_id, code, taken_at, values, kind, conclusion, visit_id):
    """A new report of ``values``, flagged, audited (``card.write``) and told to the holders."""
    panel = catalog.PANELS.get(code)
    report = LabReport(
        patient_id=patient_id,
        code=code,
        kind=kind or (panel.kind if panel else "lab"),
        taken_at=taken_at,
        organisation_id=decision.organisation_id or practitioner.organisation_id,
        practitioner_id=practitioner.id,
        visit_id=visit_id,
        conclusion=conclusion,
        flagged=0,
    )
    db.session.add(report)
    db.session.flush()
    for measured in values:
        report.flagged += _observe(report, measured).flag is not None
    policy.record_access(author, decision, "write", patient_id, "results", "lab_report", report.id)
    _tell_result(report)
    return report


def _observe(report: LabReport, measured: Measured, observation: Observation | None = None) -> Observation:
    """A new observation of the report (or ``observation`` corrected) holding ``measured``,
    flagged against its range."""
    if observation is None:
        observation = Observation(patient_id=report.patient_id, report_id=report.id, loinc=measured.loinc)
        observation.taken_at = report.taken_at
        db.session.add(observation)
    observation.value, observation.value_text, observation.unit = measured.value, measured.value_text, measured.unit
    observation.low, observation.high = measured.low, measured.high
    observation.flag = catalog.flag(measured.value, measured.low, measured.high)
    return observation


def _tell_result(report: LabReport, amended: bool = False) -> None:
    url = url_for("record.entry", patient_id=report.patient_id, section="results", entry_id=report.id)
    params = {
        "title": catalog.panel_name(report.code, "ru"),
        "title_en": catalog.panel_name(report.code, "en"),
        "out_of_range": report.flagged,
        "amended": amended,
    }
    for account_id in card_holders(report.patient_id):
        inbox.post(account_id, "result_new", patient_id=report.patient_id, params=params, url=url)


def value_text(value: float | None, text: str | None, unit: str | None) -> str | None:
    """A value as the history keeps it: «171 g/L», «не обнаружено»."""
    if value is None:
        return text
    return f"{value:g} {unit}".strip() if unit else f"{value:g}"


def _amend(author, decision: policy.Decision, report: LabReport, values: list[Measured], conclusion) -> LabReport:
    """The laboratory's amended results: each changed value is corrected in place and its old
    value kept in the entry's history («Изменения»); values it adds are added."""
    observations = {
        o.loinc: o for o in db.session.scalars(select(Observation).where(Observation.report_id == report.id))
    }
    moment = datetime.now(UTC)
    changed = 0
    for measured in values:
        current = observations.get(measured.loinc)
        new = (measured.value, measured.value_text, measured.unit, measured.low, measured.high)
        if current is not None and (current.value, current.value_text, current.unit, current.low, current.high) == new:
            continue
        old = value_text(current.value, current.value_text, current.unit) if current is not None else None
        observations[measured.loinc] = corrected = _observe(report, measured, current)
        corrected.updated_at = moment
        db.session.add(
            EntryRevision(
                patient_id=report.patient_id,
                section="results",
                entry_id=report.id,
                field=f"value:{measured.loinc}",
                old_value=old,
                new_value=value_text(measured.value, measured.value_text, measured.unit),
                reason="Исправлено лабораторией",  # the record's free text is Russian, as clinics write it
                changed_by_id=author.id,
                changed_at=moment,
            )
        )
        changed += 1
    if not changed:
        raise AlreadyInCard(f"the results {report.code} of {report.taken_at.isoformat()} are in the card already")
    report.flagged = sum(1 for o in observations.values() if o.flag)
    report.conclusion = conclusion or report.conclusion
    report.updated_at = moment
    policy.record_access(author, decision, "write", report.patient_id, "results", "lab_report", report.id)
    _tell_result(report, amended=True)
    return report


def issue_prescription(author, patient_id: int, **terms) -> Prescription:
    """``write_prescription`` in a write transaction of its own."""
    with write_transaction():
        return write_prescription(author, patient_id, **terms)


def write_prescription(
    author,
    patient_id: int,
    *,
    number: str,
    drug: str,
    form: str,
    dose: str,
    quantity: str,
    valid_until: date,
    issued_on: date | None = None,
    preferential: bool = False,
    visit_id: int | None = None,
    appointment_id: int | None = None,
    frequency: str | None = None,
    course_start: date | None = None,
    course_end: date | None = None,
) -> Prescription:
    """Write a prescription in the caller's write transaction and tell the card's holders its
    number and how long it is valid. AccessDenied (404) unless the author may write
    prescriptions; AlreadyInCard when the card holds a prescription with this number."""
    decision, _patient = policy.require(author, "write", patient_id, "prescriptions")
    practitioner = practitioner_of(author)
    issued_on = issued_on or policy.today()
    if valid_until < issued_on:
        raise ValueError("a prescription is valid from the day it is issued")
    if course_start and course_end and course_end < course_start:
        raise ValueError("a course ends on or after the day it starts")
    if db.session.scalar(
        select(Prescription.id).where(Prescription.patient_id == patient_id, Prescription.number == number)
    ):
        raise AlreadyInCard(f"the prescription {number} is in the card already")
    prescription = Prescription(
        patient_id=patient_id,
        number=number,
        issued_on=issued_on,
        drug=drug,
        form=form,
        dose=dose,
        quantity=quantity,
        valid_until=valid_until,
        preferential=preferential,
        visit_id=visit_id,
        appointment_id=appointment_id,
        frequency=frequency,
        course_start=course_start,
        course_end=course_end,
        organisation_id=decision.organisation_id or practitioner.organisation_id,
        practitioner_id=practitioner.id,
    )
    db.session.add(prescription)
    db.session.flush()
    policy.record_access(author, decision, "write", patient_id, "prescriptions", "prescription", prescription.id)
    url = url_for("record.entry", patient_id=patient_id, section="prescriptions", entry_id=prescription.id)
    params = {"drug": drug, "number": number, "valid_until": valid_until.isoformat()}
    for account_id in card_holders(patient_id):
        inbox.post(account_id, "prescription_issued", patient_id=patient_id, params=params, url=url)
    return prescription


REFERRAL_KINDS = ("consultation", "test", "study", "hospital")


def write_referral(
    author,
    patient_id: int,
    *,
    number: str,
    kind: str,
    target: str,
    valid_until: date,
    reason: str | None = None,
    diagnosis_code: str | None = None,
    issued_on: date | None = None,
    visit_id: int | None = None,
    appointment_id: int | None = None,
) -> Referral:
    """Write a referral (to a specialist's consultation, a test, a study) in the caller's write
    transaction and tell the card's holders what it is for and until when it is valid. A
    consultation's ``target`` names the specialist as the directory does («Консультация:
    кардиолог»), so booking finds the specialty it opens. AccessDenied (404) unless the author may
    write referrals; AlreadyInCard when the card holds a referral with this number."""
    decision, _patient = policy.require(author, "write", patient_id, "referrals")
    practitioner = practitioner_of(author)
    issued_on = issued_on or policy.today()
    if kind not in REFERRAL_KINDS:
        raise ValueError(f"unknown referral kind {kind!r}")
    if valid_until < issued_on:
        raise ValueError("a referral is valid from the day it is issued")
    if db.session.scalar(select(Referral.id).where(Referral.patient_id == patient_id, Referral.number == number)):
        raise AlreadyInCard(f"the referral {number} is in the card already")
    referral = Referral(
        patient_id=patient_id,
        number=number,
        issued_on=issued_on,
        kind=kind,
        target=target,
        reason=reason or None,
        diagnosis_code=diagnosis_code or None,
        valid_until=valid_until,
        status="issued",
        visit_id=visit_id,
        appointment_id=appointment_id,
        organisation_id=decision.organisation_id or practitioner.organisation_id,
        practitioner_id=practitioner.id,
    )
    db.session.add(referral)
    db.session.flush()
    policy.record_access(author, decision, "write", patient_id, "referrals", "referral", referral.id)
    url = url_for("record.entry", patient_id=patient_id, section="referrals", entry_id=referral.id)
    params = {"kind": "referral", "target": target, "number": number, "valid_until": valid_until.isoformat()}
    for account_id in card_holders(patient_id):
        inbox.post(account_id, "prescription_issued", patient_id=patient_id, params=params, url=url)
    return referral


def calendar_items() -> tuple[calendar.CalendarItem, ...]:
    """The doses of the national calendar a clinician records, in the calendar's order."""
    return (*calendar.CALENDAR, calendar.TD, calendar.FLU)


def dose_number(item: calendar.CalendarItem) -> int:
    """The dose's place among its disease's doses in the calendar (V1 1, V2 2, R1 after them)."""
    same = [i.code for i in calendar_items() if i.target == item.target]
    return same.index(item.code) + 1


def write_vaccination(
    author,
    patient_id: int,
    *,
    item: str,
    vaccine: str,
    given_on: date,
    series: str | None = None,
    reactions: str | None = None,
    appointment_id: int | None = None,
    decision: policy.Decision | None = None,
) -> Immunization:
    """Write a vaccination given (a dose of the national calendar, ``item`` its code) in the
    caller's write transaction, confirmed, and tell the card's holders. A doctor writes under the
    policy's "write" on vaccinations; a nurse under ``decision`` (``policy.decide_measurement``'s,
    checked by the caller, as measurements are). AccessDenied (404) otherwise; NotAPractitioner
    without a practitioner record; AlreadyInCard when the card holds this dose given that day."""
    if decision is None:
        decision, _patient = policy.require(author, "write", patient_id, "vaccinations")
    elif not decision.allowed:
        raise policy.AccessDenied(decision, author.id, patient_id, "write", "vaccinations")
    practitioner = practitioner_of(author)
    dose = {i.code: i for i in calendar_items()}.get(item)
    if dose is None:
        raise ValueError(f"no calendar item {item!r}")
    if given_on > policy.today():
        raise ValueError("a vaccination is recorded once it is given")
    if db.session.scalar(
        select(Immunization.id).where(
            Immunization.patient_id == patient_id,
            Immunization.target == dose.target,
            Immunization.dose_label == dose.dose_label,
            Immunization.given_on == given_on,
        )
    ):
        raise AlreadyInCard(f"the dose {item} of {given_on.isoformat()} is in the card already")
    entry = Immunization(
        patient_id=patient_id,
        vaccine=vaccine,
        target=dose.target,
        given_on=given_on,
        series=series or None,
        dose_number=dose_number(dose),
        dose_label=dose.dose_label,
        reactions=reactions or None,
        organisation_id=decision.organisation_id or practitioner.organisation_id,
        practitioner_id=practitioner.id,
        confirmed=True,
        appointment_id=appointment_id,
    )
    db.session.add(entry)
    db.session.flush()
    policy.record_access(author, decision, "write", patient_id, "vaccinations", "immunization", entry.id)
    url = url_for("record.entry", patient_id=patient_id, section="vaccinations", entry_id=entry.id)
    params = {
        "kind": "given",
        "vaccine": vaccine,
        "dose": dose.name("ru"),
        "dose_en": dose.name("en"),
        "given_on": given_on.isoformat(),
    }
    for account_id in card_holders(patient_id):
        inbox.post(account_id, "vaccination_due", patient_id=patient_id, params=params, url=url)
    return entry
@dataclass(frozen=True)
class NewDiagnosis:
    """One diagnosis of a visit's protocol: an ICD-10 code the book has, its title as the book
    writes it, the kind (main, complication, concomitant) and verification (preliminary, final)."""

    code: str
    title: str
    kind: str
    verification: str


def write_visit(
    author,
    patient_id: int,
    *,
    started_at: datetime,
    kind: str,
    complaints: str | None,
    history: str | None,
    examination: str | None,
    conclusion: str | None,
    recommendations: str | None,
    diagnoses: list[NewDiagnosis],
    appointment=None,
) -> Visit:
    """Write a visit's signed protocol and its diagnoses in the caller's write transaction and
    tell the card's holders; ``appointment`` (the one it was written at) then names the visit.
    AccessDenied (404) unless the author may write visits (and diagnoses, when there are any);
    AlreadyInCard when the appointment's visit is there already."""
    decision, _patient = policy.require(author, "write", patient_id, "visits")
    diagnoses_decision = policy.require(author, "write", patient_id, "diagnoses")[0] if diagnoses else None
    practitioner = practitioner_of(author)
    if appointment is not None and appointment.visit_id is not None:
        raise AlreadyInCard(f"the visit of appointment {appointment.id} is in the card already")
    organisation_id = decision.organisation_id or practitioner.organisation_id
    visit = Visit(
        patient_id=patient_id,
        started_at=started_at,
        kind=kind,
        organisation_id=organisation_id,
        practitioner_id=practitioner.id,
        complaints=complaints or None,
        history=history or None,
        examination=examination or None,
        conclusion=conclusion or None,
        recommendations=recommendations or None,
    )
    db.session.add(visit)
    db.session.flush()
    if appointment is not None:
        appointment.visit_id = visit.id
    written = [
        Diagnosis(
            patient_id=patient_id,
            code=d.code,
            title=d.title[:300],
            onset_on=clock.local_date(started_at),
            status="active",
            kind=d.kind,
            verification=d.verification,
            visit_id=visit.id,
            organisation_id=organisation_id,
            practitioner_id=practitioner.id,
        )
        for d in diagnoses
    ]
    db.session.add_all(written)
    db.session.flush()
    events = [policy.access_event(author, decision, "write", patient_id, "visits", "visit", visit.id)]
    events += [
        policy.access_event(author, diagnoses_decision, "write", patient_id, "diagnoses", "diagnosis", d.id)
        for d in written
    ]
    from portal.audit import service as audit

    audit.record_many(events)
    url = url_for("record.entry", patient_id=patient_id, section="visits", entry_id=visit.id)
    params = {
        "doctor": practitioner.short_name,
        "date": clock.local_date(started_at).isoformat(),
    }
    for account_id in card_holders(patient_id):
        inbox.post(account_id, "visit_protocol", patient_id=patient_id, params=params, url=url)
    return visit
