"""The directory: organisations and doctors by specialty, name and address (the citizen's own
clinic first), and an organisation's page. Paged by key; a page costs the same number of
statements whatever the size of the directory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, exists, func, literal, or_, select, tuple_

from portal import clock
from portal.directory.models import Department, OpeningHours, Organisation, OrganisationService, Practitioner
from portal.extensions import db

PAGE_SIZE = 20


@dataclass(frozen=True)
class ClinicPage:
    organisations: list[Organisation]
    total: int
    next_after: int | None  # the id to continue after, or None on the last page
    position: int  # how many come before this page
    own: frozenset[int] = frozenset()  # the citizen's own clinic, when it is on this page


# Pharmacies are listed for sending prescriptions, not in the directory of medical organisations.
MEDICAL = Organisation.kind != "pharmacy"


def count_organisations() -> int:
    return db.session.scalar(select(func.count()).select_from(Organisation).where(MEDICAL)) or 0


def regions_present() -> list[str]:
    return list(
        db.session.scalars(
            select(Organisation.region_code).where(MEDICAL).distinct().order_by(Organisation.region_code)
        )
    )


def _words(query: str, column) -> list:
    conditions = []
    for word in query.casefold().split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(column.like(f"%{escaped}%", escape="\\"))
    return conditions


def _first(patient_id: int | None):
    """0 for the clinic the card is attached to today, 1 for the rest: the first key of the order.
    A subquery, so putting the citizen's clinic first costs no statement of its own."""
    if patient_id is None:  # an expression all the same, so the order and the page key keep their shape
        return case((Organisation.id.is_(None), literal(0)), else_=literal(1))
    from portal.access.policy import attached_now
    from portal.record.models import ClinicAttachment

    own = select(ClinicAttachment.organisation_id).where(attached_now(patient_id, clock.today()))
    return case((Organisation.id.in_(own), literal(0)), else_=literal(1))


def attached_organisation(patient_id: int | None) -> int | None:
    """The clinic the card is attached to today, if any (one statement)."""
    if patient_id is None:
        return None
    from portal.access.policy import attached_now
    from portal.record.models import ClinicAttachment

    return db.session.scalar(
        select(ClinicAttachment.organisation_id)
        .where(attached_now(patient_id, clock.today()))
        .order_by(ClinicAttachment.since.desc(), ClinicAttachment.id.desc())
        .limit(1)
    )


def attached_region_code(patient_id: int) -> str | None:
    """The region code of the clinic the card is attached to today, if any (one statement): the
    portal's region for a citizen whose host name names none (portal/regions.py)."""
    from portal.access.policy import attached_now
    from portal.record.models import ClinicAttachment

    return db.session.scalar(
        select(Organisation.region_code)
        .join(ClinicAttachment, ClinicAttachment.organisation_id == Organisation.id)
        .where(attached_now(patient_id, clock.today()))
        .order_by(ClinicAttachment.since.desc(), ClinicAttachment.id.desc())
        .limit(1)
    )


def search(
    query: str = "",
    region: str = "",
    after: int | None = None,
    size: int = PAGE_SIZE,
    specialty: str = "",
    patient_id: int | None = None,
) -> ClinicPage:
    """Organisations matching ``query`` (name, city or address) in ``region`` with a doctor of
    ``specialty``: the clinic the card ``patient_id`` is attached to first, then by name.

    Paged by key (own clinic first, name, id) rather than offset, so a page costs the same wherever it is.
    """
    conditions = [MEDICAL, *_words(query, Organisation.search_text)]
    if region:
        conditions.append(Organisation.region_code == region)
    if specialty:
        conditions.append(
            exists().where(Practitioner.organisation_id == Organisation.id, Practitioner.specialty_code == specialty)
        )
    first = _first(patient_id)
    total = db.session.scalar(select(func.count()).select_from(Organisation).where(*conditions)) or 0
    stmt = select(Organisation, first).where(*conditions)
    position = 0
    if after:
        anchor = db.session.execute(
            select(first.label("first"), Organisation.name, Organisation.id).where(Organisation.id == after)
        ).first()
        if anchor is not None:
            key = tuple_(first, Organisation.name, Organisation.id)
            at = tuple_(literal(anchor.first), literal(anchor.name), literal(anchor.id))
            stmt = stmt.where(key > at)
            position = (
                db.session.scalar(select(func.count()).select_from(Organisation).where(*conditions, key <= at)) or 0
            )
    found = db.session.execute(stmt.order_by(first, Organisation.name, Organisation.id).limit(size + 1)).all()
    rows = [org for org, _ in found]
    own = frozenset(org.id for org, rank in found[:size] if rank == 0)
    next_after = rows[size - 1].id if len(rows) > size else None
    return ClinicPage(rows[:size], total, next_after, position, own)


# -- doctors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoctorRow:
    id: int
    surname: str
    name: str
    patronymic: str | None
    specialty: str
    specialty_code: str | None
    position: str | None
    organisation_id: int
    organisation: str
    city: str
    address: str
    department: str | None
    own_clinic: bool

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


@dataclass(frozen=True)
class DoctorPage:
    doctors: list[DoctorRow]
    total: int
    next_after: int | None
    position: int


def _name_words(query: str) -> list:
    """Each word is the start of the surname, name or patronymic (names are stored capitalised;
    SQLite folds only ASCII, so the word is capitalised here rather than folded in SQL)."""
    conditions = []
    for word in query.split():
        escaped = word.capitalize().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(
            or_(
                *(
                    column.like(f"{escaped}%", escape="\\")
                    for column in (Practitioner.surname, Practitioner.name, Practitioner.patronymic)
                )
            )
        )
    return conditions


def search_doctors(
    name: str = "",
    specialty: str = "",
    place: str = "",
    patient_id: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> DoctorPage:
    """Doctors by ``name``, ``specialty`` (nomenclature code) and ``place`` (organisation name,
    city or address): those of the clinic the card ``patient_id`` is attached to first, then by
    surname. Four statements at most."""
    conditions = [MEDICAL, *_name_words(name), *_words(place, Organisation.search_text)]
    if specialty:
        conditions.append(Practitioner.specialty_code == specialty)
    first = _first(patient_id)
    joined = (
        select(func.count())
        .select_from(Practitioner)
        .join(Organisation, Organisation.id == Practitioner.organisation_id)
    )
    total = db.session.scalar(joined.where(*conditions)) or 0
    columns = (
        Practitioner.id,
        Practitioner.surname,
        Practitioner.name,
        Practitioner.patronymic,
        Practitioner.specialty,
        Practitioner.specialty_code,
        Practitioner.position,
        Organisation.id,
        Organisation.name,
        Organisation.city,
        Organisation.address,
        Department.name,
        first,
    )
    stmt = (
        select(*columns)
        .join(Organisation, Organisation.id == Practitioner.organisation_id)
        .outerjoin(Department, Department.id == Practitioner.department_id)
        .where(*conditions)
    )
    key = tuple_(first, Practitioner.surname, Practitioner.id)
    position = 0
    if after:
        anchor = db.session.execute(
            select(first.label("first"), Practitioner.surname, Practitioner.id)
            .join(Organisation, Organisation.id == Practitioner.organisation_id)
            .where(Practitioner.id == after)
        ).first()
        if anchor is not None:
            at = tuple_(literal(anchor.first), literal(anchor.surname), literal(anchor.id))
            stmt = stmt.where(key > at)
            position = db.session.scalar(joined.where(*conditions, key <= at)) or 0
    rows = db.session.execute(stmt.order_by(first, Practitioner.surname, Practitioner.id).limit(size + 1)).all()
    doctors = [DoctorRow(*row[:-1], own_clinic=row[-1] == 0) for row in rows[:size]]
    next_after = rows[size - 1][0] if len(rows) > size else None
    return DoctorPage(doctors, total, next_after, position)


# -- an organisation's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentView:
    name: str
    location: str | None
    phone: str | None
    practitioners: list[Practitioner]


@dataclass(frozen=True)
class OrganisationView:
    organisation: Organisation
    hours: list[OpeningHours]
    departments: list[DepartmentView]
    services: list[OrganisationService]


def organisation_page(organisation_id: int) -> OrganisationView | None:
    """An organisation with its hours, departments and their doctors, and services: four
    statements whatever their number."""
    organisation = db.session.scalar(select(Organisation).where(Organisation.id == organisation_id, MEDICAL))
    if organisation is None:
        return None
    hours = list(
        db.session.scalars(
            select(OpeningHours).where(OpeningHours.organisation_id == organisation_id).order_by(OpeningHours.weekday)
        )
    )
    practitioners = list(
        db.session.scalars(
            select(Practitioner)
            .where(Practitioner.organisation_id == organisation_id)
            .order_by(Practitioner.specialty, Practitioner.surname, Practitioner.id)
        )
    )
    departments = {
        d.id: d
        for d in db.session.scalars(
            select(Department).where(Department.organisation_id == organisation_id).order_by(Department.name)
        )
    }
    grouped: dict[int | None, list[Practitioner]] = {key: [] for key in departments}
    for practitioner in practitioners:
        grouped.setdefault(
            practitioner.department_id if practitioner.department_id in departments else None, []
        ).append(practitioner)
    views = [DepartmentView(d.name, d.location, d.phone, grouped[d.id]) for d in departments.values() if grouped[d.id]]
    if grouped.get(None):
        views.append(DepartmentView("", None, None, grouped[None]))
    services = list(
        db.session.scalars(
            select(OrganisationService)
            .where(OrganisationService.organisation_id == organisation_id)
            .order_by(OrganisationService.oms.desc(), OrganisationService.name)
        )
    )
    return OrganisationView(organisation, hours, views, services)
