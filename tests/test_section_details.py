"""What a citizen reads on the card switcher, on the page of one entry of each section (with
known values, in English and in Russian), and in the prescriptions list filtered by state."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from portal import clock
from portal.database import db, write_transaction
from portal.directory.models import Organisation
from portal.record import models as m
from tests import record_data
from tests.conftest import csrf_token

EN = {"Accept-Language": "en"}
RU = {"Accept-Language": "ru"}
DOCTOR = "Орлова Анна Петровна, терапевт"


def fields(response) -> dict[str, str]:
    """The entry page's summary list as {label: value}, the way a reader sees it (a link's text, not
    its markup; without what only a screen reader hears)."""
    assert response.status_code == 200
    pairs = re.findall(r"<dt>(.*?)</dt><dd(?: lang=\"\w+\")?>(.*?)</dd>", response.get_data(as_text=True), re.S)
    return {html.unescape(k).strip(): html.unescape(_seen(v)).strip() for k, v in pairs}


def _seen(value: str) -> str:
    value = re.sub(r'<span class="visually-hidden">.*?</span>', "", value, flags=re.S)
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", "", value))


def section_of(response, basis: str) -> str:
    """The part of /cards under one group heading (from its <section> to the next one)."""
    body = html.unescape(response.get_data(as_text=True))
    start = body.index(f'<section aria-labelledby="cards-{basis}">')
    return body[start : body.index("</section>", start)]


def test_the_guardian_sees_the_child_under_my_childrens_cards(login, demo):
    child, older = demo["child_9"], demo["child_16"]
    client = login(demo["guardian"])
    part = section_of(client.get("/cards", headers=EN), "guardian")
    assert '<h2 id="cards-guardian">My children\'s cards</h2>' in part
    assert f'<a href="/card/{child.id}">Кузнецова Дарья Андреевна</a>' in part
    assert f"/card/{older.id}" not in part  # 16: past the guardian's age limit
    assert "Смирнова" not in part
    russian = section_of(client.get("/cards", headers=RU), "guardian")
    assert '<h2 id="cards-guardian">Карты моих детей</h2>' in russian and f'href="/card/{child.id}"' in russian


def test_the_trusted_person_sees_smirnova_under_cards_shared_with_me(login, demo):
    pid = demo["patient"].patient_id
    body = login(demo["trusted"]).get("/cards", headers=EN)
    part = section_of(body, "trusted")
    assert '<h2 id="cards-trusted">Cards shared with me</h2>' in part
    assert f'<a href="/card/{pid}">Смирнова Елена Викторовна</a>' in part and "shared with you" in part
    assert 'id="cards-guardian"' not in body.get_data(as_text=True)


@pytest.fixture
def entries(app, demo):
    """One entry of each kind on Smirnova's card, with known values."""
    pid = demo["patient"].patient_id
    with app.app_context():
        org, other = record_data.organisations(2)
        doctor = record_data.practitioner(org)
        names = dict(db.session.execute(sa.select(Organisation.id, Organisation.name)).all())
        common = {"patient_id": pid, "organisation_id": org, "practitioner_id": doctor}
        with write_transaction():
            rows = {
                "diagnoses": m.Diagnosis(
                    **common,
                    code="I10",
                    title="Эссенциальная (первичная) гипертензия",
                    onset_on=date(2021, 3, 5),
                    status="resolved",
                    resolved_on=date(2023, 7, 9),
                ),
                "vaccinations": m.Immunization(
                    **common,
                    vaccine="Гам-КОВИД-Вак",
                    target="COVID",
                    given_on=date(2024, 2, 14),
                    series="XK-0417",
                    dose_number=2,
                    reactions="Температура 37,8 °C в течение суток",
                    next_dose_on=date(2025, 2, 14),
                ),
                "checkups": m.Checkup(
                    **common,
                    year=2025,
                    stage=2,
                    started_on=date(2025, 4, 1),
                    completed_on=date(2025, 4, 18),
                    health_group="IIIa",
                    systolic=138,
                    diastolic=88,
                    glucose=6.2,
                    cholesterol=5.9,
                    height_cm=165,
                    weight_kg=72.5,
                    risk_factors="курение табака, гипергликемия",
                    conclusion="Диспансеризация, II этап. Группа здоровья IIIa.",
                    follow_up="Диспансерное наблюдение у терапевта раз в полгода",
                    next_due_on=date(2028, 4, 1),
                ),
                "referrals": m.Referral(
                    **common,
                    number="Н-2025-0042",
                    issued_on=date(2025, 5, 6),
                    kind="study",
                    target="МРТ головного мозга",
                    reason="Головные боли",
                    diagnosis_code="G44.2",
                    valid_until=date(2025, 6, 5),
                    status="used",
                    to_organisation_id=other,
                ),
                "allergies": m.Allergy(
                    **common,
                    substance="Арахис",
                    category="food",
                    reaction="Отёк Квинке",
                    severity="severe",
                    status="inactive",
                    recorded_on=date(2019, 11, 30),
                ),
                "services": m.ServiceRecord(
                    **common,
                    provided_on=date(2025, 8, 20),
                    code="A05.23.009",
                    name="Магнитно-резонансная томография головного мозга",
                    quantity=2,
                    cost_kopecks=1234550,
                    paid_by="paid",
                ),
                "prescriptions": m.Prescription(
                    **common,
                    number="77-0000123",
                    issued_on=date(2099, 1, 10),
                    drug="Лизиноприл",
                    form="таблетки 10 мг",
                    dose="по 1 таблетке утром",
                    quantity="30 таблеток",
                    valid_until=date(2099, 3, 11),
                ),
            }
            db.session.add_all(rows.values())
            db.session.flush()
            ids = {key: row.id for key, row in rows.items()}
    return SimpleNamespace(patient=pid, ids=ids, org=names[org], other=names[other])


def entry_page(login, demo, entries, section, headers=EN):
    return login(demo["patient"]).get(f"/card/{entries.patient}/{section}/{entries.ids[section]}", headers=headers)


def pick(page: dict[str, str], *labels: str) -> tuple[str | None, ...]:
    return tuple(page.get(label) for label in labels)


def test_a_diagnosis_page_shows_the_code_title_dates_and_who_recorded_it(login, demo, entries):
    page = fields(entry_page(login, demo, entries, "diagnoses"))
    assert pick(page, "ICD-10 code", "Diagnosis") == ("I10", "Эссенциальная (первичная) гипертензия")
    assert pick(page, "Since", "Status") == ("Mar 5, 2021", "resolved on Jul 9, 2023")
    assert pick(page, "Recorded by", "Organisation") == (DOCTOR, entries.org)


def test_a_vaccination_page_shows_the_vaccine_series_dose_reactions_and_next_dose(login, demo, entries):
    page = fields(entry_page(login, demo, entries, "vaccinations"))
    assert pick(page, "Vaccine", "Date", "Series", "Dose") == ("Гам-КОВИД-Вак", "Feb 14, 2024", "XK-0417", "2")
    assert pick(page, "Organisation", "Clinician") == (entries.org, "Орлова Анна Петровна")
    assert pick(page, "Reactions", "Next dose") == ("Температура 37,8 °C в течение суток", "Feb 14, 2025")
    assert page["Status"] == "confirmed by a clinic"


def test_a_checkup_page_shows_the_measurements_risks_and_follow_up(login, demo, entries):
    response = entry_page(login, demo, entries, "checkups")
    assert "<h1>Check-up 2025, stage 2</h1>" in response.get_data(as_text=True)
    page = fields(response)
    assert pick(page, "Started", "Completed", "Health group") == ("Apr 1, 2025", "Apr 18, 2025", "IIIa")
    assert pick(page, "Blood pressure", "Glucose", "Total cholesterol") == ("138/88 mm Hg", "6.2 mmol/L", "5.9 mmol/L")
    assert pick(page, "Height and weight", "Body-mass index") == ("165 cm, 72.5 kg", "26.6")  # 72.5 / 1.65²
    assert page["Risk factors"] == "курение табака, гипергликемия"
    assert page["Conclusion"] == "Диспансеризация, II этап. Группа здоровья IIIa."
    assert page["Follow-up plan"] == "Диспансерное наблюдение у терапевта раз в полгода"
    assert pick(page, "Next check-up", "Doctor") == ("Apr 1, 2028", DOCTOR)


def test_a_checkup_page_in_russian_writes_numbers_and_units_the_russian_way(login, demo, entries):
    response = entry_page(login, demo, entries, "checkups", RU)
    assert "<h1>Диспансеризация 2025 года, этап 2</h1>" in response.get_data(as_text=True)
    page = fields(response)
    assert pick(page, "Артериальное давление", "Глюкоза") == ("138/88 мм рт. ст.", "6,2 ммоль/л")
    assert pick(page, "Рост и вес", "Индекс массы тела") == ("165 см, 72,5 кг", "26,6")
    assert pick(page, "Завершена", "Факторы риска") == ("18 апр. 2025", "курение табака, гипергликемия")
    assert page["План наблюдения"] == "Диспансерное наблюдение у терапевта раз в полгода"


def test_a_referral_page_shows_where_why_and_until_when(login, demo, entries):
    page = fields(entry_page(login, demo, entries, "referrals"))
    assert pick(page, "Number", "Kind", "Referral to") == ("Н-2025-0042", "Instrumental study", "МРТ головного мозга")
    assert pick(page, "Where", "Reason", "ICD-10 code") == (entries.other, "Головные боли", "G44.2")
    assert pick(page, "Issued", "Valid until", "Status") == ("May 6, 2025", "Jun 5, 2025", "used")
    assert page["Doctor"] == DOCTOR


def test_an_allergy_page_shows_the_substance_reaction_and_severity(login, demo, entries):
    page = fields(entry_page(login, demo, entries, "allergies"))
    assert pick(page, "Substance", "Kind", "Reaction", "Severity") == ("Арахис", "food", "Отёк Квинке", "severe")
    assert pick(page, "Status", "Recorded", "Recorded by") == ("no longer active", "Nov 30, 2019", DOCTOR)


def test_a_service_page_shows_its_cost_as_money(login, demo, entries):
    page = fields(entry_page(login, demo, entries, "services"))
    assert page["Service"] == "Магнитно-резонансная томография головного мозга"
    assert pick(page, "Code", "Date", "Quantity") == ("A05.23.009", "Aug 20, 2025", "2")
    assert pick(page, "Cost", "Paid by") == ("RUB12,345.50", "paid by you")  # Babel's English pattern for roubles
    russian = fields(entry_page(login, demo, entries, "services", RU))
    assert russian["Стоимость"] == "12\xa0345,50\xa0₽"


def test_a_prescription_page_names_the_doctor_the_number_and_the_validity(login, demo, entries):
    response = entry_page(login, demo, entries, "prescriptions")
    page = fields(response)
    assert pick(page, "Prescription number", "Medicine", "Form") == ("77-0000123", "Лизиноприл", "таблетки 10 мг")
    assert pick(page, "Dose", "Quantity") == ("по 1 таблетке утром", "30 таблеток")
    assert pick(page, "Issued", "Valid until", "Status") == ("Jan 10, 2099", "Mar 11, 2099", "active")
    assert page["Doctor"] == f"{DOCTOR}, registration number 77-12345"
    assert "Send to a pharmacy" in response.get_data(as_text=True)


@pytest.mark.parametrize("level,shown", [("view", False), ("add", True)])
def test_a_trusted_person_is_offered_the_pharmacy_only_when_the_grant_lets_them_add(
    app, login, demo, entries, level, shown
):
    from portal.sharing.models import AccessGrant

    with app.app_context(), write_transaction():
        row = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        row.sections, row.level = "prescriptions", level
    client = login(demo["trusted"])
    pid, entry_id = entries.patient, entries.ids["prescriptions"]
    page = client.get(f"/card/{pid}/prescriptions/{entry_id}", headers=EN).get_data(as_text=True)
    assert ("Send to a pharmacy" in page) == shown
    assert client.get(f"/card/{pid}/prescriptions/{entry_id}/pharmacy").status_code == (200 if shown else 404)


# -- prescriptions by state ----------------------------------------------------------------------

# (valid until, counted in days from today; cancelled) → the state the list files it under
CASES = {
    "valid today": (0, False, "active"),
    "valid 10 more days": (10, False, "active"),
    "expired 29 days ago": (-29, False, "expired"),
    "expired 30 days ago": (-30, False, "expired"),
    "expired 31 days ago": (-31, False, "blocked"),
    "expired a year ago": (-365, False, "blocked"),
    "cancelled while valid": (10, True, "cancelled"),
    "cancelled and expired": (-40, True, "cancelled"),
}


@pytest.fixture
def prescriptions(app, demo):
    """A card with no other prescriptions and one prescription per case; its owner and their ids."""
    from portal.auth.models import Account

    today = clock.today()  # the portal's day (Moscow), which the states are counted in
    with app.app_context():
        owner = db.session.get(Account, record_data.fresh_card())
        org = record_data.organisations(1)[0]
        doctor = record_data.practitioner(org)
        pharmacy = db.session.scalar(sa.select(Organisation.id).where(Organisation.kind == "pharmacy").limit(1))
        with write_transaction():
            same = {"patient_id": owner.patient_id, "organisation_id": org, "practitioner_id": doctor}
            same |= {"issued_on": today - timedelta(days=400), "form": "таблетки", "dose": "1", "quantity": "10"}
            rows = {
                name: m.Prescription(
                    **same,
                    number=f"77-{i:07d}",
                    drug=f"Препарат {i}",
                    valid_until=today + timedelta(days=days),
                    cancelled_at=datetime.now(UTC) if cancelled else None,
                )
                for i, (name, (days, cancelled, _state)) in enumerate(CASES.items())
            }
            db.session.add_all(rows.values())
            db.session.flush()
            ids = {name: row.id for name, row in rows.items()}
        who = SimpleNamespace(id=owner.id, patient=owner.patient_id)
    assert pharmacy is not None, "the demo data has pharmacies"
    return SimpleNamespace(owner=who, ids=ids, pharmacy=pharmacy)


@pytest.mark.parametrize("state", ["active", "expired", "blocked", "cancelled"])
def test_the_prescriptions_list_filtered_by_state_shows_exactly_those(login, prescriptions, state):
    pid = prescriptions.owner.patient
    response = login(prescriptions.owner).get(f"/card/{pid}/prescriptions?type={state}", headers=EN)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    shown = {int(i) for i in re.findall(rf'href="/card/{pid}/prescriptions/(\d+)"', body)}
    expected = {prescriptions.ids[name] for name, (*_case, s) in CASES.items() if s == state}
    assert shown == expected
    label = {"active": "active", "expired": "expired", "blocked": "expired, blocked", "cancelled": "cancelled"}
    assert re.findall(r"<td>(active|expired|expired, blocked|cancelled)</td>", body) == [label[state]] * len(expected)
    assert f'<option selected value="{state}">' in body


def test_a_blocked_prescription_says_so_and_cannot_go_to_a_pharmacy(app, login, prescriptions):
    pid, ids = prescriptions.owner.patient, prescriptions.ids
    client = login(prescriptions.owner)
    blocked = ids["expired 31 days ago"]
    response = client.get(f"/card/{pid}/prescriptions/{blocked}", headers=EN)
    assert fields(response)["Status"] == "expired more than 30 days ago: blocked, a pharmacy will not dispense it"
    assert "Send to a pharmacy" not in response.get_data(as_text=True)
    expired = fields(client.get(f"/card/{pid}/prescriptions/{ids['expired 29 days ago']}", headers=EN))
    assert expired["Status"] == "expired"
    assert client.get(f"/card/{pid}/prescriptions/{blocked}/pharmacy").status_code == 404
    sent = client.post(
        f"/card/{pid}/prescriptions/{blocked}/pharmacy",
        data={"csrf_token": csrf_token(client), "pharmacy": str(prescriptions.pharmacy)},
    )
    assert sent.status_code == 404
    with app.app_context():
        row = db.session.get(m.Prescription, blocked)
        assert (row.pharmacy_id, row.sent_at, row.pharmacy_status) == (None, None, None)
    # the one still valid today may go
    form = client.get(f"/card/{pid}/prescriptions/{ids['valid today']}/pharmacy", headers=EN)
    assert form.status_code == 200 and f'value="{prescriptions.pharmacy}"' in form.get_data(as_text=True)
