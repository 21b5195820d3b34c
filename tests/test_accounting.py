"""The accountant's paid services (issue 11, point 8): the report of a period by department, by
patient category and by service, its sums to the kopeck, its period (both days included, in the
portal's time zone, at most 366 days), its CSV files, its audit, and what it never shows: another
organisation's services, the OMS ones, or anything of the medical record.

The demo has four months of paid services up to today; the tests put their own into 2021, which
nothing else touches."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Department
from portal.identifiers import make_snils
from portal.record.models import Diagnosis, LabReport, Observation, Patient, ServiceRecord, Visit
from tests.test_booking import events
from tests.test_htmx import recorded_statements

EN = {"Accept-Language": "en"}
MARCH = "since=01.03.2021&until=31.03.2021"
SECRET_DIAGNOSIS = "Секретный диагноз Z99.9"
SECRET_RESULT = "Секретный результат 42"
SECRET_COMPLAINT = "Секретная жалоба"


def text(response) -> str:
    """The page's text as a reader hears it: tags out, entities decoded, spaces joined."""
    plain = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(plain)).replace("\u00a0", " ").replace("\u202f", " ")


def table_rows(response) -> list[list[str]]:
    """The report's table: [header cell, figures…] per row, the total last."""
    body = response.get_data(as_text=True)
    table = body[body.index('<table class="table">') : body.index("</table>")]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).replace("\u00a0", " ").strip() for c in cells])
    return rows


def value_of(page: str, name: str) -> str:
    """What a text field of the form holds."""
    return html.unescape(re.search(rf'<input [^>]*name="{name}"[^>]*value="([^"]*)"', page).group(1))


def read_csv(response) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith("\ufeff".encode()), "no byte order mark"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


@pytest.fixture
def orgs(app, demo):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


@pytest.fixture
def accountant(demo, login):
    return login(demo["accountant"])


class Clinic:
    """Services of a demo clinic in 2021, rendered to patients made for the test."""

    def __init__(self, app, organisation_id: int):
        self.app, self.organisation_id = app, organisation_id
        self.people = 0
        with app.app_context(), write_transaction():
            self.departments = {}
            for name in ("Отделение Б", "Отделение А"):
                department = Department(organisation_id=organisation_id, name=f"{name} (тест {organisation_id})")
                db.session.add(department)
                db.session.flush()
                self.departments[name] = department.id

    def patient(self, born: date, sex: str = "F", surname: str = "Тестова", name: str = "Вера") -> int:
        self.people += 1
        with self.app.app_context(), write_transaction():
            patient = Patient(
                surname=surname, name=name, patronymic="Ивановна", sex=sex, birth_date=born,
                snils=make_snils(f"0040{self.organisation_id:02d}{self.people:03d}"),
            )  # fmt: skip
            db.session.add(patient)
            db.session.flush()
            return patient.id

    def services(self, rows: list[dict]) -> None:
        """Insert services: each row gives at least patient and day; the rest has defaults."""
        defaults = {
            "code": "B01.015.001",
            "name": "Приём (осмотр, консультация) врача-кардиолога первичный",
            "quantity": 1,
            "cost_kopecks": 210000,
            "paid_by": "paid",
            "insurer": None,
            "department": None,
        }
        with self.app.app_context(), write_transaction():
            db.session.execute(
                sa.insert(ServiceRecord),
                [
                    {
                        **{k: v for k, v in {**defaults, **row}.items() if k not in ("patient", "day", "department")},
                        "patient_id": row["patient"],
                        "provided_on": row["day"],
                        "organisation_id": self.organisation_id,
                        "department_id": self.departments.get(row.get("department")),
                    }
                    for row in rows
                ],
            )


@pytest.fixture
def clinic(app, orgs):
    return Clinic(app, orgs["A"])


# -- the sums ---------------------------------------------------------------------------------------


def test_sums_per_department_are_exact_to_the_kopeck(app, clinic, accountant, orgs):
    """Big sums (past a 32-bit integer) and odd kopecks add up exactly; a patient in two
    departments counts once in the total; OMS services and another clinic's are not counted."""
    one, two = clinic.patient(date(1980, 5, 5)), clinic.patient(date(1990, 6, 6))
    clinic.services(
        [
            {"patient": one, "day": date(2021, 3, 1), "department": "Отделение А", "cost_kopecks": 2_000_000_000},
            {"patient": one, "day": date(2021, 3, 2), "department": "Отделение А", "cost_kopecks": 2_000_000_001},
            {"patient": two, "day": date(2021, 3, 3), "department": "Отделение А", "cost_kopecks": 1, "quantity": 3},
            {"patient": one, "day": date(2021, 3, 4), "department": "Отделение Б", "cost_kopecks": 99},
            {"patient": two, "day": date(2021, 3, 5), "cost_kopecks": 10},  # no department recorded
            {"patient": one, "day": date(2021, 3, 6), "department": "Отделение Б", "paid_by": "oms"},
        ]
    )
    Clinic(app, orgs["B"]).services([{"patient": one, "day": date(2021, 3, 7), "cost_kopecks": 555}])
    response = accountant.get(f"/accounting?{MARCH}&group=department&payer=all", headers=EN)
    assert response.status_code == 200
    a, b = (f"{name} (тест {orgs['A']})" for name in ("Отделение А", "Отделение Б"))
    assert table_rows(response) == [
        [a, "5", "2", "RUB40,000,000.02"],
        [b, "1", "1", "RUB0.99"],
        ["Department not recorded", "1", "1", "RUB0.10"],
        ["Total", "7", "2", "RUB40,000,001.11"],
    ]
    assert "40 000 001,11 ₽" in text(accountant.get(f"/accounting?{MARCH}", headers={"Accept-Language": "ru"}))


def test_the_service_layer_hands_back_whole_kopecks(app, clinic, demo, orgs):
    from portal.accounting import service
    from portal.auth.models import Account

    one = clinic.patient(date(1980, 5, 5))
    clinic.services([{"patient": one, "day": date(2021, 3, d), "cost_kopecks": 123_456_789} for d in (1, 2, 3)])
    with app.test_request_context():
        account = db.session.get(Account, demo["accountant"].id)
        found = service.report(account, service.ReportQuery(orgs["A"], date(2021, 3, 1), date(2021, 3, 31)))
    assert found.total == service.Line((), 3, 1, 370_370_367)
    assert all(isinstance(n, int) for n in (found.total.services, found.total.patients, found.total.kopecks))


def test_by_service_and_by_payer(clinic, accountant):
    one, two = clinic.patient(date(1980, 5, 5)), clinic.patient(date(1985, 1, 1))
    ecg = {"code": "A05.10.006", "name": "Регистрация электрокардиограммы", "cost_kopecks": 90000}
    clinic.services(
        [
            {"patient": one, "day": date(2021, 3, 10)},
            {"patient": two, "day": date(2021, 3, 10), "paid_by": "vmi", "insurer": "АО «СОГАЗ»"},
            {"patient": one, "day": date(2021, 3, 11), **ecg, "quantity": 2, "cost_kopecks": 180000},
            {"patient": two, "day": date(2021, 3, 12), **ecg, "paid_by": "oms", "cost_kopecks": 0},
        ]
    )
    rows = table_rows(accountant.get(f"/accounting?{MARCH}&group=service&payer=all", headers=EN))
    assert rows == [
        ["A05.10.006 Регистрация электрокардиограммы", "2", "1", "RUB1,800.00"],
        ["B01.015.001 Приём (осмотр, консультация) врача-кардиолога первичный", "2", "2", "RUB4,200.00"],
        ["Total", "4", "2", "RUB6,000.00"],
    ]
    paid = table_rows(accountant.get(f"/accounting?{MARCH}&group=service&payer=paid", headers=EN))
    assert paid[-1] == ["Total", "3", "1", "RUB3,900.00"]
    vmi = table_rows(accountant.get(f"/accounting?{MARCH}&group=service&payer=vmi", headers=EN))
    assert vmi == [
        ["B01.015.001 Приём (осмотр, консультация) врача-кардиолога первичный", "1", "1", "RUB2,100.00"],
        ["Total", "1", "1", "RUB2,100.00"],
    ]


def test_patient_categories_by_age_on_the_day_and_who_paid(clinic, accountant):
    """18th birthday, pension age (60 for a woman, 65 for a man) and a 29 February birthday are
    counted on the day of the service, the same on SQLite and PostgreSQL."""
    teen = clinic.patient(date(2003, 3, 15))
    leap = clinic.patient(date(2004, 2, 29), sex="M")
    woman = clinic.patient(date(1961, 3, 10))
    man = clinic.patient(date(1961, 3, 10), sex="M")
    clinic.services(
        [
            {"patient": teen, "day": date(2021, 3, 14), "cost_kopecks": 1},  # 17: a child
            {"patient": teen, "day": date(2021, 3, 15), "cost_kopecks": 2},  # 18: an adult
            {"patient": woman, "day": date(2021, 3, 9), "cost_kopecks": 4},  # 59
            {"patient": woman, "day": date(2021, 3, 10), "cost_kopecks": 8, "paid_by": "vmi", "insurer": "АО «СОГАЗ»"},
            {"patient": man, "day": date(2021, 3, 10), "cost_kopecks": 16},  # 60: a man is not yet of pension age
            {"patient": woman, "day": date(2021, 3, 11), "cost_kopecks": 32, "paid_by": "vmi"},  # no insurer
        ]
    )
    rows = table_rows(accountant.get(f"/accounting?{MARCH}&group=category", headers=EN))
    assert rows == [
        ["Children (under 18), own money", "1", "1", "RUB0.01"],
        ["Adults, own money", "3", "3", "RUB0.22"],
        ["Pension age (women from 60, men from 65), voluntary insurance: АО «СОГАЗ»", "1", "1", "RUB0.08"],
        ["Pension age (women from 60, men from 65), voluntary insurance, insurer not recorded", "1", "1", "RUB0.32"],
        ["Total", "6", "3", "RUB0.63"],
    ]
    # Born on 29 February: 18 on 1 March of a common year, as the policy counts birthdays.
    clinic.services([{"patient": leap, "day": date(2022, 2, 28)}, {"patient": leap, "day": date(2022, 3, 1)}])
    rows = table_rows(accountant.get("/accounting?since=01.01.2022&until=31.12.2022&group=category", headers=EN))
    assert [row[:2] for row in rows] == [
        ["Children (under 18), own money", "1"],
        ["Adults, own money", "1"],
        ["Total", "2"],
    ]


# -- the period -------------------------------------------------------------------------------------


def test_both_days_of_the_period_are_included(clinic, accountant):
    one = clinic.patient(date(1980, 5, 5))
    costs = {1: 1, 2: 10, 30: 100, 31: 1000}
    clinic.services([{"patient": one, "day": date(2021, 3, d), "cost_kopecks": cost} for d, cost in costs.items()])
    clinic.services([{"patient": one, "day": date(2021, 2, 28)}, {"patient": one, "day": date(2021, 4, 1)}])
    rows = table_rows(accountant.get("/accounting?since=02.03.2021&until=30.03.2021", headers=EN))
    assert rows[-1] == ["Total", "2", "1", "RUB1.10"]  # the 2nd and the 30th
    assert table_rows(accountant.get(f"/accounting?{MARCH}", headers=EN))[-1] == ["Total", "4", "1", "RUB11.11"]
    single = table_rows(accountant.get("/accounting?since=31.03.2021&until=31.03.2021", headers=EN))
    assert single[-1] == ["Total", "1", "1", "RUB10.00"]  # a period of one day


def test_a_first_visit_shows_this_month_in_the_portals_time_zone(app, demo, login):
    """At 21:30 UTC on 31 January it is already 1 February in Moscow: the month is February."""
    with time_machine.travel(datetime(2026, 1, 31, 21, 30, tzinfo=UTC), tick=False):
        response = login(demo["accountant"]).get("/accounting", headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert value_of(page, "since") == value_of(page, "until") == "01.02.2026"
    assert "From February 1, 2026 to February 1, 2026" in text(response)


@pytest.mark.parametrize(
    "query,field,message",
    [
        ("since=31.03.2021&until=01.03.2021", "until", "The end of the period must not be before its start"),
        ("since=01.01.2021&until=02.01.2022", "until", "A period is at most 366 days long: end it on January 1, 2022"),
        ("since=32.01.2021&until=01.02.2021", "since", "Enter the date as day, month and year"),
        ("since=&until=01.02.2021", "since", "Enter the first day of the period"),
        ("since=01.01.2021&until=", "until", "Enter the last day of the period"),
        ("since=01.01.2021&until=31.01.2021&group=patient", "group", "Choose from the list"),
        ("since=01.01.2021&until=31.01.2021&payer=oms", "payer", "Choose from the list"),
    ],
)
def test_a_wrong_period_comes_back_with_what_was_typed(accountant, query, field, message):
    response = accountant.get(f"/accounting?{query}", headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-summary"' in page and message in text(response)
    assert "<title>Error:" in page
    anchor = f'#{field}-0"' if field in ("group", "payer") else f'#{field}"'
    assert anchor in page  # the summary links to the field
    for name, value in re.findall(r"(since|until)=([^&]*)", query):
        assert value_of(page, name) == value  # as typed
    assert "<table" not in page  # no report from a wrong form


def test_the_longest_period_is_366_days(clinic, accountant):
    assert accountant.get("/accounting?since=01.01.2028&until=31.12.2028").status_code == 200  # a leap year
    assert accountant.get("/accounting?since=01.01.2021&until=01.01.2022").status_code == 200
    assert accountant.get("/accounting?since=01.01.2021&until=02.01.2022").status_code == 400
    assert accountant.get("/accounting?since=01.01.9999&until=31.12.9999").status_code == 200


def test_an_empty_period_says_so(accountant):
    response = accountant.get("/accounting?since=01.01.2019&until=31.01.2019", headers=EN)
    assert response.status_code == 200
    assert "No paid services were rendered in this period." in text(response) and "<table" not in text(response)
    empty = accountant.get(
        f"/accounting/{_org_of(accountant)}/report.csv?since=01.01.2019&until=31.01.2019", headers=EN
    )
    assert read_csv(empty)[-1] == ["Total", "0", "0", "0,00"]


def _org_of(client) -> str:
    page = client.get("/accounting").get_data(as_text=True)
    return re.search(r'action="/accounting/(\d+)"', page).group(1)


# -- the cost: the same statements for 10 services as for 1,000 -------------------------------------


def _statements(app, client, url: str) -> int:
    assert client.get(url).status_code == 200
    with recorded_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


# The session; the accountant's organisations (a file: the one asked for); the lines and the total
# (the list: its one SELECT); the audit INSERT after the reads.
BUDGET = {"page-department": 5, "page-category": 5, "page-service": 5, "report.csv": 5, "services.csv": 4}


@pytest.mark.parametrize("what", list(BUDGET))
def test_the_statements_do_not_grow_with_the_services(app, clinic, accountant, orgs, what):
    people = [clinic.patient(date(1950 + n, 1 + n % 12, 1 + n % 28), sex="MF"[n % 2]) for n in range(25)]
    codes = [(f"A{n:02d}.01.001", f"Услуга {n}") for n in range(40)]

    def add(count: int, month: int) -> str:
        clinic.services(
            [
                {
                    "patient": people[n % len(people)],
                    "day": date(2021, month, 1 + n % 28),
                    "code": codes[n % len(codes)][0],
                    "name": codes[n % len(codes)][1],
                    "department": ("Отделение А", "Отделение Б", None)[n % 3],
                    "paid_by": ("paid", "vmi")[n % 2],
                    "insurer": ("АО «СОГАЗ»", "СПАО «Ингосстрах»")[n % 3 % 2] if n % 2 else None,
                    "cost_kopecks": 1000 + n,
                }
                for n in range(count)
            ]
        )
        period = f"since=01.{month:02d}.2021&until=28.{month:02d}.2021"
        if what.startswith("page-"):
            return f"/accounting/{orgs['A']}?{period}&group={what[5:]}"
        return f"/accounting/{orgs['A']}/{what}?{period}"

    few, many = add(10, 5), add(1000, 6)
    assert _statements(app, accountant, few) == _statements(app, accountant, many) == BUDGET[what]


# -- the CSV files ----------------------------------------------------------------------------------


def test_the_report_as_csv(clinic, accountant, orgs):
    one = clinic.patient(date(1980, 5, 5))
    clinic.services(
        [
            {"patient": one, "day": date(2021, 3, 1), "department": "Отделение А", "cost_kopecks": 123_456_789},
            {"patient": one, "day": date(2021, 3, 2), "department": "Отделение Б", "cost_kopecks": 5},
        ]
    )
    response = accountant.get(f"/accounting/{orgs['A']}/report.csv?{MARCH}&group=department&payer=all")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="paid-services-') and "2021-03-01_2021-03-31.csv" in disposition
    assert "filename*=UTF-8''" in disposition and "%D0%9F%D0%BB%D0%B0%D1%82" in disposition  # «Плат…»
    assert response.headers["Cache-Control"] == "no-store"
    assert read_csv(response) == [
        ["Отделение", "Количество услуг", "Количество пациентов", "Сумма, руб."],
        [f"Отделение А (тест {orgs['A']})", "1", "1", "1234567,89"],
        [f"Отделение Б (тест {orgs['A']})", "1", "1", "0,05"],
        ["Итого", "2", "1", "1234567,94"],
    ]
    english = read_csv(accountant.get(f"/accounting/{orgs['A']}/report.csv?{MARCH}", headers=EN))
    assert english[0] == ["Department", "Number of services", "Number of patients", "Sum, roubles"]
    assert english[-1] == ["Total", "2", "1", "1234567,94"]  # the same format for the same Excel


def test_every_service_as_csv_names_the_patient_and_nothing_of_the_record(app, clinic, accountant, orgs):
    one = clinic.patient(date(2010, 5, 5), surname='=HYPERLINK("http://x")', name="Ева")
    two = clinic.patient(date(1950, 1, 2), sex="M", surname="Петров", name="Пётр")
    clinic.services(
        [
            {
                "patient": two,
                "day": date(2021, 3, 2),
                "department": "Отделение Б",
                "paid_by": "vmi",
                "insurer": "АО «СОГАЗ»",
            },
            {
                "patient": one,
                "day": date(2021, 3, 1),
                "department": "Отделение А",
                "cost_kopecks": 90050,
                "quantity": 2,
            },
        ]
    )
    _medical_content(app, one, orgs["A"])
    response = accountant.get(f"/accounting/{orgs['A']}/services.csv?{MARCH}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="services-')
    rows = read_csv(response)
    assert rows[0] == [
        "Дата", "Отделение", "Код услуги", "Услуга", "Количество", "Сумма, руб.", "Кто оплатил",
        "Категория пациента", "Номер карты", "Пациент", "Дата рождения",
    ]  # fmt: skip
    assert rows[1] == [
        "01.03.2021", f"Отделение А (тест {orgs['A']})", "B01.015.001",
        "Приём (осмотр, консультация) врача-кардиолога первичный", "2", "900,50", "личные средства", "ребёнок",
        str(one), '\'=HYPERLINK("http://x") Ева Ивановна', "05.05.2010",
    ]  # fmt: skip
    assert rows[2][6:] == ["ДМС: АО «СОГАЗ»", "пенсионный возраст", str(two), "Петров Пётр Ивановна", "02.01.1950"]
    assert len(rows) == 3
    raw = response.get_data().decode("utf-8-sig")
    for secret in (SECRET_DIAGNOSIS, SECRET_RESULT, SECRET_COMPLAINT, "Z99.9"):
        assert secret not in raw


def _medical_content(app, patient_id: int, organisation_id: int) -> None:
    """A diagnosis, a result and a visit on the patient's card, with text that must never show."""
    from portal.directory.models import Practitioner

    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.organisation_id == organisation_id))
        visit = Visit(
            patient_id=patient_id, started_at=datetime(2021, 3, 1, 9, tzinfo=UTC), kind="clinic",
            organisation_id=organisation_id, practitioner_id=doctor, complaints=SECRET_COMPLAINT,
        )  # fmt: skip
        db.session.add(visit)
        db.session.flush()
        db.session.add(
            Diagnosis(patient_id=patient_id, code="Z99.9", title=SECRET_DIAGNOSIS, onset_on=date(2021, 3, 1),
                      organisation_id=organisation_id, practitioner_id=doctor,
                      status="active", visit_id=visit.id)
        )  # fmt: skip
        report = LabReport(
            patient_id=patient_id, code="58410-2", kind="instrumental", conclusion=SECRET_RESULT,
            taken_at=datetime(2021, 3, 1, 9, tzinfo=UTC), organisation_id=organisation_id,
        )  # fmt: skip
        db.session.add(report)
        db.session.flush()
        db.session.add(
            Observation(patient_id=patient_id, report_id=report.id, loinc="718-7", value=42.0,
                        value_text=SECRET_RESULT, taken_at=datetime(2021, 3, 1, 9, tzinfo=UTC))
        )  # fmt: skip


@pytest.mark.parametrize("group", ["department", "category", "service"])
def test_the_page_shows_nothing_of_the_record(app, clinic, accountant, orgs, group):
    one = clinic.patient(date(1980, 5, 5), surname="Особенная")
    clinic.services([{"patient": one, "day": date(2021, 3, 1)}])
    _medical_content(app, one, orgs["A"])
    page = accountant.get(f"/accounting?{MARCH}&group={group}").get_data(as_text=True)
    for secret in (SECRET_DIAGNOSIS, SECRET_RESULT, SECRET_COMPLAINT, "Z99.9", "Особенная"):
        assert secret not in page  # not even the patient's name: the page has totals only


# -- who may, and the audit -------------------------------------------------------------------------


def test_each_reading_is_audited_and_each_patient_sees_the_list_leave(app, clinic, accountant, demo, orgs, login):
    one, two = clinic.patient(date(1980, 5, 5)), clinic.patient(date(1981, 5, 5))
    clinic.services([{"patient": p, "day": date(2021, 3, 1)} for p in (one, two, one)])
    accountant.get(f"/accounting/{orgs['A']}?{MARCH}")
    accountant.get(f"/accounting/{orgs['A']}/report.csv?{MARCH}")
    accountant.get(f"/accounting/{orgs['A']}/services.csv?{MARCH}")
    query = "2021-03-01..2021-03-31 by department, payer all"
    for action in ("accounting.report_viewed", "accounting.report_exported", "accounting.services_exported"):
        found = events(app, action)[-1]
        assert (found.actor_id, found.actor_role, found.organisation_id, found.outcome, found.reason) == (
            demo["accountant"].id, "accountant", orgs["A"], "success", query,
        )  # fmt: skip
    exported = [e for e in events(app, "card.export") if e.actor_id == demo["accountant"].id]
    assert sorted(e.patient_id for e in exported) == sorted([one, two])  # once per patient
    assert {(e.section, e.actor_role, e.organisation_id) for e in exported} == {("services", "accountant", orgs["A"])}
    with app.app_context():
        from tests.conftest import audit_log_verifies

        assert audit_log_verifies()


def test_the_patient_reads_in_the_access_log_that_the_accountant_exported_their_services(app, demo, accountant, orgs):
    from portal.record.models import ServiceRecord as S

    smirnova = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        db.session.add(S(patient_id=smirnova, provided_on=date(2021, 3, 1), code="B01.015.001", name="Приём",
                         quantity=1, cost_kopecks=210000, paid_by="paid", organisation_id=orgs["A"]))  # fmt: skip
    accountant.get(f"/accounting/{orgs['A']}/services.csv?{MARCH}")
    from tests.conftest import session_for

    client = app.test_client()
    session_for(app, client, demo["patient"].id)
    log = text(client.get(f"/card/{smirnova}/access-log", headers=EN))
    assert "Захарова Анна Михайловна, accountant" in log and "exported «Services received and their cost»" in log


def test_another_organisations_report_is_404_and_the_attempt_is_audited(app, accountant, demo, orgs):
    for path in ("", "/report.csv", "/services.csv"):
        assert accountant.get(f"/accounting/{orgs['B']}{path}?{MARCH}").status_code == 404
    denied = [e for e in events(app, "accounting.report_viewed") if e.outcome == "denied"]
    assert denied and denied[-1].object_id == str(orgs["B"]) and denied[-1].actor_id == demo["accountant"].id
    assert "only the organisation's accountant" in denied[-1].reason
    assert [e for e in events(app, "card.export") if e.actor_id == demo["accountant"].id] == []


def test_an_ended_membership_opens_nothing(app, demo, login, orgs):
    from portal.auth.models import StaffMembership

    with app.app_context(), write_transaction():
        membership = db.session.scalar(
            sa.select(StaffMembership).where(StaffMembership.account_id == demo["accountant"].id)
        )
        membership.ended_at = datetime.now(UTC)
    client = login(demo["accountant"])
    assert client.get("/accounting").status_code == 404
    assert client.get(f"/accounting/{orgs['A']}").status_code == 404


def test_an_accountant_of_two_organisations_chooses(app, demo, login, orgs):
    from portal.clinic.service import assign_role
    from portal.directory.models import Organisation

    with app.app_context():
        assign_role(None, demo["accountant"].id, orgs["B"], "accountant")
        names = {key: db.session.get(Organisation, orgs[key]).name for key in ("A", "B")}
    client = login(demo["accountant"])
    first = min(names, key=lambda key: names[key])
    other = "B" if first == "A" else "A"
    page = client.get("/accounting", headers=EN).get_data(as_text=True)
    assert f'action="/accounting/{orgs[first]}"' in page  # the first by name
    assert f'href="/accounting/{orgs[other]}"' in page and "Your other organisations" in page
    assert client.get(f"/accounting/{orgs[other]}").status_code == 200


def test_every_service_asks_for_the_password_again_after_a_while_the_report_does_not(app, demo, accountant, orgs):
    from portal.auth.models import ServerSession

    with app.app_context(), write_transaction():
        for row in db.session.scalars(sa.select(ServerSession).where(ServerSession.ended_at.is_(None))):
            row.authenticated_at = datetime.now(UTC) - timedelta(minutes=11)
    url = f"/accounting/{orgs['A']}/services.csv?{MARCH}"
    response = accountant.get(url)
    assert response.status_code == 303 and response.headers["Location"].startswith("/auth/confirm-password?next=")
    assert events(app, "accounting.services_exported") == []  # nothing left the portal
    assert accountant.get(f"/accounting/{orgs['A']}/report.csv?{MARCH}").status_code == 200
    # another organisation's list: 404, never a password form
    assert accountant.get(f"/accounting/{orgs['B']}/services.csv?{MARCH}").status_code == 404


def test_the_files_are_rate_limited(app_factory, demo_factory):
    from tests.conftest import session_for

    app = app_factory(RATELIMIT_ENABLED=True)
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["accountant"].id)
    org = _org_of(client)
    statuses = [client.get(f"/accounting/{org}/report.csv?{MARCH}").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    assert client.get(f"/accounting/{org}?{MARCH}").status_code == 200  # the page is not limited


def test_a_bad_form_on_a_file_link_shows_the_page_with_the_errors(accountant, orgs):
    response = accountant.get(f"/accounting/{orgs['A']}/report.csv?since=01.01.2021&until=01.01.2020", headers=EN)
    assert response.status_code == 400 and "text/html" in response.headers["Content-Type"]
    assert "The end of the period must not be before its start" in text(response)


def test_the_menu_leads_the_accountant_to_the_report(demo, login, accountant):
    assert 'href="/accounting"' in accountant.get("/").get_data(as_text=True)
    assert 'href="/accounting"' not in login(demo["auditor"]).get("/").get_data(as_text=True)


def test_the_demo_accountant_finds_this_months_paid_services(app, accountant):
    """The demo: clinic A's paid services of the last four months, in several departments, paid by
    patients and both insurers."""
    response = accountant.get("/accounting?since=01.01.2026&until=31.12.2026&group=category", headers=EN)
    rows = table_rows(response)
    assert len(rows) >= 4 and rows[-1][0] == "Total" and int(rows[-1][1]) >= 100
    assert "own money" in text(response) and "АО «СОГАЗ»" in text(response)


def test_the_table_has_a_caption_headers_with_scope_and_labelled_figures(clinic, accountant):
    one = clinic.patient(date(1980, 5, 5))
    clinic.services([{"patient": one, "day": date(2021, 3, 1), "department": "Отделение А"}])
    page = accountant.get(f"/accounting?{MARCH}&group=department&payer=paid", headers=EN).get_data(as_text=True)
    table = page[page.index('<table class="table">') : page.index("</table>")]
    assert '<caption class="">By department. Paid by the patients</caption>' in table
    assert '<th scope="col" class="numeric">Number of services</th>' in table
    assert '<td class="numeric" data-label="Sum">RUB2,100.00</td>' in table  # the label a phone shows
    foot = table[table.index("<tfoot>") :]
    assert '<th scope="row">Total</th>' in foot and '<td class="numeric" data-label="Number of patients">1</td>' in foot
