"""Pages that show more than one section of the card, as a matrix over grants: a visit's page (its
diagnoses, prescriptions, referrals and services), the card's dashboard (its results,
prescriptions and vaccinations cards), an entry linking another section, and the export. Every
piece is shown only where the reader may read its section, and its read is audited as a read of
that section."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.record import models as m
from portal.sharing.models import AccessGrant
from tests import record_data

# Each part of a visit's page, and what marks it on the page.
PARTS = {
    "diagnoses": "МАРКЕР-ДИАГНОЗ",
    "prescriptions": "МАРКЕР-ПРЕПАРАТ",
    "referrals": "МАРКЕР-НАПРАВЛЕНИЕ",
    "services": "МАРКЕР-УСЛУГА",
}
DASHBOARD = {
    "results": "Latest results",
    "prescriptions": "Active prescriptions",
    "vaccinations": "Vaccinations due",
    "appointments": "Next appointment",  # shown to whoever reads the appointments section, and audited
}
EVERY = ",".join(["visits", *PARTS, "results", "vaccinations"])
GRANTS = [
    "visits",
    "visits,diagnoses",
    "visits,prescriptions,referrals,services",
    "visits,diagnoses,prescriptions,referrals,services",
    "diagnoses,results",
    "results,vaccinations,prescriptions",
    "results,appointments",
    EVERY,
]


@pytest.fixture
def visit(app, demo) -> dict:
    """A visit of Smirnova's with one entry of each part, the parts marked by their text."""
    patient_id = demo["patient"].patient_id
    with app.app_context():
        org = record_data.organisations(1)[0]
        doctor = record_data.practitioner(org)
        record_data.fill(patient_id, 1, org, doctor, start=clock.today() - timedelta(days=3))
        with write_transaction():
            visit_id = db.session.scalar(
                sa.select(m.Visit.id).where(m.Visit.patient_id == patient_id).order_by(m.Visit.id.desc()).limit(1)
            )
            for model, column in (
                (m.Diagnosis, "title"),
                (m.Prescription, "drug"),
                (m.Referral, "target"),
                (m.ServiceRecord, "name"),
            ):
                row = db.session.scalar(
                    sa.select(model).where(model.patient_id == patient_id).order_by(model.id.desc()).limit(1)
                )
                row.visit_id = visit_id
                setattr(row, column, PARTS[_section_of(model)])
            diagnosis_id = db.session.scalar(
                sa.select(m.Diagnosis.id).where(m.Diagnosis.patient_id == patient_id, m.Diagnosis.visit_id == visit_id)
            )
        db.session.remove()
    return {"patient": patient_id, "visit": visit_id, "diagnosis": diagnosis_id}


def _section_of(model) -> str:
    return {m.Diagnosis: "diagnoses", m.Prescription: "prescriptions", m.Referral: "referrals"}.get(model, "services")


def share(app, demo, sections: str) -> None:
    with app.app_context(), write_transaction():
        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        grant.sections = sections


def reads(app, account_id: int, object_type: str) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                sa.select(AuditEvent.section).where(
                    AuditEvent.actor_id == account_id,
                    AuditEvent.object_type == object_type,
                    AuditEvent.action == "card.read",
                    AuditEvent.outcome == "success",
                )
            )
        )


@pytest.mark.parametrize("sections", GRANTS)
def test_a_visits_page_shows_and_audits_only_the_parts_the_grant_names(app, demo, login, visit, sections):
    share(app, demo, sections)
    granted = set(sections.split(","))
    trusted = login(demo["trusted"])
    trusted.set_cookie("lang", "en")
    response = trusted.get(f"/card/{visit['patient']}/visits/{visit['visit']}")
    page = response.get_data(as_text=True)
    if "visits" not in granted:
        assert response.status_code == 404
        assert not any(marker in page for marker in PARTS.values())
        assert reads(app, demo["trusted"].id, "visit") == set()
        return
    assert response.status_code == 200
    for part, marker in PARTS.items():
        assert (marker in page) is (part in granted), part
    assert reads(app, demo["trusted"].id, "visit") == granted & set(PARTS)


@pytest.mark.parametrize("sections", GRANTS)
def test_a_diagnosis_page_links_its_visit_only_for_a_reader_of_the_visits(app, demo, login, visit, sections):
    share(app, demo, sections)
    granted = set(sections.split(","))
    trusted = login(demo["trusted"])
    response = trusted.get(f"/card/{visit['patient']}/diagnoses/{visit['diagnosis']}")
    assert response.status_code == (200 if "diagnoses" in granted else 404)
    link = f"/card/{visit['patient']}/visits/{visit['visit']}"
    assert (link in response.get_data(as_text=True)) is ({"diagnoses", "visits"} <= granted)


@pytest.mark.parametrize("sections", GRANTS)
def test_the_dashboard_shows_and_audits_only_the_cards_of_granted_sections(app, demo, login, visit, sections):
    share(app, demo, sections)
    granted = set(sections.split(","))
    trusted = login(demo["trusted"])
    trusted.set_cookie("lang", "en")
    page = trusted.get(f"/card/{visit['patient']}").get_data(as_text=True)
    for section, title in DASHBOARD.items():
        assert (title in page) is (section in granted), section
    assert reads(app, demo["trusted"].id, "dashboard") == granted & set(DASHBOARD)


@pytest.mark.parametrize("sections", GRANTS)
def test_the_export_holds_only_the_granted_sections(app, demo, login, visit, sections):
    share(app, demo, sections)
    granted = set(sections.split(","))
    trusted = login(demo["trusted"])
    text = trusted.get(f"/card/{visit['patient']}/export/ips.json").get_data(as_text=True)
    assert ("МАРКЕР-ДИАГНОЗ" in text) is ("diagnoses" in granted)
    assert ("МАРКЕР-ПРЕПАРАТ" in text) is ("prescriptions" in granted)


def test_a_treating_doctor_sees_every_part_and_each_read_is_audited(app, demo, login, visit):
    doctor = login(demo["doctor"])
    page = doctor.get(f"/card/{visit['patient']}/visits/{visit['visit']}").get_data(as_text=True)
    assert all(marker in page for marker in PARTS.values())
    assert reads(app, demo["doctor"].id, "visit") == set(PARTS)
    doctor.get(f"/card/{visit['patient']}")
    assert reads(app, demo["doctor"].id, "dashboard") == set(DASHBOARD)
