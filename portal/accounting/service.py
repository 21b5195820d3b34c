"""The accountant's report: the paid services an organisation rendered in a period, grouped by
department, by patient category or by service, with the number of services, of distinct patients
and the sum; and the list of those services, one line each, for the CSV file.

Only services paid by the patient («платные») or by a voluntary insurer (ВМИ, «ДМС») are counted:
the compulsory insurance's (ОМС) are settled with the insurance fund, not by the accountant. Sums
are whole kopecks, added up by the database, shown as Decimal: never a float.

The patient category needs no medical data: the age on the day of the service (a child under 18,
pension age from 60 for women and 65 for men, an adult otherwise), and who paid (the patient, or
which voluntary insurer). docs/accounting.md explains the choice.

``policy.decide_accounting`` decides (an accountant of that organisation only; anyone else gets
404). Every reading is audited; the list of services, which names the patients, is also recorded
on each patient's card as an export of its «Услуги» section, so the patient sees it in «Кто
смотрел мою карту». The statements are the same few whatever the number of services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, distinct, extract, func, literal_column, or_, select

from portal import database
from portal.access import policy
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Department, Organisation
from portal.record.models import Patient, ServiceRecord

GROUPS = ("department", "category", "service")
PAYERS = {"all": ("paid", "vmi"), "paid": ("paid",), "vmi": ("vmi",)}
MAX_DAYS = 366  # a year, a leap one included
ADULT_AGE = 18  # the age of majority (ГК РФ art. 21): a child's contract is signed by a parent
PENSION_AGE = {"F": 60, "M": 65}  # the general pension age once the 2019 reform is complete (350-ФЗ)
AGE_GROUPS = ("child", "adult", "pension")  # in the order a report lists them
PAYER_ORDER = ("paid", "vmi")


@dataclass(frozen=True)
class ReportQuery:
    """What the accountant asked for: whose services, which days (both included), how grouped,
    paid by whom."""

    organisation_id: int
    since: date
    until: date
    group: str = "department"
    payer: str = "all"

    def describe(self) -> str:
        """The query in the audit event's reason: enough for an auditor to repeat it."""
        return f"{self.since.isoformat()}..{self.until.isoformat()} by {self.group}, payer {self.payer}"


@dataclass(frozen=True)
class Line:
    """One line of the report: its group (a department, a category or a service; None for the
    total), how many services, how many distinct patients, and the sum in kopecks."""

    group: tuple
    services: int
    patients: int
    kopecks: int


@dataclass(frozen=True)
class Report:
    organisation: Organisation
    query: ReportQuery
    lines: list[Line]
    total: Line


@dataclass(frozen=True)
class Rendered:
    """One service rendered, as the list of services gives it: no medical content."""

    provided_on: date
    department: str | None
    code: str
    name: str
    quantity: int
    kopecks: int
    paid_by: str
    insurer: str | None
    age_group: str
    patient_id: int
    patient_name: str
    birth_date: date


def latest_end(since: date) -> date:
    """The last day a period starting on ``since`` may end on."""
    try:
        return since + timedelta(days=MAX_DAYS - 1)
    except OverflowError:
        return date.max


def default_period(today: date) -> tuple[date, date]:
    """This month up to today (the portal's today)."""
    return today.replace(day=1), today


# -- who may read which organisation ---------------------------------------------------------------


def organisations(account: Account) -> list[Organisation]:
    """The organisations this account keeps the accounts of, by name: one statement."""
    ids = sorted(policy.accountant_organisations(account))
    if not ids:
        return []
    return list(db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)))


def require(account: Account, organisation_id: int, action: str) -> policy.Decision:
    """The policy's decision; a refusal is audited and raised as LookupError (the page answers 404)."""
    decision = policy.decide_accounting(account, organisation_id)
    if not decision.allowed:
        with write_transaction():
            audit.record(
                action,
                actor_id=account.id,
                actor_role="accountant" if policy.accountant_organisations(account) else "none",
                object_type="organisation",
                object_id=organisation_id,
                outcome="denied",
                reason=decision.reason,
            )
        raise LookupError(organisation_id)
    return decision


def _event(account: Account, action: str, query: ReportQuery, **fields) -> dict:
    return audit.event(
        action,
        actor_id=account.id,
        actor_role="accountant",
        organisation_id=query.organisation_id,
        object_type="organisation",
        object_id=query.organisation_id,
        reason=query.describe(),
        **fields,
    )


# -- the SQL ----------------------------------------------------------------------------------------


def _number(value: int):
    """A constant written into the statement: the same expression in SELECT and GROUP BY must not
    carry separate bound parameters (PostgreSQL would not see them as one)."""
    return literal_column(str(int(value)))


def age_on(day, born):
    """An SQL expression: the full years between ``born`` and ``day`` (dates), the same on SQLite and
    PostgreSQL. Someone born on 29 February comes of age on 1 March of a common year, as
    policy.birthday counts."""
    years = extract("year", day) - extract("year", born)
    day_of_year = extract("month", day) * _number(100) + extract("day", day)
    birthday = extract("month", born) * _number(100) + extract("day", born)
    return years - case((day_of_year < birthday, _number(1)), else_=_number(0))


def age_group():
    """An SQL expression: the patient's age group on the day of the service (AGE_GROUPS)."""
    age = age_on(ServiceRecord.provided_on, Patient.birth_date)
    pension = or_(*(and_(Patient.sex == literal_column(f"'{sex}'"), age >= _number(years))
                    for sex, years in PENSION_AGE.items()))  # fmt: skip
    return case(
        (age < _number(ADULT_AGE), literal_column("'child'")),
        (pension, literal_column("'pension'")),
        else_=literal_column("'adult'"),
    )


def _where(query: ReportQuery):
    return (
        ServiceRecord.organisation_id == query.organisation_id,
        ServiceRecord.paid_by.in_(PAYERS[query.payer]),
        ServiceRecord.provided_on >= query.since,
        ServiceRecord.provided_on <= query.until,
    )


def _sums():
    return (
        func.coalesce(func.sum(ServiceRecord.quantity), 0).label("services"),
        func.count(distinct(ServiceRecord.patient_id)).label("patients"),
        func.coalesce(func.sum(ServiceRecord.cost_kopecks), 0).label("kopecks"),
    )


def _grouped(query: ReportQuery):
    """The statement of the report's lines: the group's columns, then the sums."""
    if query.group == "department":
        keys = (Department.name.label("department"),)
        statement = select(*keys, *_sums()).outerjoin(Department, Department.id == ServiceRecord.department_id)
        # Departments by name (Russian order on PostgreSQL), the services with none recorded last.
        return statement.group_by(ServiceRecord.department_id, Department.name).order_by(
            Department.name.is_(None), Department.name
        )
    if query.group == "service":
        keys = (ServiceRecord.code, ServiceRecord.name)
        return select(*keys, *_sums()).group_by(*keys).order_by(*keys)
    group = age_group().label("age_group")
    keys = (group, ServiceRecord.paid_by, ServiceRecord.insurer)
    return (
        select(*keys, *_sums())
        .join(Patient, Patient.id == ServiceRecord.patient_id)
        .group_by(literal_column("age_group"), ServiceRecord.paid_by, ServiceRecord.insurer)
    )


def _category_order(line: Line) -> tuple:
    age, paid_by, insurer = line.group
    return AGE_GROUPS.index(age), PAYER_ORDER.index(paid_by), insurer is None, insurer or ""


def report(account: Account, query: ReportQuery, action: str = "accounting.report_viewed") -> Report:
    """The report: its lines and the total, in two statements whatever the number of services;
    audited as ``action``. LookupError for anyone but the organisation's accountant."""
    require(account, query.organisation_id, action)
    with audit.audited_read():  # the reads, then their event in one short write
        organisation = db.session.get(Organisation, query.organisation_id)
        grouped = _grouped(query).select_from(ServiceRecord).where(*_where(query))
        lines = [Line(tuple(row[:-3]), int(row[-3]), int(row[-2]), int(row[-1])) for row in database.rows(grouped)]
        total = database.rows(select(*_sums()).select_from(ServiceRecord).where(*_where(query)))[0]
        audit.record_many([_event(account, action, query)])
    if query.group == "category":
        lines.sort(key=_category_order)
    return Report(organisation, query, lines, Line((), int(total[0]), int(total[1]), int(total[2])))


def services(account: Account, query: ReportQuery) -> tuple[Organisation, list[Rendered]]:
    """Every paid service of the period, by day, with who received it: one statement. Audited once
    for the organisation and once on each patient's card (one INSERT of all the events)."""
    require(account, query.organisation_id, "accounting.services_exported")
    statement = (
        select(
            ServiceRecord.provided_on,
            Department.name,
            ServiceRecord.code,
            ServiceRecord.name,
            ServiceRecord.quantity,
            ServiceRecord.cost_kopecks,
            ServiceRecord.paid_by,
            ServiceRecord.insurer,
            age_group(),
            Patient.id,
            Patient.surname,
            Patient.name,
            Patient.patronymic,
            Patient.birth_date,
        )
        .select_from(ServiceRecord)
        .join(Patient, Patient.id == ServiceRecord.patient_id)
        .outerjoin(Department, Department.id == ServiceRecord.department_id)
        .where(*_where(query))
        .order_by(ServiceRecord.provided_on, ServiceRecord.id)
    )
    with audit.audited_read():  # the reads, then their events in one INSERT and one short write
        organisation = db.session.get(Organisation, query.organisation_id)
        found = [
            Rendered(*row[:9], row[9], " ".join(p for p in row[10:13] if p), row[13])
            for row in database.rows(statement)
        ]
        events = [_event(account, "accounting.services_exported", query)]
        events += [
            _event(account, "card.export", query, patient_id=patient_id, section="services")
            for patient_id in dict.fromkeys(line.patient_id for line in found)
        ]
        audit.record_many(events)
    return organisation, found
