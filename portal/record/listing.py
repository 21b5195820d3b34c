"""One way to list and open the entries of any section of the card.

A section is declared once (``SPECS``): its model, the date it is ordered by, and which filters
it offers. ``page_of`` returns one page of entries, newest first, paginated by key
(``after=<date>_<id>``), in one query with the organisation and practitioner joined in; the
filter choices (organisations and doctors present in this section of this card) take one query
each. So a list page costs the same number of queries whatever the size of the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, and_, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import defer, joinedload, lazyload

from portal import clock, paging
from portal.access.policy import today
from portal.appointments.models import Organisation
from portal.database import db
from portal.record import models as m

PAGE_SIZE = 20


@dataclass(frozen=True)
class Spec:
    key: str
    model: type
    date_attr: str  # the column entries are ordered and filtered by
    type_attr: str | None = None  # the column the "type" filter chooses on
    types: tuple[tuple[str, Any], ...] = ()  # (value, label) for the type filter
    organisation: bool = True  # offers the organisation filter
    doctor: bool = True  # offers the doctor filter
    extra: tuple[str, ...] = field(default=())  # other relationships to load with the entry
    # What the list's table shows besides the entry's own short columns: the related rows joined
    # in (the others are not loaded) and the long texts read (the others are left in the database).
    shows: tuple[str, ...] = ("organisation", "practitioner")

    @property
    def date_column(self):
        return getattr(self.model, self.date_attr)

    @property
    def is_datetime(self) -> bool:
        return isinstance(self.date_column.type, db.DateTime)


PRESCRIPTION_STATES = (
    ("active", _l("Active")),
    ("expired", _l("Expired")),
    ("blocked", _l("Expired more than 30 days ago")),
    ("cancelled", _l("Cancelled")),
)

SPECS: dict[str, Spec] = {
    spec.key: spec
    for spec in (
        Spec(
            "visits",
            m.Visit,
            "started_at",
            "kind",
            (
                ("clinic", _l("At the clinic")),
                ("home", _l("Home visit")),
                ("telemedicine", _l("Telemedicine")),
                ("inpatient", _l("Hospital stay")),
            ),
        ),
        Spec(
            "diagnoses",
            m.Diagnosis,
            "onset_on",
            "status",
            (("active", _l("Active")), ("resolved", _l("Resolved"))),
            shows=("practitioner",),
        ),
        Spec(
            "results",
            m.LabReport,
            "taken_at",
            "kind",
            (("lab", _l("Laboratory tests")), ("instrumental", _l("Instrumental studies"))),
            shows=("organisation", "conclusion"),
        ),
        Spec(
            "vaccinations",
            m.Immunization,
            "given_on",
            "confirmed",
            (("yes", _l("Confirmed by a clinic")), ("no", _l("Not confirmed"))),
            shows=("organisation",),
        ),
        Spec(
            "prescriptions",
            m.Prescription,
            "issued_on",
            "status",
            PRESCRIPTION_STATES,
            extra=("pharmacy",),
            shows=("practitioner",),
        ),
        Spec("checkups", m.Checkup, "started_on", shows=("organisation",)),
        Spec(
            "referrals",
            m.Referral,
            "issued_on",
            "kind",
            (
                ("consultation", _l("Consultation")),
                ("test", _l("Tests")),
                ("study", _l("Instrumental study")),
                ("hospital", _l("Hospital")),
            ),
            shows=("practitioner",),
        ),
        Spec(
            "allergies",
            m.Allergy,
            "recorded_on",
            "category",
            (("medication", _l("Medicines")), ("food", _l("Food")), ("environment", _l("Environment"))),
            shows=(),
        ),
        Spec(
            "services",
            m.ServiceRecord,
            "provided_on",
            "paid_by",
            (("oms", _l("Compulsory insurance (OMS)")), ("vmi", _l("Voluntary insurance")), ("paid", _l("Paid"))),
            shows=("organisation",),
        ),
    )
}


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    type: str | None = None
    organisation: int | None = None
    doctor: int | None = None
    after: str | None = None  # "<date>_<id>" of the last entry of the previous page

    @property
    def active(self) -> bool:
        return any((self.since, self.until, self.type, self.organisation, self.doctor))

    def query_args(self) -> dict[str, Any]:
        """The filters as URL arguments (for the next-page link), dates as the form shows them."""
        return {
            "since": self.since.strftime("%d.%m.%Y") if self.since else None,
            "until": self.until.strftime("%d.%m.%Y") if self.until else None,
            "type": self.type or None,
            "organisation": self.organisation or None,
            "doctor": self.doctor or None,
        }


@dataclass(frozen=True)
class EntryPage:
    entries: list
    next_after: str | None
    first_page: bool


def _bound(spec: Spec, day: date, end: bool):
    if spec.is_datetime:
        return clock.day_end(day) if end else clock.day_start(day)  # the day as the portal's zone counts it
    return day


def _status_clause(value: str):
    p = m.Prescription
    on = today()
    from datetime import timedelta

    if value == "cancelled":
        return p.cancelled_at.is_not(None)
    if value == "active":
        return and_(p.cancelled_at.is_(None), p.valid_until >= on)
    if value == "expired":
        return and_(p.cancelled_at.is_(None), p.valid_until < on, p.valid_until >= on - timedelta(days=30))
    return and_(p.cancelled_at.is_(None), p.valid_until < on - timedelta(days=30))


def parse_after(spec: Spec, after: str | None) -> tuple[Any, int] | None:
    """The page key as the section's date column compares it (the form has checked it parses)."""
    if not after:
        return None
    when, ident = paging.parse_dated(after)
    return (when if spec.is_datetime else when.date()), ident


def _list_options(spec: Spec) -> tuple:
    return _options_of(spec.key)


@cache
def _options_of(key: str) -> tuple:
    """Loader options for a section's list, worked out once per process from ``spec.shows``: the
    shown relationships joined in (a doctor without their organisation), the others and the long
    texts not shown left unloaded (read on access, which a list's table never does)."""
    spec = SPECS[key]
    mapper = sa_inspect(spec.model)
    options: list = []
    for relation in mapper.relationships:
        attribute = getattr(spec.model, relation.key)
        if relation.key not in spec.shows:
            options.append(lazyload(attribute))
        elif relation.mapper.class_ is m.Practitioner:
            options.append(joinedload(attribute).lazyload(m.Practitioner.organisation))
    for column in mapper.column_attrs:
        if isinstance(column.expression.type, Text) and column.key not in spec.shows:
            options.append(defer(getattr(spec.model, column.key)))
    return tuple(options)


def page_of(spec: Spec, patient_id: int, filters: Filters, size: int = PAGE_SIZE) -> EntryPage:
    model, column = spec.model, spec.date_column
    query = select(model).options(*_list_options(spec)).where(model.patient_id == patient_id)
    if filters.since:
        query = query.where(column >= _bound(spec, filters.since, False))
    if filters.until:
        query = query.where(column <= _bound(spec, filters.until, True))
    if filters.type and spec.type_attr:
        if spec.key == "prescriptions":
            query = query.where(_status_clause(filters.type))
        elif spec.key == "vaccinations":
            query = query.where(model.confirmed.is_(filters.type == "yes"))
        else:
            query = query.where(getattr(model, spec.type_attr) == filters.type)
    if filters.organisation and spec.organisation:
        query = query.where(model.organisation_id == filters.organisation)
    if filters.doctor and spec.doctor:
        query = query.where(model.practitioner_id == filters.doctor)
    key = parse_after(spec, filters.after)
    if key:
        query = query.where(or_(column < key[0], and_(column == key[0], model.id < key[1])))
    rows = list(db.session.scalars(query.order_by(column.desc(), model.id.desc()).limit(size + 1)).unique())
    next_after = None
    if len(rows) > size:
        last = rows[size - 1]
        next_after = f"{getattr(last, spec.date_attr).isoformat()}_{last.id}"
    return EntryPage(rows[:size], next_after, key is None)


def choices_of(spec: Spec, patient_id: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The organisations and doctors that appear in this section of this card (one query each)."""
    model = spec.model
    organisations: list[tuple[int, str]] = []
    doctors: list[tuple[int, str]] = []
    if spec.organisation:
        organisations = [
            tuple(row)
            for row in db.session.execute(
                select(Organisation.id, Organisation.name)
                .distinct()
                .join(model, model.organisation_id == Organisation.id)
                .where(model.patient_id == patient_id)
                .order_by(Organisation.name)
            )
        ]
    if spec.doctor:
        doctors = [
            (pid, f"{surname} {name[0]}.{(patronymic or ' ')[0]}. — {specialty}".replace(" .", ""))
            for pid, surname, name, patronymic, specialty in db.session.execute(
                select(
                    m.Practitioner.id,
                    m.Practitioner.surname,
                    m.Practitioner.name,
                    m.Practitioner.patronymic,
                    m.Practitioner.specialty,
                )
                .distinct()
                .join(model, model.practitioner_id == m.Practitioner.id)
                .where(model.patient_id == patient_id)
                .order_by(m.Practitioner.surname, m.Practitioner.name)
            )
        ]
    return organisations, doctors


def entry_of(spec: Spec, patient_id: int, entry_id: int):
    """One entry of this card, or None (an entry of another card is "not found", never shown)."""
    entry = db.session.get(spec.model, entry_id)
    return entry if entry is not None and entry.patient_id == patient_id else None


def prescription_state(prescription: m.Prescription) -> str:
    from datetime import timedelta

    if prescription.cancelled_at is not None:
        return "cancelled"
    on = today()
    if prescription.valid_until >= on:
        return "active"
    return "expired" if prescription.valid_until >= on - timedelta(days=30) else "blocked"
