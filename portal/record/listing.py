"""One way to list and open the entries of any section of the card.

A section is declared once (``SPECS``): its model, the date it is ordered by, and which filters
it offers. ``page_of`` returns one page of entries, newest first, paginated by key
(``after=<date>_<id>``), in one query with the organisation and practitioner joined in; the
filter choices (organisations and doctors present in this section of this card) take one query
each. So a list page costs the same number of queries whatever the size of the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, Text, and_, bindparam, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import defer, joinedload, lazyload

from portal import clock, database, paging
from portal.access.policy import today
from portal.database import db
from portal.directory.models import Organisation
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
            (
                ("lab", _l("Laboratory tests")),
                ("instrumental", _l("Instrumental studies")),
                ("vitals", _l("Measurements")),
            ),
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
    """A prescription state as a clause, with today and a month ago as the values ``on`` and
    ``month_ago`` (the statement is built once; the days are the request's)."""
    p = m.Prescription
    on, month_ago = bindparam("on", type_=p.valid_until.type), bindparam("month_ago", type_=p.valid_until.type)
    if value == "cancelled":
        return p.cancelled_at.is_not(None)
    if value == "active":
        return and_(p.cancelled_at.is_(None), p.valid_until >= on)
    if value == "expired":
        return and_(p.cancelled_at.is_(None), p.valid_until < on, p.valid_until >= month_ago)
    return and_(p.cancelled_at.is_(None), p.valid_until < month_ago)


def parse_after(spec: Spec, after: str | None) -> tuple[Any, int] | None:
    """The page key as the section's date column compares it (the form has checked it parses)."""
    if not after:
        return None
    when, ident = paging.parse_dated(after)
    return (when if spec.is_datetime else when.date()), ident


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


AS_ROWS = frozenset({"results"})  # the sections listed as rows of the columns their table shows


def _columns(spec: Spec) -> Select | None:
    """The columns a section's table shows, for the sections listed without loading entries as
    objects (None: the section's entries are loaded, with ``_options_of``)."""
    if spec.key == "results":  # in AS_ROWS
        r = m.LabReport
        return select(
            r.id, r.code, r.kind, r.taken_at, r.flagged, r.conclusion, Organisation.name.label("organisation_name")
        ).join(Organisation, Organisation.id == r.organisation_id)
    return None


@cache
def _statement(key: str, since: bool, until: bool, kind: str | bool, organisation: bool, doctor: bool, after: bool):
    """A section's list query for one combination of filters, built once per process (immutable)
    and run with the page's values (``patient``, ``since``, ``until``, ``type``, ``organisation``,
    ``doctor``, ``after_date``, ``after_id``, ``size``; ``on`` and ``month_ago`` for the
    prescriptions' states). ``kind`` is the chosen state of prescriptions or vaccinations (their
    clause depends on it), True for another section's type filter, False for none."""
    spec = SPECS[key]
    model, column = spec.model, spec.date_column
    query = _columns(spec)
    if query is None:
        query = select(model).options(*_options_of(key))
    query = query.where(model.patient_id == bindparam("patient"))
    if since:
        query = query.where(column >= bindparam("since", type_=column.type))
    if until:
        query = query.where(column <= bindparam("until", type_=column.type))
    if kind and spec.key == "prescriptions":
        query = query.where(_status_clause(kind))
    elif kind and spec.key == "vaccinations":
        query = query.where(model.confirmed.is_(kind == "yes"))
    elif kind:
        query = query.where(getattr(model, spec.type_attr) == bindparam("type"))
    if organisation:
        query = query.where(model.organisation_id == bindparam("organisation"))
    if doctor:
        query = query.where(model.practitioner_id == bindparam("doctor"))
    if after:
        when = bindparam("after_date", type_=column.type)
        query = query.where(or_(column < when, and_(column == when, model.id < bindparam("after_id"))))
    return query.order_by(column.desc(), model.id.desc()).limit(bindparam("size"))


def page_of(spec: Spec, patient_id: int, filters: Filters, size: int = PAGE_SIZE) -> EntryPage:
    """One page of a section's entries (rows of the shown columns for the sections ``_columns``
    lists, entries otherwise), with its statement built once per process."""
    values: dict[str, Any] = {"patient": patient_id, "size": size + 1}
    if filters.since:
        values["since"] = _bound(spec, filters.since, False)
    if filters.until:
        values["until"] = _bound(spec, filters.until, True)
    kind: str | bool = False
    if filters.type and spec.type_attr:
        kind = filters.type if spec.key in ("prescriptions", "vaccinations") else True
        values["type"] = filters.type
        if spec.key == "prescriptions":
            values["on"] = on = today()
            values["month_ago"] = on - timedelta(days=30)
    organisation = bool(filters.organisation and spec.organisation)
    if organisation:
        values["organisation"] = filters.organisation
    doctor = bool(filters.doctor and spec.doctor)
    if doctor:
        values["doctor"] = filters.doctor
    key = parse_after(spec, filters.after)
    if key:
        values["after_date"], values["after_id"] = key
    statement = _statement(spec.key, bool(filters.since), bool(filters.until), kind, organisation, doctor, bool(key))
    if spec.key in AS_ROWS:
        rows = database.rows(statement, values)
    else:
        rows = list(db.session.scalars(statement, values).unique())
    next_after = None
    if len(rows) > size:
        last = rows[size - 1]
        next_after = f"{getattr(last, spec.date_attr).isoformat()}_{last.id}"
    return EntryPage(rows[:size], next_after, key is None)


@cache
def _choice_statements(key: str) -> tuple[Select | None, Select | None]:
    """The queries of a section's organisation and doctor choices, built once per process."""
    spec = SPECS[key]
    model, patient = spec.model, bindparam("patient")
    organisations = doctors = None
    if spec.organisation:
        organisations = (
            select(Organisation.id, Organisation.name)
            .distinct()
            .join(model, model.organisation_id == Organisation.id)
            .where(model.patient_id == patient)
            .order_by(Organisation.name)
        )
    if spec.doctor:
        p = m.Practitioner
        doctors = (
            select(p.id, p.surname, p.name, p.patronymic, p.specialty)
            .distinct()
            .join(model, model.practitioner_id == p.id)
            .where(model.patient_id == patient)
            .order_by(p.surname, p.name)
        )
    return organisations, doctors


def choices_of(spec: Spec, patient_id: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The organisations and doctors that appear in this section of this card (one query each)."""
    by_organisation, by_doctor = _choice_statements(spec.key)
    values = {"patient": patient_id}
    organisations: list[tuple[int, str]] = []
    doctors: list[tuple[int, str]] = []
    if by_organisation is not None:
        organisations = [tuple(row) for row in database.rows(by_organisation, values)]
    if by_doctor is not None:
        doctors = [
            (pid, f"{surname} {name[0]}.{(patronymic or ' ')[0]}. — {specialty}".replace(" .", ""))
            for pid, surname, name, patronymic, specialty in database.rows(by_doctor, values)
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
