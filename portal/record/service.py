"""The card: what a viewer may see of it. Every read goes through the policy and is audited in
the same transaction as the read.

A card page calls ``open_section`` once: it decides (404 when refused), audits, works out the
sections this viewer may open and names the card for the page banner («Карта: Иванова Мария,
9 лет»).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import g
from flask_babel import ngettext

from portal.access import policy
from portal.auth.models import Account
from portal.record.models import Patient


@dataclass(frozen=True)
class CardContext:
    patient: Patient
    decision: policy.Decision
    age: int
    sections: tuple[str, ...]  # the sections this viewer may open

    @property
    def basis(self) -> str:
        return self.decision.basis

    @property
    def short_name(self) -> str:
        return f"{self.patient.surname} {self.patient.name}"

    @property
    def label(self) -> str:
        """«Иванова Мария, 9 лет»: who the card belongs to, as every card page names it."""
        years = ngettext("%(num)s year", "%(num)s years", self.age)
        return f"{self.short_name}, {years}"

    def may(self, section: str) -> bool:
        return section in self.sections


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def open_section(
    account: Account,
    patient_id: int,
    section: str,
    action: str = "read",
    object_type: str | None = None,
    object_id: object = None,
) -> CardContext:
    """Decide and audit one access to ``section`` of a card, in the caller's write transaction.
    Raises AccessDenied (answered 404) when refused. The result is also kept in ``g.card`` so
    the layout names the card on the page."""
    decision, patient = policy.open_card(account, action, patient_id, section, object_type, object_id)
    context = CardContext(
        patient,
        decision,
        age_on(patient.birth_date, policy.today()),
        policy.visible_sections(account, patient, decision),
    )
    g.card = context
    return context


# ---- entries and their neighbours -------------------------------------------------------------


def entry_title(section: str, entry) -> str:
    """How an entry is named in its page title and breadcrumbs."""
    from flask_babel import format_datetime

    from portal.formatting import format_date
    from portal.record import catalog

    if section == "visits":
        return f"{format_datetime(entry.started_at, 'short')}, {entry.practitioner.specialty}"
    if section == "diagnoses":
        return f"{entry.code} {entry.title}"
    if section == "results":
        return f"{catalog.panel_name(entry.code, _locale())}, {format_date(entry.taken_at, 'short')}"
    if section == "vaccinations":
        return f"{entry.vaccine}, {format_date(entry.given_on, 'short')}"
    if section == "prescriptions":
        return f"{entry.drug}, {entry.form}"
    if section == "checkups":
        from flask_babel import gettext as _

        return _("Check-up %(year)s, stage %(stage)s", year=entry.year, stage=entry.stage)
    if section == "referrals":
        return f"{entry.target}, {format_date(entry.issued_on, 'short')}"
    if section == "allergies":
        return entry.substance
    if section == "services":
        return f"{entry.name}, {format_date(entry.provided_on, 'short')}"
    return str(entry.id)


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "ru")


def related(account: Account, context: CardContext, section: str, entry) -> dict:
    """What an entry's page shows beside it: a visit's diagnoses, prescriptions, referrals and
    services; a report's observations; the entry's correction history. A fixed number of queries.

    A visit's parts belong to other sections: each is read only where this viewer may read its
    section, and audited as a read of that section (in the caller's write transaction), so a
    trusted person given the visits alone sees the visit, not its diagnoses."""
    from sqlalchemy import select

    from portal.database import db
    from portal.record import models as m

    found: dict = {"history": histories(section, [entry.id]).get(entry.id, [])}
    if section == "visits":
        for key, model in (
            ("diagnoses", m.Diagnosis),
            ("prescriptions", m.Prescription),
            ("referrals", m.Referral),
            ("services", m.ServiceRecord),
        ):
            if not context.may(key):
                found[key] = []
                continue
            policy.record_access(account, context.decision, "read", context.patient.id, key, "visit", entry.id)
            found[key] = list(db.session.scalars(select(model).where(model.visit_id == entry.id).order_by(model.id)))
    elif section == "results":
        observations = select(m.Observation).where(m.Observation.report_id == entry.id)
        found["observations"] = list(db.session.scalars(observations.order_by(m.Observation.id)))
    elif section == "vaccinations" and entry.document_id and context.may("documents"):
        found["document"] = db.session.get(m.Document, entry.document_id)
    return found


def histories(section: str, entry_ids: list[int]) -> dict[int, list]:
    """The visible correction history of these entries, oldest first, by entry id. One query."""
    from sqlalchemy import select

    from portal.database import db
    from portal.record.models import EntryRevision

    found: dict[int, list] = {}
    if not entry_ids:
        return found
    for row in db.session.scalars(
        select(EntryRevision)
        .where(EntryRevision.section == section, EntryRevision.entry_id.in_(entry_ids))
        .order_by(EntryRevision.id)
    ):
        found.setdefault(row.entry_id, []).append(row)
    return found


@dataclass(frozen=True)
class Trend:
    code: str
    name: str
    unit: str | None
    points: list  # Observation rows, oldest first
    low: float | None
    high: float | None

    @property
    def recent(self) -> list:
        return self.points[-4:]

    @property
    def flagged_recent(self) -> int:
        return sum(1 for p in self.recent if p.flag)

    @property
    def direction(self) -> str | None:
        """'high' or 'low' when the recent out-of-range results all lean one way."""
        flags = {p.flag for p in self.recent if p.flag}
        return flags.pop() if len(flags) == 1 else None


TREND_POINTS = 24


def trend(patient_id: int, code: str) -> Trend | None:
    """The last results of one test, oldest first: one query."""
    from sqlalchemy import select

    from portal.database import db
    from portal.record import catalog
    from portal.record.models import Observation

    rows = list(
        db.session.scalars(
            select(Observation)
            .where(Observation.patient_id == patient_id, Observation.loinc == code, Observation.value.is_not(None))
            .order_by(Observation.taken_at.desc(), Observation.id.desc())
            .limit(TREND_POINTS)
        )
    )
    if not rows:
        return None
    rows.reverse()
    last = rows[-1]
    return Trend(code, catalog.test_name(code, _locale()), last.unit, rows, last.low, last.high)


def insurance(patient_id: int) -> tuple[list, list, dict[int, list]]:
    """The card's OMS policies, its clinic attachments and the policies' correction history."""
    from sqlalchemy import select

    from portal.database import db
    from portal.record.models import ClinicAttachment, InsurancePolicy

    policies = list(
        db.session.scalars(
            select(InsurancePolicy)
            .where(InsurancePolicy.patient_id == patient_id)
            .order_by(InsurancePolicy.valid_from.desc(), InsurancePolicy.id.desc())
        )
    )
    attachments = list(
        db.session.scalars(
            select(ClinicAttachment)
            .where(ClinicAttachment.patient_id == patient_id)
            .order_by(ClinicAttachment.since.desc(), ClinicAttachment.id.desc())
        )
    )
    return policies, attachments, histories("insurance", [p.id for p in policies])


def may_add(account: Account, context: CardContext, section: str) -> bool:
    return policy.decide(account, "add", context.patient, section).allowed


# The entries a viewer can take away as a PDF of their own (export.service.ENTRY_SECTIONS).
DOWNLOADABLE = ("prescriptions", "visits")


def may_download_entry(account: Account, context: CardContext, section: str) -> bool:
    """Whether the entry's page offers its PDF: the policy lets this viewer export the section."""
    if section not in DOWNLOADABLE:
        return False
    return section in policy.visible_sections(account, context.patient, context.decision, action="export")


def may_send_to_pharmacy(account: Account, context: CardContext) -> bool:
    """The patient and their guardian send a prescription to a pharmacy; a trusted person only
    when the grant lets them add to the prescriptions."""
    if context.basis in policy.OWNER_BASES:
        return True
    return context.basis == "trusted" and may_add(account, context, "prescriptions")


def pharmacy_choices() -> list:
    from sqlalchemy import select

    from portal.database import db
    from portal.directory.models import Organisation
    from portal.forms import choices

    rows = db.session.execute(
        select(Organisation.id, Organisation.name, Organisation.address)
        .where(Organisation.kind == "pharmacy")
        .order_by(Organisation.name, Organisation.id)
    )
    return choices([(str(i), f"{name}, {address}") for i, name, address in rows])


def send_to_pharmacy(account: Account, prescription, pharmacy_id: int) -> None:
    """Record that the prescription went to this pharmacy; audited as an addition to the card."""
    from datetime import UTC, datetime

    from portal.audit import service as audit

    prescription.pharmacy_id = pharmacy_id
    prescription.sent_at = datetime.now(UTC)
    prescription.pharmacy_status = "sent"
    audit.record(
        "prescription.sent",
        actor_id=account.id,
        actor_role=g.card.decision.basis,
        patient_id=prescription.patient_id,
        section="prescriptions",
        object_type="prescription",
        object_id=prescription.id,
        reason=f"pharmacy {pharmacy_id}",
    )


@dataclass(frozen=True)
class Chart:
    """Coordinates of an inline SVG line chart: the points and the reference band."""

    width: int
    height: int
    points: list[tuple[float, float]]
    band: tuple[float, float] | None  # y of the range's top and bottom edges
    y_labels: list[tuple[float, str]]


def chart_of(trend: Trend, width: int = 640, height: int = 220, pad: int = 36) -> Chart:
    from flask_babel import format_decimal

    values = [p.value for p in trend.points]
    bounds = [v for v in (trend.low, trend.high) if v is not None]
    top, bottom = max(values + bounds), min(values + bounds)
    if top == bottom:
        top, bottom = top + 1, bottom - 1
    margin = (top - bottom) * 0.1
    top, bottom = top + margin, bottom - margin

    def y(value: float) -> float:
        return round(pad / 2 + (top - value) / (top - bottom) * (height - pad), 1)

    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(round(pad + i * step, 1), y(v)) for i, v in enumerate(values)]
    band = None
    if bounds:
        band = (y(trend.high if trend.high is not None else top), y(trend.low if trend.low is not None else bottom))
    labels = [(y(v), format_decimal(v)) for v in sorted(set(bounds))] or [
        (y(max(values)), format_decimal(max(values))),
        (y(min(values)), format_decimal(min(values))),
    ]
    return Chart(width, height, points, band, labels)
