"""Export of the whole card: what one viewer may take away, as a PDF summary or a FHIR IPS Bundle.

An export holds only the sections the viewer may see (a trusted person: the shared ones), is
decided and audited once, and loads each section in one query (the entries' organisation and
practitioner come in the same query), however long the record is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from portal.access import policy
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.record.models import (
    Allergy,
    Checkup,
    ClinicAttachment,
    Diagnosis,
    Immunization,
    InsurancePolicy,
    LabReport,
    Observation,
    Patient,
    Prescription,
    Referral,
    ServiceRecord,
    Visit,
)
from portal.record.service import DOWNLOADABLE, CardContext, open_section

# The sections an export can hold, in the order the PDF shows them.
SECTIONS = (
    "diagnoses",
    "allergies",
    "prescriptions",
    "vaccinations",
    "results",
    "visits",
    "checkups",
    "referrals",
    "insurance",
)
# The FHIR document holds the IPS sections; visits and check-ups are in the PDF only.
FHIR_SECTIONS = ("diagnoses", "allergies", "prescriptions", "vaccinations", "results")
RECENT_REPORTS = 10
RECENT_VISITS = 10
RECENT_CHECKUPS = 5
FORMATS = {"pdf", "ips"}


@dataclass(frozen=True)
class ResultGroup:
    """A laboratory report (or instrumental study) and its observations."""

    report: LabReport
    observations: list[Observation]


@dataclass(frozen=True)
class Insurance:
    """The active OMS policies and the clinic the patient is attached to now."""

    policies: list[InsurancePolicy]
    attachment: ClinicAttachment | None


@dataclass
class CardExport:
    patient: Patient
    viewer: Account
    basis: str
    generated_at: datetime
    sections: tuple[str, ...]  # what this viewer may export, of SECTIONS
    diagnoses: list[Diagnosis] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    vaccinations: list[Immunization] = field(default_factory=list)
    results: list[ResultGroup] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    checkups: list[Checkup] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    insurance: Insurance | None = None
    # The sections plugins add (record_sections) with an export: their rows, by section key.
    added: dict[str, list] = field(default_factory=dict)

    def may(self, section: str) -> bool:
        return section in self.sections


def exportable(account: Account, card: CardContext) -> tuple[str, ...]:
    visible = policy.visible_sections(account, card.patient, card.decision, action="export")
    return tuple(s for s in SECTIONS if s in visible) + tuple(s for s in _exported_by_plugins() if s in visible)


def _exported_by_plugins() -> dict:
    """The sections plugins add that give rows to the export (``RecordSection.export``)."""
    from portal.record.plugin_sections import plugin_sections

    return {key: s for key, s in plugin_sections().items() if s.export is not None}


def preview(account: Account, patient_id: int) -> tuple[CardContext, tuple[str, ...]]:
    """The export page: 404 (audited) for anyone who may not export this card; otherwise the
    page's read is audited as a read, and the sections an export would hold are named."""
    with write_transaction():
        policy.require(account, "export", patient_id, "summary")
        card = open_section(account, patient_id, "summary")
        return card, exportable(account, card)


def may_export(account: Account, patient_id: int) -> None:
    """AccessDenied (answered 404 and audited) unless this account may export this card."""
    policy.require(account, "export", patient_id, "summary")


def export(account: Account, patient_id: int, kind: str) -> CardExport:
    """Decide, audit (once, as an export of ``kind``) and load the card for an export."""
    if kind not in FORMATS:
        raise ValueError(kind)
    with write_transaction():
        card = open_section(account, patient_id, "summary", action="export", object_type="export", object_id=kind)
        sections = exportable(account, card)
        if kind == "ips":
            sections = tuple(s for s in sections if s in FHIR_SECTIONS or s in _exported_by_plugins())
        return load(card.patient, account, card.basis, sections)


def load(patient: Patient, viewer: Account, basis: str, sections: tuple[str, ...]) -> CardExport:
    """The export's data, already decided: each section in one query. No audit here: the caller
    decided and audited (a request), or acts for a request that did (a PDF job)."""
    data = CardExport(patient, viewer, basis, datetime.now(UTC), sections)
    today = policy.today()
    added = _exported_by_plugins()
    for section in sections:
        if section not in added:
            setattr(data, section, LOADERS[section](patient.id, today))
            continue
        rows = _plugin_rows(added[section], patient, basis)
        if rows is not None:  # a plugin that failed: its section is left out, not shown empty
            data.added[section] = rows
    data.sections = tuple(s for s in sections if s not in added or s in data.added)
    return data


def _plugin_rows(section, patient: Patient, basis: str) -> list | None:
    """A plugin section's export rows for this card (the read is the export's, already audited)."""
    from flask_babel import get_locale

    from portal.plugin_api import CardView
    from portal.record.plugin_sections import rows_of

    view = CardView(
        patient.id, basis, str(get_locale() or "ru"), f"{patient.surname} {patient.name}", patient.birth_date
    )
    return rows_of(section, view, export=True)


def _all(query) -> list:
    return list(db.session.scalars(query))


def _diagnoses(patient_id: int, _today) -> list[Diagnosis]:
    return _all(
        select(Diagnosis)
        .where(Diagnosis.patient_id == patient_id, Diagnosis.status == "active")
        .order_by(Diagnosis.onset_on.desc(), Diagnosis.id.desc())
    )


def _allergies(patient_id: int, _today) -> list[Allergy]:
    return _all(
        select(Allergy)
        .where(Allergy.patient_id == patient_id, Allergy.status == "active")
        .order_by(Allergy.recorded_on.desc(), Allergy.id.desc())
    )


def _prescriptions(patient_id: int, today) -> list[Prescription]:
    """Active prescriptions: not cancelled and still valid."""
    return _all(
        select(Prescription)
        .where(
            Prescription.patient_id == patient_id,
            Prescription.cancelled_at.is_(None),
            Prescription.valid_until >= today,
        )
        .order_by(Prescription.issued_on.desc(), Prescription.id.desc())
    )


def _vaccinations(patient_id: int, _today) -> list[Immunization]:
    return _all(
        select(Immunization)
        .where(Immunization.patient_id == patient_id)
        .order_by(Immunization.given_on.desc(), Immunization.id.desc())
    )


def _results(patient_id: int, _today) -> list[ResultGroup]:
    """The latest reports with their observations, in one query."""
    latest = (
        select(LabReport.id)
        .where(LabReport.patient_id == patient_id)
        .order_by(LabReport.taken_at.desc(), LabReport.id.desc())
        .limit(RECENT_REPORTS)
    )
    rows = db.session.execute(
        select(LabReport, Observation)
        .outerjoin(Observation, (Observation.report_id == LabReport.id) & (Observation.patient_id == patient_id))
        .where(LabReport.patient_id == patient_id, LabReport.id.in_(latest.scalar_subquery()))
        .order_by(LabReport.taken_at.desc(), LabReport.id.desc(), Observation.id)
    ).all()
    groups: dict[int, ResultGroup] = {}
    for report, observation in rows:
        group = groups.setdefault(report.id, ResultGroup(report, []))
        if observation is not None:
            group.observations.append(observation)
    return list(groups.values())


def _visits(patient_id: int, _today) -> list[Visit]:
    return _all(
        select(Visit)
        .where(Visit.patient_id == patient_id)
        .order_by(Visit.started_at.desc(), Visit.id.desc())
        .limit(RECENT_VISITS)
    )


def _checkups(patient_id: int, _today) -> list[Checkup]:
    return _all(
        select(Checkup)
        .where(Checkup.patient_id == patient_id)
        .order_by(Checkup.started_on.desc(), Checkup.id.desc())
        .limit(RECENT_CHECKUPS)
    )


def _referrals(patient_id: int, today) -> list[Referral]:
    """Referrals still to be used: issued and valid."""
    return _all(
        select(Referral)
        .where(Referral.patient_id == patient_id, Referral.status == "issued", Referral.valid_until >= today)
        .order_by(Referral.issued_on.desc(), Referral.id.desc())
    )


def _insurance(patient_id: int, today) -> Insurance:
    policies = _all(
        select(InsurancePolicy)
        .where(InsurancePolicy.patient_id == patient_id, InsurancePolicy.status == "active")
        .order_by(InsurancePolicy.valid_from.desc(), InsurancePolicy.id.desc())
    )
    attached = _all(
        select(ClinicAttachment)
        .where(
            ClinicAttachment.patient_id == patient_id,
            ClinicAttachment.since <= today,
            (ClinicAttachment.until.is_(None)) | (ClinicAttachment.until >= today),
        )
        .order_by(ClinicAttachment.since.desc(), ClinicAttachment.id.desc())
        .limit(1)
    )
    return Insurance(policies, attached[0] if attached else None)


LOADERS = {
    "diagnoses": _diagnoses,
    "allergies": _allergies,
    "prescriptions": _prescriptions,
    "vaccinations": _vaccinations,
    "results": _results,
    "visits": _visits,
    "referrals": _referrals,
    "insurance": _insurance,
    "checkups": _checkups,
}


# ---- one entry as a document --------------------------------------------------------------------

# The entries that can be taken away on their own: a prescription to show at a pharmacy, and a
# visit's protocol (протокол осмотра) to take to another doctor.
ENTRY_SECTIONS = DOWNLOADABLE
VISIT_PARTS = ("diagnoses", "prescriptions", "referrals", "services")


@dataclass
class EntryExport:
    card: CardContext
    section: str
    entry: object
    generated_at: datetime
    # A visit's own orders, each only when the viewer may see that section.
    parts: dict[str, list] = field(default_factory=dict)


def export_entry(account: Account, patient_id: int, section: str, entry_id: int) -> EntryExport:
    """Decide and audit (as an export of this entry) one entry of a card as a document. A visit
    carries the diagnoses, prescriptions, referrals and services made at it only where the viewer
    may export those sections, each audited as what it is. AccessDenied (404) otherwise; LookupError
    when the card has no such entry."""
    from portal.record import listing

    if section not in ENTRY_SECTIONS:
        raise LookupError(section)
    with write_transaction():
        card = open_section(account, patient_id, section, action="export", object_type=section, object_id=entry_id)
        entry = listing.entry_of(listing.SPECS[section], patient_id, entry_id)
        if entry is None:
            raise LookupError(entry_id)
        data = EntryExport(card, section, entry, datetime.now(UTC))
        if section == "visits":
            allowed = set(policy.visible_sections(account, card.patient, card.decision, action="export"))
            for part in VISIT_PARTS:
                if part not in allowed:
                    continue
                policy.record_access(account, card.decision, "export", card.patient.id, part, "visits", entry_id)
                model = PART_MODELS[part]
                data.parts[part] = _all(select(model).where(model.visit_id == entry.id).order_by(model.id))
        return data


PART_MODELS = {"diagnoses": Diagnosis, "prescriptions": Prescription, "referrals": Referral, "services": ServiceRecord}


def prescription_qr_text(prescription: Prescription) -> str:
    """What a prescription's QR code holds: what a pharmacy needs to find it in the regional
    e-prescription service, and nothing about the patient's health."""
    return f"RX:{prescription.number};{prescription.issued_on.isoformat()};{prescription.valid_until.isoformat()}"
