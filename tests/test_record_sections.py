"""The card's sections as the people who read them: lists with filters and key-based pagination,
entry pages, the results trend, prescriptions to a pharmacy, the dashboard and the card banner;
each for the owner, a guardian, a trusted person with and without the section, and a stranger."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from portal.database import db
from portal.record import models as m
from portal.record.listing import SPECS
from tests import record_data

SECTIONS = list(SPECS)


@pytest.fixture
def card(app, demo):
    """Smirnova's card with 25 entries in every section, from one organisation and doctor."""
    with app.app_context():
        org, other_org = record_data.organisations(2)
        doctor = record_data.practitioner(org)
        other_doctor = record_data.practitioner(other_org, "Белов", "кардиолог")
        patient_id = demo["patient"].patient_id
        record_data.fill(patient_id, 25, org, doctor)
        counts = {
            key: db.session.scalar(sa.select(sa.func.count()).where(spec.model.patient_id == patient_id))
            for key, spec in SPECS.items()
        }
        db.session.remove()
    return {
        "patient": patient_id,
        "org": org,
        "other_org": other_org,
        "doctor": doctor,
        "other_doctor": other_doctor,
        "counts": counts,
    }


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.mark.parametrize("section", SECTIONS)
def test_the_owner_reads_every_section_newest_first_in_pages_of_20(login, demo, card, section):
    client = login(demo["patient"])
    first = client.get(f"/card/{card['patient']}/{section}")
    assert first.status_code == 200
    body = text(first)
    assert "Смирнова Елена" in body  # the card is named on the page
    rows = re.findall(rf'href="/card/{card["patient"]}/{section}/(\d+)"', body)
    assert len(rows) == 20
    after = re.search(r'href="([^"]*after=[^"]*)"', first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    second = client.get(after)
    more = re.findall(rf'href="/card/{card["patient"]}/{section}/(\d+)"', text(second))
    assert len(more) == min(card["counts"][section] - 20, 20) and not set(more) & set(rows)


def test_the_card_banner_names_whose_card_and_age(login, demo, card):
    body = text(login(demo["patient"]).get(f"/card/{card['patient']}/visits", headers={"Accept-Language": "ru"}))
    assert re.search(r"Карта:</span> <strong>Смирнова Елена, 38 лет</strong>", body)
    child = demo["child_9"]
    body = text(login(demo["guardian"]).get(f"/card/{child.id}/visits", headers={"Accept-Language": "ru"}))
    assert "Карта:</span> <strong>Кузнецова Дарья, 9 лет</strong>" in body


def ids_on(response, section: str) -> list[str]:
    return re.findall(rf'href="/card/\d+/{section}/(\d+)"', response.get_data(as_text=True))


@pytest.mark.parametrize("section", SECTIONS)
def test_access_to_a_section_follows_the_policy(login, demo, card, section):
    """The owner and clinicians caring for her read every section; the trusted person only the
    shared ones (results, vaccinations, prescriptions); a stranger and a doctor elsewhere get 404."""
    path = f"/card/{card['patient']}/{section}"
    assert login(demo["patient"]).get(path).status_code == 200
    assert login(demo["doctor"]).get(path).status_code == 200
    shared = section in ("results", "vaccinations", "prescriptions")
    assert login(demo["trusted"]).get(path).status_code == (200 if shared else 404)
    for stranger in ("guardian", "doctor_b", "registrar"):
        refused = login(demo[stranger]).get(path)
        assert refused.status_code == 404
        assert "Смирнова" not in refused.get_data(as_text=True)


def test_a_denied_read_is_audited_and_an_allowed_one_too(app, login, demo, card):
    from portal.audit.models import AuditEvent

    login(demo["trusted"]).get(f"/card/{card['patient']}/diagnoses")
    login(demo["trusted"]).get(f"/card/{card['patient']}/results")
    with app.app_context():
        events = db.session.execute(
            sa.select(AuditEvent.section, AuditEvent.outcome)
            .where(AuditEvent.actor_id == demo["trusted"].id, AuditEvent.patient_id == card["patient"])
            .order_by(AuditEvent.id)
        ).all()
    assert ("diagnoses", "denied") in events and ("results", "success") in events


def test_a_guardian_reads_the_childs_sections_but_not_after_15(app, login, demo):
    with app.app_context():
        org = record_data.organisations(1)[0]
        doctor = record_data.practitioner(org, "Зайцева", "педиатр")
        record_data.fill(demo["child_9"].id, 3, org, doctor)
        record_data.fill(demo["child_16"].id, 3, org, doctor)
    guardian = login(demo["guardian"])
    assert len(ids_on(guardian.get(f"/card/{demo['child_9'].id}/visits"), "visits")) >= 3
    assert guardian.get(f"/card/{demo['child_16'].id}/visits").status_code == 404


def test_filters_narrow_the_list_and_keep_what_was_chosen(app, login, demo, card):
    client = login(demo["patient"])
    pid = card["patient"]
    with app.app_context():
        record_data.fill(pid, 2, card["other_org"], card["other_doctor"], start=date(2026, 6, 15))
    by_org = client.get(f"/card/{pid}/visits?organisation={card['other_org']}")
    assert len(ids_on(by_org, "visits")) == 2
    assert f'<option selected value="{card["other_org"]}">' in by_org.get_data(as_text=True)
    by_doctor = client.get(f"/card/{pid}/diagnoses?doctor={card['other_doctor']}")
    assert len(ids_on(by_doctor, "diagnoses")) == 2
    period = client.get(f"/card/{pid}/visits?since=14.06.2026&until=16.06.2026&doctor={card['other_doctor']}")
    assert len(ids_on(period, "visits")) == 2
    assert 'value="14.06.2026"' in period.get_data(as_text=True)
    active = client.get(f"/card/{pid}/diagnoses?type=active")
    resolved = client.get(f"/card/{pid}/diagnoses?type=resolved")
    assert ids_on(active, "diagnoses") and ids_on(resolved, "diagnoses")
    assert not set(ids_on(active, "diagnoses")) & set(ids_on(resolved, "diagnoses"))


def test_a_wrong_filter_answers_400_with_a_precise_message_and_the_typed_value(login, demo, card):
    response = login(demo["patient"]).get(
        f"/card/{card['patient']}/visits?since=31.02.2026&until=01.01.2020", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400
    body = text(response)
    assert "Enter the date as day, month and year" in body
    assert 'value="31.02.2026"' in body
    assert 'href="#since"' in body  # the error summary links to the field
    unknown = login(demo["patient"]).get(f"/card/{card['patient']}/visits?organisation=999999")
    assert unknown.status_code == 400


def test_nothing_matching_says_so_and_offers_all_entries(login, demo, card):
    body = text(
        login(demo["patient"]).get(
            f"/card/{card['patient']}/visits?since=01.01.1990&until=02.01.1990", headers={"Accept-Language": "en"}
        )
    )
    assert "No entries match these filters." in body
    assert f'href="/card/{card["patient"]}/visits">Show all entries' in body


def test_an_empty_section_explains_what_will_appear(app, login):
    from portal.auth.models import Account

    with app.app_context():
        owner = db.session.get(Account, record_data.fresh_card())
        db.session.expunge(owner)
    body = text(login(owner).get(f"/card/{owner.patient_id}/allergies", headers={"Accept-Language": "en"}))
    assert "No entries yet" in body
    assert "No allergies are recorded. Tell your doctor if you have any." in body


def test_htmx_gets_only_the_results_region(login, demo, card):
    response = login(demo["patient"]).get(
        f"/card/{card['patient']}/visits?since=01.09.2026", headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="results"') and "<html" not in body
    assert "data-announce" in body


def test_a_visit_page_shows_the_report_and_what_was_made_at_it(app, login, demo, card):
    with app.app_context():
        visit = db.session.scalar(
            sa.select(m.Visit).where(m.Visit.patient_id == card["patient"], m.Visit.complaints == "Кашель").limit(1)
        )
        for model in (m.Diagnosis, m.Prescription, m.Referral):
            row = db.session.scalar(
                sa.select(model)
                .where(model.patient_id == card["patient"], model.practitioner_id == card["doctor"])
                .limit(1)
            )
            db.session.execute(sa.update(model).where(model.id == row.id).values(visit_id=visit.id))
        db.session.commit()
    body = text(
        login(demo["patient"]).get(f"/card/{card['patient']}/visits/{visit.id}", headers={"Accept-Language": "en"})
    )
    for expected in (
        "Кашель",
        "ОРВИ",
        "Орлова Анна Петровна, терапевт",
        "J06.9",
        "Острая инфекция верхних дыхательных путей неуточненная",
        "Амоксициллин",
        "Кардиолог",
    ):
        assert expected in body


def test_an_entry_of_another_card_is_not_found(app, login, demo, card):
    with app.app_context():
        org = record_data.organisations(1)[0]
        record_data.fill(demo["child_9"].id, 1, org, card["doctor"])
        child_visit = db.session.scalar(sa.select(m.Visit.id).where(m.Visit.patient_id == demo["child_9"].id))
    # the patient's own card in the URL, the child's entry id: not shown
    assert login(demo["patient"]).get(f"/card/{card['patient']}/visits/{child_visit}").status_code == 404


def test_results_say_out_of_range_in_words_and_the_trend_summarises(app, login, demo):
    from portal.auth.models import Account

    with app.app_context():
        owner = db.session.get(Account, record_data.fresh_card())
        db.session.expunge(owner)
        org = record_data.organisations(1)[0]
        record_data.fill(owner.patient_id, 25, org, record_data.practitioner(org))
        flagged = db.session.scalar(
            sa.select(m.LabReport.id)
            .where(m.LabReport.patient_id == owner.patient_id, m.LabReport.flagged == 1)
            .limit(1)
        )
    client = login(owner)
    pid = owner.patient_id
    listing = text(client.get(f"/card/{pid}/results", headers={"Accept-Language": "en"}))
    assert "1 value outside the reference range" in listing
    detail = text(client.get(f"/card/{pid}/results/{flagged}", headers={"Accept-Language": "en"}))
    assert "above the range" in detail and "120–160" in detail
    # the unit as a Russian laboratory form prints it, not its UCUM code
    russian = text(client.get(f"/card/{pid}/results/{flagged}", headers={"Accept-Language": "ru"}))
    assert "г/л" in russian and "g/L" not in russian
    body = text(client.get(f"/card/{pid}/results/trend/718-7", headers={"Accept-Language": "en"}))
    # the latest four are 1, 30, 29 and 28 September... counted back from 1 October: days 0..3,
    # and every third day (0 and 3) is above the range
    assert "2 of the last 4 results are above the reference range." in body
    assert "<svg" in body and '<title id="chart-title">' in body and '<desc id="chart-desc">' in body
    assert body.count("<tr>") == 24 + 1  # the same data as a table: 24 points and the header row
    assert client.get(f"/card/{pid}/results/trend/0000-0").status_code == 404


def test_prescriptions_show_their_state_and_an_active_one_goes_to_a_pharmacy(app, login, demo, card):
    from portal.directory.models import Organisation

    pid = card["patient"]
    with app.app_context():
        pharmacy = Organisation(
            oid="1.2.643.5.1.13.13.12.2.77.9999",
            name="Аптека № 1",
            kind="pharmacy",
            region_code="77",
            city="Москва",
            address="ул. Ленина, 1",
            phone="+74950000000",
            search_text="аптека",
        )
        db.session.add(pharmacy)
        rows = list(
            db.session.scalars(
                sa.select(m.Prescription).where(m.Prescription.patient_id == pid).order_by(m.Prescription.id).limit(3)
            )
        )
        rows[0].valid_until = date(2099, 1, 1)
        rows[1].valid_until = date(2020, 1, 1)
        rows[2].cancelled_at = rows[2].created_at
        db.session.commit()
        active, blocked, cancelled, pharmacy_id = rows[0].id, rows[1].id, rows[2].id, pharmacy.id
    client = login(demo["patient"])
    assert "blocked" in text(client.get(f"/card/{pid}/prescriptions/{blocked}", headers={"Accept-Language": "en"}))
    assert "cancelled" in text(client.get(f"/card/{pid}/prescriptions/{cancelled}", headers={"Accept-Language": "en"}))
    assert client.get(f"/card/{pid}/prescriptions/{blocked}/pharmacy").status_code == 404
    form = client.get(f"/card/{pid}/prescriptions/{active}/pharmacy")
    assert "Аптека № 1" in form.get_data(as_text=True)
    from tests.conftest import csrf_token

    token = csrf_token(client)
    wrong = client.post(f"/card/{pid}/prescriptions/{active}/pharmacy", data={"csrf_token": token, "pharmacy": "0"})
    assert wrong.status_code == 400
    sent = client.post(
        f"/card/{pid}/prescriptions/{active}/pharmacy", data={"csrf_token": token, "pharmacy": str(pharmacy_id)}
    )
    assert sent.status_code == 303
    page = text(client.get(sent.headers["Location"], headers={"Accept-Language": "en"}))
    assert "sent to the pharmacy" in page and "Аптека № 1" in page
    # the trusted person may read prescriptions but not act on them
    assert login(demo["trusted"]).get(f"/card/{pid}/prescriptions/{active}/pharmacy").status_code == 404


def test_the_dashboard_shows_only_the_cards_of_sections_the_viewer_may_see(login, demo, card):
    owner = text(login(demo["patient"]).get(f"/card/{card['patient']}", headers={"Accept-Language": "en"}))
    for key in ("appointment", "results", "prescriptions", "vaccinations", "notifications", "requests"):
        assert f'id="card-{key}"' in owner
    assert "value outside the range" in owner
    trusted = text(login(demo["trusted"]).get(f"/card/{card['patient']}", headers={"Accept-Language": "en"}))
    assert 'id="card-results"' in trusted and 'id="card-requests"' not in trusted
    assert f'href="/card/{card["patient"]}/visits"' not in trusted


def test_the_dashboard_names_unread_news_and_links_each_open_request(app, login, demo, card):
    from portal.corrections.models import CorrectionRequest
    from portal.database import write_transaction
    from portal.notify import inbox

    pid = card["patient"]
    with app.test_request_context(), write_transaction():
        inbox.post(demo["patient"].id, "result_new", patient_id=pid, params={"title": "ОАК", "out_of_range": 2})
        report = db.session.scalar(sa.select(CorrectionRequest).where(CorrectionRequest.patient_id == pid))
        report_id, number = report.id, report.number
    owner = text(login(demo["patient"]).get(f"/card/{pid}", headers={"Accept-Language": "en"}))
    assert "1 unread notification about this card." in owner and "New result: ОАК, 2 values out of range" in owner
    assert f'<a href="/card/{pid}/corrections/{report_id}">Error report № {number}</a>' in owner


def test_an_opt_out_on_a_childs_dashboard_links_only_for_its_applicant(app, login, demo):
    """Both parents see that the child's card is being closed; the application's page is the
    applicant's, so only they get a link to it."""
    from portal.consent.models import OptOutRequest
    from portal.database import write_transaction
    from portal.sharing.models import Guardianship

    child = demo["child_9"].id
    with app.app_context(), write_transaction():
        db.session.add(
            Guardianship(
                guardian_id=demo["patient"].id,
                child_id=child,
                basis="Свидетельство о рождении",
                started_on=demo["child_9"].birth_date,
                verified_at=datetime.now(UTC),
            )
        )
        row = OptOutRequest(
            patient_id=child, requested_by_id=demo["guardian"].id, reason="Бумажная карта", status="registered"
        )
        db.session.add(row)
        db.session.flush()
        row.number = f"О-T-{row.id:06d}"
        request_id, number = row.id, row.number
    applicant = text(login(demo["guardian"]).get(f"/card/{child}", headers={"Accept-Language": "en"}))
    other = text(login(demo["patient"]).get(f"/card/{child}", headers={"Accept-Language": "en"}))
    link = f'<a href="/consent/opt-out/{request_id}">'
    assert link in applicant and number in applicant
    assert link not in other and number in other


def test_the_insurance_page_shows_the_policy_and_the_attached_clinic(app, login, demo, card):
    with app.app_context():
        db.session.add(
            m.InsurancePolicy(
                patient_id=card["patient"],
                number="7700000000000008",
                insurer="СОГАЗ-Мед",
                region_code="77",
                status="active",
                valid_from=date(2020, 1, 1),
            )
        )
        db.session.add(
            m.ClinicAttachment(
                patient_id=card["patient"],
                organisation_id=card["org"],
                practitioner_id=card["doctor"],
                district="12",
                since=date(2021, 3, 1),
            )
        )
        db.session.commit()
    body = text(login(demo["patient"]).get(f"/card/{card['patient']}/insurance"))
    assert "7700000000000008" in body and "СОГАЗ-Мед" in body and "Орлова Анна Петровна" in body
    assert login(demo["trusted"]).get(f"/card/{card['patient']}/insurance").status_code == 404
    # With the section in the grant, the trusted person reads the same page; a stranger never does.
    from portal.database import write_transaction
    from portal.sharing.models import AccessGrant

    with app.app_context(), write_transaction():
        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        grant.sections = "insurance"
    shared = text(login(demo["trusted"]).get(f"/card/{card['patient']}/insurance"))
    assert "7700000000000008" in shared and "СОГАЗ-Мед" in shared
    for stranger in ("doctor_b", "registrar", "guardian"):
        assert login(demo[stranger]).get(f"/card/{card['patient']}/insurance").status_code == 404, stranger


QUERY_REPORT = Path(__file__).resolve().parents[1] / "reports" / "query-counts.txt"


@pytest.mark.parametrize("section", [*SECTIONS, "dashboard"])
def test_a_list_page_makes_the_same_number_of_queries_with_10_and_1000_entries(app, login, demo, section):
    """The cost of a list page (and of the dashboard) grows with what is shown, not with what is
    stored. The counts are written to reports/query-counts.txt for the record."""
    from portal.auth.models import Account

    with app.app_context():
        org = record_data.organisations(1)[0]
        doctor = record_data.practitioner(org)
        owner = db.session.get(Account, record_data.fresh_card())
        pid = owner.patient_id
        db.session.expunge(owner)
    counts = []
    client = login(owner)
    path = f"/card/{pid}" if section == "dashboard" else f"/card/{pid}/{section}"
    client.get(path)  # the first request also sets up the connection (PostgreSQL asks its version)
    model = SPECS["visits" if section == "dashboard" else section].model
    for total in (10, 1000):
        with app.app_context():
            existing = db.session.scalar(sa.select(sa.func.count()).where(model.patient_id == pid))
            record_data.fill(pid, max(total - existing, 0), org, doctor)
            engine = db.engine
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args, seen=statements):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    QUERY_REPORT.parent.mkdir(exist_ok=True)
    with QUERY_REPORT.open("a", encoding="utf-8") as report:
        report.write(f"{path.replace(str(pid), '{patient}')} {counts[1]} statements ({engine.dialect.name})\n")


def test_the_dashboard_shows_the_next_booked_appointment_not_a_past_or_cancelled_one(app, login, demo):
    from datetime import UTC, datetime, timedelta

    from portal.appointments.models import Appointment

    pid = demo["patient"].patient_id
    with app.app_context():
        booked = db.session.scalar(sa.select(Appointment).where(Appointment.patient_id == pid))
        org = booked.organisation_id
        soon = datetime.now(UTC) + timedelta(days=1)
        db.session.add_all(
            [
                Appointment(
                    patient_id=pid, organisation_id=org, starts_at=soon, room="1", status="cancelled_by_patient"
                ),
                Appointment(patient_id=pid, organisation_id=org, starts_at=soon - timedelta(days=5), room="2"),
            ]
        )
        db.session.commit()
    body = text(login(demo["patient"]).get(f"/card/{pid}", headers={"Accept-Language": "en"}))
    card = body[body.index('id="card-appointment"') :]
    card = card[: card.index("</li>")]
    assert "room 214" in card and "Соколов Дмитрий Александрович" in card
    assert "room 1," not in card and "room 2," not in card
    # the trusted person sees the shared sections, not the appointments
    trusted = text(login(demo["trusted"]).get(f"/card/{pid}", headers={"Accept-Language": "en"}))
    assert 'id="card-appointment"' not in trusted
