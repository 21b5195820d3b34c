"""One entry as a PDF: a prescription (number, QR code, validity) and a visit's protocol, from the
entry's page; tagged PDF/UA in Russian, read back by content; decided and audited as an export."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import segno
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.record import models as m
from tests import record_data
from tests.pdf_jobs import fetch_pdf

EN = {"Accept-Language": "en"}


def text_of(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return re.sub(r"\s+", " ", done.stdout.decode())


def info_of(pdf: bytes) -> str:
    return subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def qr_on_first_page(pdf: bytes, modules: int) -> list[list[bool]]:
    """The QR code in the top right corner of the first page, read module by module from the page
    rendered at 200 dpi (a dark module is True); the reading stops above the first table border."""
    import io

    from PIL import Image

    png = subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", "-"], input=pdf, capture_output=True)
    image = Image.open(io.BytesIO(png.stdout)).convert("L")
    width, height = image.size
    pixels = image.load()
    left_edge = int(width * 0.7)
    bottom = height // 4
    for y in range(height // 4):
        if sum(pixels[x, y] < 128 for x in range(left_edge, width)) > 0.6 * (width - left_edge):
            bottom = y  # a table's border: the code is above it
            break
    dark = [(x, y) for y in range(bottom) for x in range(left_edge, width) if pixels[x, y] < 128]
    left, top = min(x for x, _ in dark), min(y for _, y in dark)
    size = (max(x for x, _ in dark) - left + 1) / modules
    return [
        [pixels[int(left + (c + 0.5) * size), int(top + (r + 0.5) * size)] < 128 for c in range(modules)]
        for r in range(modules)
    ]


@pytest.fixture
def visit(app, demo):
    """A visit on Smirnova's card with a diagnosis, a prescription, a referral and a service."""
    pid = demo["patient"].patient_id
    with app.app_context():
        [org] = record_data.organisations(1)
        doctor = record_data.practitioner(org)
        common = {"patient_id": pid, "organisation_id": org, "practitioner_id": doctor}
        with write_transaction():
            seen = m.Visit(
                **common,
                started_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
                kind="clinic",
                complaints="Головная боль по утрам",
                examination="АД 150/95 мм рт. ст.",
                conclusion="Артериальная гипертензия 1 степени",
                recommendations="Ограничить соль, контроль АД дважды в день",
            )
            db.session.add(seen)
            db.session.flush()
            at = {**common, "visit_id": seen.id}
            prescription = m.Prescription(
                **at,
                number="77-0000456",
                issued_on=date(2099, 1, 10),
                drug="Лизиноприл",
                form="таблетки 10 мг",
                dose="по 1 таблетке утром",
                quantity="30 таблеток",
                valid_until=date(2099, 3, 11),
            )
            db.session.add_all(
                [
                    prescription,
                    m.Diagnosis(
                        **at, code="I10", title="Эссенциальная гипертензия", onset_on=date(2026, 3, 4), status="active"
                    ),
                    m.Referral(
                        **at,
                        number="Н-2026-0077",
                        issued_on=date(2026, 3, 4),
                        kind="consultation",
                        target="Кардиолог",
                        valid_until=date(2099, 4, 4),
                        status="issued",
                    ),
                    m.ServiceRecord(
                        **at,
                        provided_on=date(2026, 3, 4),
                        code="B01.047.001",
                        name="Приём терапевта",
                        cost_kopecks=150000,
                    ),
                ]
            )
            db.session.flush()
            ids = SimpleNamespace(patient=pid, visit=seen.id, prescription=prescription.id)
    return ids


def last_export(app, outcome: str = "success") -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.actor_id, AuditEvent.section, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.action == "card.export", AuditEvent.outcome == outcome)
            .order_by(AuditEvent.id)
        ).all()
    return [tuple(r) for r in rows]


def test_a_prescription_downloads_as_a_tagged_pdf_with_its_number_qr_code_and_validity(app, login, demo, visit):
    client = login(demo["patient"])
    page = client.get(f"/card/{visit.patient}/prescriptions/{visit.prescription}").get_data(as_text=True)
    link = f"/card/{visit.patient}/prescriptions/{visit.prescription}/document.pdf"
    assert f'href="{link}"' in page and "Скачать рецепт (PDF)" in page

    response = fetch_pdf(app, client, link)
    assert (
        "filename*=UTF-8''%D0%A0%D0%B5%D1%86%D0%B5%D0%BF%D1%82%2077-0000456.pdf"
        in response.headers["Content-Disposition"]
    )
    text = text_of(response.data)
    assert "Рецепт № 77-0000456" in text
    for shown in (
        "Смирнова Елена Викторовна",
        "Лизиноприл",
        "таблетки 10 мг",
        "по 1 таблетке утром",
        "30 таблеток",
        "11 марта 2099",
        "действует",
        "RX:77-0000456;2099-01-10;2099-03-11",
    ):
        assert shown in text, shown
    info = info_of(response.data)
    assert re.search(r"Tagged:\s+yes", info) and "Рецепт № 77-0000456" in info
    qr = [
        [bool(x) for x in row]
        for row in segno.make("RX:77-0000456;2099-01-10;2099-03-11", error="m").matrix_iter(scale=1, border=0)
    ]
    assert qr_on_first_page(response.data, len(qr)) == qr
    assert last_export(app)[-1] == (demo["patient"].id, "prescriptions", "prescriptions", str(visit.prescription))


def test_a_visit_report_holds_the_protocol_and_what_was_ordered(app, login, demo, visit):
    client = login(demo["patient"])
    page = client.get(f"/card/{visit.patient}/visits/{visit.visit}", headers=EN).get_data(as_text=True)
    assert "Download the visit report (PDF)" in page
    response = fetch_pdf(app, client, f"/card/{visit.patient}/visits/{visit.visit}/document.pdf", headers=EN)
    text = text_of(response.data)
    assert "Visit report of March 4, 2026" in text
    for shown in (
        "Головная боль по утрам",
        "АД 150/95",
        "Артериальная гипертензия 1 степени",
        "Ограничить соль",
        "I10",
        "Эссенциальная гипертензия",
        "77-0000456",
        "Кардиолог",
        "B01.047.001",
    ):
        assert shown in text, shown
    sections = {row[1] for row in last_export(app) if row[3] == str(visit.visit)}
    assert sections == {"visits", "diagnoses", "prescriptions", "referrals", "services"}


def test_a_trusted_person_with_visits_alone_gets_the_protocol_without_the_other_sections(app, login, demo, visit):
    from portal.sharing.models import AccessGrant

    with app.app_context(), write_transaction():
        row = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        row.sections = "visits"
    client = login(demo["trusted"])
    response = fetch_pdf(app, client, f"/card/{visit.patient}/visits/{visit.visit}/document.pdf")
    text = text_of(response.data)
    assert "Головная боль по утрам" in text
    for hidden in ("I10", "Эссенциальная гипертензия", "77-0000456", "Лизиноприл", "Кардиолог", "B01.047.001"):
        assert hidden not in text, hidden
    assert {row[1] for row in last_export(app) if row[0] == demo["trusted"].id} == {"visits"}
    # The prescription itself is not shared with this person: refused like a missing page.
    assert client.get(f"/card/{visit.patient}/prescriptions/{visit.prescription}/document.pdf").status_code == 404


def test_strangers_other_cards_and_other_sections_are_refused_like_a_missing_page(app, login, demo, visit):
    stranger = login(demo["guardian"])  # a verified citizen with no link to Smirnova
    assert stranger.get(f"/card/{visit.patient}/prescriptions/{visit.prescription}/document.pdf").status_code == 404
    assert stranger.get(f"/card/{visit.patient}/visits/{visit.visit}/document.pdf").status_code == 404
    patient = login(demo["patient"])
    # An entry id of this card under the wrong section, and an entry that is not there.
    assert patient.get(f"/card/{visit.patient}/prescriptions/{visit.visit}/document.pdf").status_code == 404
    assert patient.get(f"/card/{visit.patient}/visits/999999/document.pdf").status_code == 404
    assert patient.get(f"/card/{visit.patient}/diagnoses/{visit.visit}/document.pdf").status_code == 404
    # Another card's entry through the patient's own card id is not found either.
    child = demo["child_9"]
    assert stranger.get(f"/card/{child.id}/prescriptions/{visit.prescription}/document.pdf").status_code == 404
    assert not [row for row in last_export(app) if row[0] == demo["guardian"].id]
    # The refusals on Smirnova's card are in her log of who tried to open it.
    refused = [row[1] for row in last_export(app, "denied") if row[0] == demo["guardian"].id]
    assert refused == ["prescriptions", "visits"]
