"""Reference data (lab catalogue, МКБ-10 subset, immunisation calendar) and the demo histories."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.mkb10_subset import reference_book, russian_titles
from portal.database import db, write_transaction
from portal.demodata import history as g
from portal.demodata.synthetic import organisations, patients
from portal.identifiers import is_valid_enp
from portal.record import calendar, catalog, mkb10
from portal.record import models as m

TODAY = date(2026, 11, 27)
SUBSET = Path(mkb10.__file__).parent / "data" / "mkb10.csv"
# The НСИ reference book's own rows for the subset's codes, copied verbatim by bench/mkb10_subset.py
# (МКБ-10, ВОЗ; НСИ Минздрава России, OID 1.2.643.5.1.13.13.11.1005), so the check runs anywhere.
EXCERPT = Path(__file__).parent / "data" / "mkb10_reference_excerpt.csv"


# -- the laboratory catalogue ---------------------------------------------------------------------


def test_catalogue_has_the_28_tests_with_units_and_ranges():
    """28 laboratory tests and the 8 vital signs a nurse measures; weight and height alone have no
    reference range (their trend is what matters)."""
    assert len(catalog.TESTS) == 28 + len(catalog.VITALS)
    for test in catalog.TESTS.values():
        assert test.unit and test.ru and test.en
        if test.code in ("29463-7", "8302-2"):
            continue
        for sex in ("M", "F"):
            low, high = test.range_for(sex)
            assert low is not None or high is not None
            assert low is None or high is None or low < high
    assert catalog.TESTS["718-7"].range_for("M") == (130, 170)
    assert catalog.TESTS["718-7"].range_for("F") == (120, 150)
    assert catalog.TESTS["14647-2"].range_for("F") == (None, 5.2)


def test_panels_name_known_tests_and_studies_have_none():
    assert catalog.PANELS["58410-2"].tests == ("718-7", "789-8", "6690-2", "777-3", "4544-3", "30341-2")
    for panel in catalog.PANELS.values():
        assert panel.kind in ("lab", "instrumental", "vitals")
        assert all(code in catalog.TESTS for code in panel.tests)
        assert bool(panel.tests) == (panel.kind != "instrumental")
    assert catalog.PANELS[catalog.VITALS_PANEL].tests == catalog.VITALS
    assert catalog.PANELS["11524-6"].name("ru") == "Электрокардиография"
    assert catalog.PANELS["36643-5"].name("en") == "Chest X-ray"


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (5.0, 3.9, 5.5, None),
        (3.8, 3.9, 5.5, "low"),
        (5.6, 3.9, 5.5, "high"),
        (5.5, 3.9, 5.5, None),  # the limits belong to the range
        (6.4, None, 5.2, "high"),
        (0.9, 1.0, None, "low"),
        (9.9, None, None, None),
        (None, 3.9, 5.5, None),
    ],
)
def test_flag_against_a_range(value, low, high, expected):
    assert catalog.flag(value, low, high) == expected


def test_names_fall_back_to_the_code():
    assert catalog.test_name("4548-4", "ru") == "Гликированный гемоглобин"
    assert catalog.test_name("4548-4", "en") == "Hemoglobin A1c"
    assert catalog.test_name("0000-0", "ru") == "0000-0"
    assert catalog.panel_name("24331-1", "ru") == "Липидограмма"
    assert catalog.panel_name("9999-9", "en") == "9999-9"
    assert "loinc.org" in catalog.LOINC_ATTRIBUTION


# -- МКБ-10 ---------------------------------------------------------------------------------------


def subset_rows() -> dict[str, tuple[str, str]]:
    with SUBSET.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: (row["title_ru"], row["title_en"]) for row in csv.DictReader(handle, delimiter=";")}


def test_mkb10_subset_is_curated_and_read_by_code():
    rows = subset_rows()
    assert 300 <= len(rows) <= 550
    assert mkb10.title("I10") == "Эссенциальная [первичная] гипертензия"
    assert mkb10.title(" e11.9 ") == "Инсулиннезависимый сахарный диабет без осложнений"
    assert mkb10.english("E11.9") == "Type 2 diabetes mellitus without complications"
    assert mkb10.english("U07.1") == "COVID-19, virus identified"
    assert mkb10.title("XYZ") is None
    assert mkb10.name("J06.9", "en").startswith("Acute upper respiratory infection")
    assert "1.2.643.5.1.13.13.11.1005" in mkb10.ATTRIBUTION


def test_every_code_the_generator_uses_has_a_russian_title():
    rows = subset_rows()
    for code in g.DIAGNOSIS_CODES:
        assert rows[code][0], code
        assert mkb10.title(code) == rows[code][0]


def test_subset_titles_match_the_official_reference_book():
    """Every shipped Russian title is the reference book's, read from the whole book where it is
    (PORTAL_MKB10_DIR or ../shared/data/mkb10/ beside the repository), else from its excerpt; where
    the book is, the excerpt must be its rows word for word."""
    excerpt = russian_titles(EXCERPT)
    book = reference_book()
    if book.exists():
        official = russian_titles(book)
        assert {code: official.get(code) for code in excerpt} == excerpt, "the excerpt differs from the book"
    else:
        official = excerpt
    for code, (title, _en) in subset_rows().items():
        assert official.get(code) == title, code
    assert set(excerpt) == set(subset_rows()), "rebuild the excerpt: python -m bench.mkb10_subset"


# -- the immunisation calendar --------------------------------------------------------------------


def statuses(born: date, given, on: date) -> dict[str, calendar.DueItem]:
    return {item.code: item for item in calendar.due(born, given, on)}


def test_a_newborn_is_due_hepatitis_b_and_bcg_is_planned():
    born = date(2026, 3, 1)
    items = statuses(born, [], born)
    assert items["HepB-1"].status == "due"
    assert items["BCG"].status == "planned"
    assert items["BCG"].due_from == date(2026, 3, 4)
    assert items["MMR-1"].status == "planned"
    assert "Flu" not in items  # from 6 months


def test_done_due_and_overdue_with_grace_periods():
    born = date(2025, 1, 10)
    given = [("HepB", "V1", born), ("BCG", "V1", born + timedelta(days=4)), ("HepB", "V2", date(2025, 2, 12))]
    items = statuses(born, given, date(2025, 4, 20))
    assert items["HepB-1"].status == "done"
    assert items["HepB-1"].given_on == born
    assert items["HepB-2"].status == "done"
    assert items["DTP-1"].status == "due"  # due from 10 April, overdue after a month
    assert items["DTP-1"].overdue_from == date(2025, 5, 10)
    assert items["PCV-1"].status == "overdue"  # due from 10 March
    assert statuses(born, given, date(2025, 5, 10))["DTP-1"].status == "overdue"
    assert items["MMR-1"].status == "planned"


def test_a_dose_waits_for_the_interval_after_the_previous_one():
    born = date(2025, 1, 1)
    late_first = [("DTP", "V1", date(2025, 5, 1))]
    items = statuses(born, late_first, date(2025, 5, 20))
    assert items["DTP-2"].due_from == date(2025, 6, 15)  # 45 days after the first, not 4.5 months of age
    assert items["DTP-2"].status == "planned"


def test_risk_group_items_are_by_indication_and_never_overdue():
    born = date(2020, 1, 1)
    items = statuses(born, [], date(2025, 1, 1))
    assert items["HepB-3r"].by_indication
    assert items["HepB-3r"].status == "due"
    assert items["HepB-4r"].status == "due"
    assert items["HepB-3"].status == "overdue"
    assert not items["HepB-3"].by_indication
    assert "Hib-1" not in items  # not given after 5 years of age
    assert "PCV-R" not in items


def test_school_and_teenage_boosters_have_a_year_of_grace():
    born = date(2012, 6, 1)
    on = date(2026, 11, 1)  # 14 years 5 months
    items = statuses(born, [("DT", "R2", date(2018, 7, 1))], on)
    assert items["DT-R3"].status == "due"
    assert statuses(born, [("DT", "R2", date(2018, 7, 1))], date(2027, 6, 2))["DT-R3"].status == "overdue"
    assert "Td-10y" not in items


def test_adults_see_td_every_ten_years_and_no_missed_childhood_doses():
    born = date(1980, 5, 1)
    items = statuses(born, [("Td", "R", date(2019, 3, 1))], TODAY)
    assert set(items) == {"Td-10y", "Flu"}
    assert items["Td-10y"].status == "planned"
    assert items["Td-10y"].due_from == date(2029, 3, 1)
    overdue = statuses(born, [("Td", "R", date(2014, 3, 1))], TODAY)["Td-10y"]
    assert overdue.status == "overdue"
    assert overdue.name("ru").startswith("Ревакцинация против дифтерии, столбняка")


def test_flu_is_once_a_season_and_planned_each_autumn():
    born = date(1990, 1, 1)
    october = date(2026, 10, 15)
    assert statuses(born, [], october)["Flu"].status == "due"
    assert statuses(born, [], october)["Flu"].by_indication  # 18–59: risk groups
    assert not statuses(date(1950, 1, 1), [], october)["Flu"].by_indication
    done = statuses(born, [("Flu", "V", date(2026, 9, 20))], october)["Flu"]
    assert (done.status, done.given_on) == ("done", date(2026, 9, 20))
    last_season = statuses(born, [("Flu", "V", date(2025, 10, 1))], october)["Flu"]
    assert last_season.status == "due"
    june = statuses(born, [("Flu", "V", date(2025, 10, 1))], date(2026, 6, 1))["Flu"]
    assert (june.status, june.due_from) == ("planned", date(2026, 9, 1))
    assert statuses(born, [], october)["Flu"].status != "overdue"


# -- generated histories, without a database ------------------------------------------------------


@pytest.fixture(scope="module")
def directory() -> g.Directory:
    result = g.Directory()
    next_id = 0
    for org_id, org in enumerate(organisations(), start=1):
        result.organisations.setdefault(org["region_code"], {}).setdefault(org["kind"], []).append(org_id)
        for row in g.practitioner_rows(org_id, org["oid"], org["kind"], org["region_code"]):
            next_id += 1
            staff = g.Staff(next_id, org_id, row["specialty"])
            result.staff.setdefault(org_id, {}).setdefault(row["specialty"], []).append(staff)
    return result


def history(directory, index: int, seed: int = 7, profile: g.Profile | None = None) -> g.History:
    row = list(patients(index + 1))[index]
    patient = g.PatientInfo(index + 1, row["birth_date"], row["sex"], row["snils"])
    site = g.site_for(directory, patient, TODAY, seed)
    return g.build_history(patient, site, directory, TODAY, seed, profile or g.Profile())


@pytest.fixture(scope="module")
def histories(directory) -> list[g.History]:
    babies = [i for i, p in enumerate(patients(3000)) if g.age_on(p["birth_date"], TODAY) == 0][:5]
    return [history(directory, i) for i in [*range(60), *babies]]


def plain(rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {
        table: [{k: v for k, v in row.items() if not k.startswith("_")} for row in batch]
        for table, batch in rows.items()
    }


def test_same_seed_same_history_other_seed_other_history(directory):
    first, again = history(directory, 3), history(directory, 3)
    assert plain(first.rows) == plain(again.rows)
    assert plain(history(directory, 3, seed=8).rows) != plain(first.rows)


def test_observation_flags_follow_their_ranges(histories):
    flagged = 0
    for h in histories:
        for report in h.rows["lab_report"]:
            observations = report["_observations"]
            assert report["flagged"] == sum(o["flag"] is not None for o in observations)
            assert [o["loinc"] for o in observations] == list(catalog.PANELS[report["code"]].tests)
            flagged += report["flagged"]
        for o in h.rows["observation"]:
            assert o["flag"] == catalog.flag(o["value"], o["low"], o["high"])
            assert o["unit"] == catalog.TESTS[o["loinc"]].unit
            child = g.age_on(h.patient.birth_date, o["taken_at"].date()) < 18
            expected = g.CHILD_RANGES.get(o["loinc"]) if child else None
            assert (o["low"], o["high"]) == (expected or catalog.TESTS[o["loinc"]].range_for(h.patient.sex))
    assert flagged > 20  # some results are out of range


def test_policies_have_valid_enp_and_everyone_is_attached(histories):
    for h in histories:
        (policy,) = h.rows["insurance_policy"]
        assert is_valid_enp(policy["number"]), policy["number"]
        (attachment,) = h.rows["clinic_attachment"]
        assert attachment["practitioner_id"] == h.site.district.id


def test_nothing_is_dated_after_today_or_before_birth(histories):
    future_allowed = {"next_dose_on", "next_due_on", "valid_until"}
    for h in histories:
        for table, batch in h.rows.items():
            for row in batch:
                for key, value in row.items():
                    if key in future_allowed or key.startswith("_"):
                        continue
                    if isinstance(value, datetime):  # no later than yesterday, Moscow time
                        assert value.astimezone(g.MSK).date() < TODAY, (table, key, value)
                    elif isinstance(value, date):
                        assert h.patient.birth_date <= value <= TODAY, (table, key, value)


def test_histories_span_years_with_chronic_and_acute_diagnoses(histories):
    for h in histories:
        visits = sorted(v["started_at"] for v in h.rows["visit"])
        if not h.child_now and len(visits) > 5:
            assert (visits[-1] - visits[0]).days > 365
        for dx in h.rows["diagnosis"]:
            assert dx["title"] == mkb10.title(dx["code"])
            if g.CONDITIONS[dx["code"]].chronic:
                assert dx["status"] == "active"
            elif dx["resolved_on"] is not None:
                assert dx["status"] == "resolved" and dx["resolved_on"] >= dx["onset_on"]
    assert any(dx["code"] in ("I10", "E11.9", "E78.0") for h in histories for dx in h.rows["diagnosis"])


def test_a_diabetic_hba1c_falls_on_treatment(directory):
    adults = [i for i, p in enumerate(patients(40)) if 45 <= g.age_on(p["birth_date"], TODAY) < 80]
    trends = []
    for index in adults:
        h = history(directory, index, profile=g.Profile(years=5, conditions=("E11.9",)))
        values = [
            o["value"] for o in sorted(h.rows["observation"], key=lambda o: o["taken_at"]) if o["loinc"] == "4548-4"
        ]
        assert values[0] >= 7.5  # diagnosed on a high HbA1c
        assert any(p["drug"] == "Метформин" and p["preferential"] for p in h.rows["prescription"])
        if len(values) >= 3:
            trends.append(values)
    assert len(trends) >= 3
    for values in trends:
        assert values[-1] < values[0] - 0.5, values


def test_children_are_vaccinated_by_the_calendar(directory):
    index = next(i for i, p in enumerate(patients(200)) if 6 <= g.age_on(p["birth_date"], TODAY) < 12)
    h = history(directory, index, profile=g.Profile(skip_vaccines=("BCG-R",)))
    given = [(r["target"], r["dose_label"], r["given_on"]) for r in h.rows["immunization"]]
    items = statuses(h.patient.birth_date, given, TODAY)
    assert items["BCG-R"].status == "overdue"
    done = [code for code, item in items.items() if item.status == "done"]
    assert {"HepB-1", "BCG", "DTP-1", "DTP-3", "MMR-1", "MMR-2"} <= set(done)
    for item in calendar.CALENDAR:
        if item.code in done and item.code != "Flu":
            assert items[item.code].given_on >= item.due_age(h.patient.birth_date)


# -- the database: demo cards and the bulk path ---------------------------------------------------


def rows_with_visits(session, model) -> list[tuple[int, int]]:
    return session.execute(
        sa.select(model.patient_id, m.Visit.patient_id).join(m.Visit, m.Visit.id == model.visit_id)
    ).all()


def test_demo_cards_are_full_and_consistent(app, demo):
    from portal import uploads
    from portal.documents.service import storage_purpose

    with app.app_context():
        session = db.session
        for model in (m.Diagnosis, m.Prescription, m.Referral, m.ServiceRecord, m.LabReport):
            pairs = rows_with_visits(session, model)
            assert pairs and all(mine == visits for mine, visits in pairs), model.__tablename__
        pairs = session.execute(
            sa.select(m.Observation.patient_id, m.LabReport.patient_id).join(
                m.LabReport, m.LabReport.id == m.Observation.report_id
            )
        ).all()
        assert all(mine == report for mine, report in pairs)
        counts = dict(
            session.execute(
                sa.select(m.Observation.report_id, sa.func.count())
                .where(m.Observation.flag.is_not(None))
                .group_by(m.Observation.report_id)
            ).all()
        )
        for report_id, flagged in session.execute(sa.select(m.LabReport.id, m.LabReport.flagged)):
            assert flagged == counts.get(report_id, 0)

        smirnova = demo["patient"].patient_id
        for model in g.MODELS.values():
            count = session.scalar(sa.select(sa.func.count()).select_from(model).where(model.patient_id == smirnova))
            assert count, model.__tablename__
        now = datetime.now(UTC)
        latest = session.scalar(sa.select(sa.func.max(m.Visit.started_at)).where(m.Visit.patient_id == smirnova))
        assert (latest if latest.tzinfo else latest.replace(tzinfo=UTC)) <= now
        active = session.scalar(
            sa.select(sa.func.count())
            .select_from(m.Prescription)
            .where(m.Prescription.patient_id == smirnova, m.Prescription.valid_until >= now.date())
        )
        assert active >= 1
        for document in session.scalars(sa.select(m.Document).where(m.Document.patient_id == smirnova)):
            assert uploads.load(document.storage_key, storage_purpose(smirnova)).startswith(b"%PDF")

        for key in ("child_9", "child_16"):
            child = demo[key]
            given = session.execute(
                sa.select(m.Immunization.target, m.Immunization.dose_label, m.Immunization.given_on).where(
                    m.Immunization.patient_id == child.id
                )
            ).all()
            items = calendar.due(child.birth_date, given, now.date())
            assert sum(item.status == "done" for item in items) >= 20
            assert any(item.status == "overdue" for item in items), key
        doctor = session.scalar(sa.select(m.Practitioner).where(m.Practitioner.account_id == demo["doctor"].id))
        attachment = session.scalar(sa.select(m.ClinicAttachment).where(m.ClinicAttachment.patient_id == smirnova))
        assert attachment.practitioner_id == doctor.id


def test_seeding_the_demo_again_adds_no_history(app, demo):
    from portal.demodata.seed import seed_demo

    def sizes():
        return [db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in g.MODELS.values()]

    with app.app_context():
        before = sizes()
        assert seed_demo()["visits"] == 0
        assert sizes() == before


def test_bulk_path_writes_linked_histories(app):
    from portal.demodata.synthetic import load

    with app.app_context():
        with write_transaction() as session:
            load(session, 12, seed=99)
            directory = g.ensure_directory(session)
            pending = g.patients_without_history(session)
            assert len(pending) == 12
            added = g.bulk_history(session, pending, directory, TODAY, seed=99, batch=5)
        session = db.session
        for table, model in g.MODELS.items():
            stored = session.scalar(sa.select(sa.func.count()).select_from(model))
            assert stored == added[table], table
        assert added["visit"] > 12 * 5 and added["observation"] > added["lab_report"]
        assert g.patients_without_history(session) == []
        for model in (m.Diagnosis, m.Prescription, m.ServiceRecord, m.LabReport):
            assert all(mine == visits for mine, visits in rows_with_visits(session, model))
        policies = session.scalars(sa.select(m.InsurancePolicy.number)).all()
        assert len(policies) == 12 and all(is_valid_enp(number) for number in policies)
        # The practitioner directory was added once per organisation.
        with write_transaction() as again:
            before = again.scalar(sa.select(sa.func.count()).select_from(m.Practitioner))
            g.ensure_directory(again)
            assert again.scalar(sa.select(sa.func.count()).select_from(m.Practitioner)) == before


def test_the_demo_cards_show_their_history_to_their_readers(login, demo):
    guardian = login(demo["guardian"])
    daughter = guardian.get(f"/card/{demo['child_9'].id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Tuberculosis (BCG), booster: " in daughter and "overdue since" in daughter
    patient = login(demo["patient"])
    pid = demo["patient"].patient_id
    diagnoses = patient.get(f"/card/{pid}/diagnoses").get_data(as_text=True)
    assert "Гипотиреоз неуточненный" in diagnoses and "E03.9" in diagnoses
    trend = patient.get(f"/card/{pid}/results/trend/3016-3").get_data(as_text=True)
    assert trend.count("<tr>") >= 4  # TSH measured again and again while on treatment
