"""Certificates and extracts: ordering with a one-time code, who may order, the registrar's
steps, the tagged PDF with its verification address, and the public check that shows no
medical data."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, date, datetime, timedelta

import pikepdf
import pytest
import segno
import sqlalchemy as sa

from portal import clock
from portal.audit.models import AuditEvent
from portal.auth.models import OneTimeCode
from portal.certificates.models import CertificateRequest
from portal.database import db, write_transaction
from portal.notify.models import Notification
from portal.record.models import ClinicAttachment, Diagnosis, Document, Immunization, RequestEvent
from tests.conftest import csrf_token, outbox
from tests.pdf_jobs import queued, run_jobs

DIAGNOSIS = "Бронхиальная астма, эпизодическая"


def qr_on_first_page(pdf: bytes, modules: int) -> list[list[bool]]:
    """The QR code printed in the top right corner of the first page, read module by module
    from the page rendered at 200 dpi (a dark module is True)."""
    from PIL import Image

    png = subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", "-"], input=pdf, capture_output=True)
    image = Image.open(io.BytesIO(png.stdout)).convert("L")
    width, height = image.size
    pixels = image.load()
    dark = [(x, y) for y in range(height // 5) for x in range(int(width * 0.7), width) if pixels[x, y] < 128]
    left, top = min(x for x, _ in dark), min(y for _, y in dark)
    size = (max(x for x, _ in dark) - left + 1) / modules
    return [
        [pixels[int(left + (c + 0.5) * size), int(top + (r + 0.5) * size)] < 128 for c in range(modules)]
        for r in range(modules)
    ]


def dmy(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def order(client, patient_id: int, **changes):
    page = f"/card/{patient_id}/certificates/new"
    data = {
        "csrf_token": csrf_token(client, "/cards"),
        "kind": "027u",
        "purpose": "Для санатория",
        "period_from": dmy(clock.today() - timedelta(days=90)),
        "period_to": dmy(clock.today() - timedelta(days=1)),
    }
    data.update(changes)
    return client.post(page, data=data)


def confirm(client, patient_id: int, code: str):
    token = csrf_token(client, "/cards")
    return client.post(f"/card/{patient_id}/certificates/confirm", data={"csrf_token": token, "code": code})


def requests_of(app, patient_id: int) -> list[CertificateRequest]:
    with app.app_context():
        rows = list(
            db.session.scalars(sa.select(CertificateRequest).where(CertificateRequest.patient_id == patient_id))
        )
        db.session.expunge_all()
    return rows


def last_code(app, recipient: str) -> str:
    """The latest certificate code sent to ``recipient`` (other messages may come after it)."""
    body = [m for m in outbox(app, recipient) if m.kind == "code_certificate"][-1].body
    return re.search(r"\b(\d{6})\b", body).group(1)


def ordered(app, client, patient_id: int, recipient: str, **changes) -> CertificateRequest:
    """Order and confirm with the code sent to ``recipient``; the new request."""
    assert order(client, patient_id, **changes).status_code == 303
    assert confirm(client, patient_id, last_code(app, recipient)).status_code == 303
    return requests_of(app, patient_id)[-1]


def registrar_step(client, request_id: int, step: str, **data):
    token = csrf_token(client, "/clinic/certificates")
    return client.post(f"/clinic/certificates/{request_id}/{step}", data={"csrf_token": token, **data})


# -- ordering --------------------------------------------------------------------------------------


def test_bad_orders_answer_400_keep_what_was_typed_and_create_nothing(app, demo, login):
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    patient_id = demo["patient"].patient_id
    start = dmy(clock.today() - timedelta(days=10))
    response = order(
        client, patient_id, purpose="", period_from=start, period_to=dmy(clock.today() - timedelta(days=20))
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter where the certificate is needed" in html
    assert "The end of the period must be the same as or after its start" in html
    assert f'value="{start}"' in html and re.search(r'<input checked [^>]*value="027u"', html)
    assert 'required="None"' not in html
    response = order(client, patient_id, period_to=dmy(clock.today() + timedelta(days=3)))
    assert response.status_code == 400
    assert "The end of the period cannot be in the future" in response.get_data(as_text=True)
    response = order(client, patient_id, period_from="31.02.2026")
    assert "Enter the date as day, month and year" in response.get_data(as_text=True)
    response = order(client, patient_id, kind="025u")
    assert response.status_code == 400 and "Choose a certificate" in response.get_data(as_text=True)
    assert requests_of(app, patient_id) == []
    with app.app_context():
        assert db.session.scalar(sa.select(OneTimeCode.id).where(OneTimeCode.purpose == "certificate")) is None


def test_a_form_without_a_period_ignores_the_period(app, demo, login):
    client = login(demo["patient"])
    patient_id = demo["patient"].patient_id
    assert order(client, patient_id, kind="063u", period_from="", period_to="nonsense").status_code == 303


def test_only_the_right_code_creates_the_request(app, demo, login):
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    patient_id = demo["patient"].patient_id
    assert order(client, patient_id).headers["Location"].endswith(f"/card/{patient_id}/certificates/confirm")
    page = client.get(f"/card/{patient_id}/certificates/confirm").get_data(as_text=True)
    assert "Для санатория" in page and "Medical record extract (form 027/u)" in page
    code = last_code(app, demo["patient"].phone)
    wrong = confirm(client, patient_id, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and "The code is wrong or has expired" in wrong.get_data(as_text=True)
    assert requests_of(app, patient_id) == []

    response = confirm(client, patient_id, code)
    assert response.status_code == 303
    (row,) = requests_of(app, patient_id)
    assert re.fullmatch(r"С-\d{4}-\d{6}", row.number) and row.number.endswith(f"{row.id:06d}")
    assert (row.status, row.form, row.requested_by_id) == ("registered", "027u", demo["patient"].id)
    assert row.period_from == clock.today() - timedelta(days=90)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert row.number in detail and "Registered" in detail
    assert row.number in client.get(f"/card/{patient_id}/certificates").get_data(as_text=True)
    with app.app_context():
        events = list(
            db.session.scalars(
                sa.select(RequestEvent.status).where(
                    RequestEvent.request_kind == "certificate", RequestEvent.request_id == row.id
                )
            )
        )
        audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "certificate.requested"))
        note = db.session.scalar(sa.select(Notification).where(Notification.event == "request_status"))
    assert events == ["registered"]
    assert (audit.actor_id, audit.patient_id, audit.object_id) == (demo["patient"].id, patient_id, str(row.id))
    assert note.account_id == demo["patient"].id and row.number in note.params
    # The code worked once: the same order cannot be confirmed twice.
    assert confirm(client, patient_id, code).status_code == 200
    assert len(requests_of(app, patient_id)) == 1


# -- who may order ---------------------------------------------------------------------------------


def test_a_guardian_orders_for_a_child_under_15_only(app, demo, login):
    guardian = login(demo["guardian"])
    child = demo["child_9"].id
    assert guardian.get(f"/card/{child}/certificates/new").status_code == 200
    row = ordered(app, guardian, child, demo["guardian"].email, kind="079u", purpose="В лагерь «Орлёнок»")
    assert (row.status, row.requested_by_id) == ("registered", demo["guardian"].id)
    assert guardian.get(f"/card/{child}/certificates/{row.id}").status_code == 200
    # The child's request is not reachable through another card's address.
    smirnova = login(demo["patient"])
    assert smirnova.get(f"/card/{demo['patient'].patient_id}/certificates/{row.id}").status_code == 404
    older = demo["child_16"].id
    assert guardian.get(f"/card/{older}/certificates/new").status_code == 404
    assert order(guardian, older).status_code == 404
    assert requests_of(app, older) == []


def test_a_trusted_person_never_orders_even_with_add_and_strangers_get_404(app, demo, login):
    from portal.access import policy
    from portal.auth.models import Account
    from portal.record.models import Patient
    from portal.sharing.models import AccessGrant

    patient_id = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        grant.level, grant.sections = "add", ",".join(s for s in policy.SECTIONS if s != "access_log")
    with app.test_request_context():
        patient = db.session.get(Patient, patient_id)
        trusted = db.session.get(Account, demo["trusted"].id)
        assert policy.decide(trusted, "add", patient, "documents").allowed  # the grant itself works
        decision = policy.decide(trusted, "add", patient, policy.CERTIFICATES)
        assert not decision.allowed and "legal representative only" in decision.reason
        assert not policy.decide(
            db.session.get(Account, demo["doctor"].id), "read", patient, policy.CERTIFICATES
        ).allowed
    trusted = login(demo["trusted"])
    for path in ("", "/new", "/confirm"):
        assert trusted.get(f"/card/{patient_id}/certificates{path}").status_code == 404
    assert order(trusted, patient_id).status_code == 404
    for key in ("doctor_b", "guardian", "registrar"):
        assert login(demo[key]).get(f"/card/{patient_id}/certificates/new").status_code == 404
    assert requests_of(app, patient_id) == []


# -- the registrar ---------------------------------------------------------------------------------


def attach(patient_id: int, organisation_id: int) -> None:
    """Move every clinic attachment of the card (the demo history has one) to this clinic."""
    db.session.execute(
        sa.update(ClinicAttachment)
        .where(ClinicAttachment.patient_id == patient_id)
        .values(organisation_id=organisation_id)
    )


@pytest.fixture
def record(app, demo):
    """Smirnova is attached to clinic A (the registrar's), with a diagnosis and a vaccination."""
    from portal.auth.models import StaffMembership

    patient_id = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        org = db.session.scalar(
            sa.select(StaffMembership.organisation_id).where(StaffMembership.account_id == demo["registrar"].id)
        )
        from portal.record.models import Practitioner

        doctor = Practitioner(
            surname="Орлова", name="Анна", specialty="терапевт", registration_number="77-1", organisation_id=org
        )
        db.session.add(doctor)
        db.session.flush()
        common = {"patient_id": patient_id, "organisation_id": org}
        attach(patient_id, org)
        db.session.add_all(
            [
                ClinicAttachment(**common, since=clock.today() - timedelta(days=900)),
                Diagnosis(
                    **common,
                    practitioner_id=doctor.id,
                    code="J45.0",
                    title=DIAGNOSIS,
                    onset_on=clock.today() - timedelta(days=700),
                    status="active",
                ),
                Immunization(
                    **common, vaccine="Гам-Ковид-Вак", target="COVID", given_on=clock.today() - timedelta(days=300)
                ),
            ]
        )
        from portal.directory.models import Organisation

        name = db.session.get(Organisation, org).name
    return {"organisation": org, "organisation_name": name}


def test_the_registrar_issues_a_tagged_pdf_the_citizen_downloads_and_anyone_can_check(app, demo, login, record):
    citizen = login(demo["patient"])
    patient_id = demo["patient"].patient_id
    row = ordered(app, citizen, patient_id, demo["patient"].phone, kind="086u", purpose="Для колледжа")
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/certificates").get_data(as_text=True)
    assert row.number in queue and "Смирнова Елена Викторовна" in queue and "Для колледжа" in queue
    assert DIAGNOSIS not in queue and DIAGNOSIS not in registrar.get(f"/clinic/certificates/{row.id}").get_data(
        as_text=True
    )
    assert registrar_step(registrar, row.id, "take").status_code == 303
    issued = registrar_step(registrar, row.id, "issue")
    assert issued.status_code == 303 and issued.headers["Location"] == f"/clinic/certificates/{row.id}?done=issue"
    # The request never waits for the PDF: it answers with the job queued and no document made yet
    # (a wall-clock limit here failed on a loaded CI machine, where the redirect alone took 1.1 s).
    (waiting,) = requests_of(app, patient_id)
    assert waiting.document_id is None and queued(app) == 1
    # The document is being made: the page says so and polls; asking again queues nothing more.
    registrar.set_cookie("lang", "en")
    making = registrar.get(issued.headers["Location"]).get_data(as_text=True)
    assert "The document is being made" in making and 'role="status"' in making
    assert f'hx-get="/clinic/certificates/{row.id}/status"' in making and "Issue the certificate" not in making
    assert registrar.get(f"/clinic/certificates/{row.id}/status").status_code == 204
    assert registrar_step(registrar, row.id, "issue").status_code == 303
    assert queued(app) == 1
    assert run_jobs(app) == 1
    status = registrar.get(f"/clinic/certificates/{row.id}/status")
    assert status.status_code == 200 and "The certificate is issued" in status.get_data(as_text=True)
    assert "The certificate is issued" in registrar.get(issued.headers["Location"]).get_data(as_text=True)
    assert row.number not in registrar.get("/clinic/certificates").get_data(as_text=True)

    (row,) = requests_of(app, patient_id)
    with app.app_context():
        document = db.session.get(Document, row.document_id)
        statuses = list(
            db.session.scalars(
                sa.select(RequestEvent.status).where(
                    RequestEvent.request_kind == "certificate", RequestEvent.request_id == row.id
                )
            )
        )
        ready = db.session.scalar(sa.select(Notification).where(Notification.event == "certificate_ready"))
        db.session.expunge_all()
    assert statuses == ["registered", "in_progress", "ready"]
    assert (row.status, row.organisation_id) == ("ready", record["organisation"])
    # The document was made from the card: the patient sees the registrar's read and why.
    citizen.set_cookie("lang", "en")
    log = citizen.get(f"/card/{patient_id}/access-log").get_data(as_text=True)
    assert "Лебедева Ирина Владимировна, registrar" in log and f"for the request {row.number}" in log
    assert document.kind == "certificate" and document.patient_id == patient_id
    assert document.keep_until == clock.local_date(row.issued_at) + timedelta(days=365)
    assert document.search_text == document.title.casefold() and "086/у" in document.title
    assert ready.account_id == demo["patient"].id

    detail = citizen.get(f"/card/{patient_id}/certificates/{row.id}").get_data(as_text=True)
    assert f"/card/{patient_id}/certificates/{row.id}/document" in detail
    pdf = citizen.get(f"/card/{patient_id}/certificates/{row.id}/document")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Security-Policy"].startswith("sandbox")
    info = subprocess.run(["pdfinfo", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert re.search(r"^Tagged:\s+yes", info, re.M)
    with pikepdf.open(io.BytesIO(pdf.data)) as document:  # it says it is PDF/UA-1, in Russian, titled
        xmp = str(document.open_metadata())
        assert re.search(r"pdfuaid:part(>|=\")1", xmp), xmp
        assert str(document.Root.Lang) == "ru" and document.Root.MarkInfo.Marked
        assert document.Root.ViewerPreferences.DisplayDocTitle
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    text = " ".join(text.split())
    # Capitals and digits only: nothing a line can break at or a reader can mistype by case.
    assert re.fullmatch(r"[A-Z2-7]{16}", row.verification_code)
    url = f"{app.config['BASE_URL'].rstrip('/')}/verify/{row.verification_code}"
    for expected in ("Медицинская справка (форма 086/у)", "Смирнова Елена Викторовна", row.number, DIAGNOSIS, url):
        assert expected in text
    # The QR code a phone scans holds the same address, module for module.
    qr = [[bool(m) for m in row] for row in segno.make(url, error="m").matrix_iter(scale=1, border=0)]
    assert qr_on_first_page(pdf.data, len(qr)) == qr
    with app.app_context():
        download = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.export").order_by(AuditEvent.id.desc())
        )
    assert (download.actor_id, download.section, download.object_id) == (
        demo["patient"].id,
        "certificates",
        str(row.id),
    )
    # Anyone else is refused like a missing page.
    trusted = login(demo["trusted"])
    for path in ("", "/document"):
        assert trusted.get(f"/card/{patient_id}/certificates/{row.id}{path}").status_code == 404

    typed = app.test_client().get(f"/verify/{row.verification_code.lower()}")  # typed off the paper
    assert typed.status_code == 200 and row.number in typed.get_data(as_text=True)
    check = app.test_client().get(f"/verify/{row.verification_code}")
    html = check.get_data(as_text=True)
    assert check.status_code == 200
    for shown in (row.number, record["organisation_name"], "С.Е.В.", str(demo["patient"].birth_date.year)):
        assert shown in html
    assert DIAGNOSIS not in html and "J45" not in html and "Елена" not in html and "Для колледжа" not in html


def test_a_refusal_needs_a_reason_which_the_citizen_sees(app, demo, login, record):
    citizen = login(demo["patient"])
    citizen.set_cookie("lang", "en")
    patient_id = demo["patient"].patient_id
    row = ordered(app, citizen, patient_id, demo["patient"].phone, kind="health")
    registrar = login(demo["registrar"])
    registrar.set_cookie("lang", "en")
    empty = registrar_step(registrar, row.id, "refuse", reason=" ")
    assert empty.status_code == 400 and "Write the reason" in empty.get_data(as_text=True)
    assert registrar_step(registrar, row.id, "refuse", reason="Нужен осмотр врача").status_code == 303
    assert registrar_step(registrar, row.id, "issue").status_code == 303  # decided: back to the request
    detail = citizen.get(f"/card/{patient_id}/certificates/{row.id}").get_data(as_text=True)
    assert "Refused" in detail and "Нужен осмотр врача" in detail
    (row,) = requests_of(app, patient_id)
    assert (row.status, row.document_id) == ("refused", None)
    with app.app_context():
        events = list(
            db.session.scalars(
                sa.select(RequestEvent.note).where(
                    RequestEvent.request_kind == "certificate", RequestEvent.request_id == row.id
                )
            )
        )
        notes = list(db.session.scalars(sa.select(Notification.params).where(Notification.event == "request_status")))
    assert events == [None, "Нужен осмотр врача"] and "Нужен осмотр врача" in notes[-1]


def test_a_registrar_never_decides_their_own_and_sees_only_their_clinics(app, demo, login, record):
    registrar = login(demo["registrar"])
    registrar.set_cookie("lang", "en")
    own_card = demo["registrar"].patient_id
    with app.app_context(), write_transaction():
        attach(own_card, record["organisation"])
    own = ordered(app, registrar, own_card, demo["registrar"].phone, kind="063u")  # TOTP: the code comes by SMS
    page = registrar.get(f"/clinic/certificates/{own.id}").get_data(as_text=True)
    assert "another registrar must process it" in page
    assert registrar_step(registrar, own.id, "take").status_code == 404
    assert requests_of(app, own_card)[0].status == "registered"
    # Smirnova moves to clinic B: clinic A's registrar no longer sees her request.
    row = ordered(app, login(demo["patient"]), demo["patient"].patient_id, demo["patient"].phone, kind="063u")
    with app.app_context(), write_transaction():
        from portal.directory.models import Organisation

        other = db.session.scalar(sa.select(Organisation.id).where(Organisation.id != record["organisation"]))
        attach(demo["patient"].patient_id, other)
    assert row.number not in registrar.get("/clinic/certificates").get_data(as_text=True)
    assert registrar.get(f"/clinic/certificates/{row.id}").status_code == 404
    assert registrar_step(registrar, row.id, "take").status_code == 404


# -- the public check ------------------------------------------------------------------------------


def test_unknown_and_expired_documents(app, demo, record):
    client = app.test_client()
    client.set_cookie("lang", "en")
    missing = client.get("/verify/no-such-code")
    assert missing.status_code == 404 and "Document not found" in missing.get_data(as_text=True)
    with app.app_context(), write_transaction():
        row = CertificateRequest(
            patient_id=demo["patient"].patient_id,
            requested_by_id=demo["patient"].id,
            form="063u",
            purpose="Для школы",
            status="ready",
            number="С-2025-000001",
            organisation_id=record["organisation"],
            issued_at=datetime.now(UTC) - timedelta(days=400),
            verification_code="old-code-000000",
        )
        db.session.add(row)
    page = client.get("/verify/old-code-000000").get_data(as_text=True)
    assert "has expired" in page and "С-2025-000001" in page


def test_the_extract_holds_the_periods_entries_only(app, demo, record):
    from portal.certificates import service
    from portal.record.models import LabReport, Observation, Practitioner, Visit

    patient_id = demo["patient"].patient_id
    inside, outside = clock.today() - timedelta(days=20), clock.today() - timedelta(days=200)
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner.id))
        common = {"patient_id": patient_id, "organisation_id": record["organisation"], "practitioner_id": doctor}
        for day, text in ((inside, "Пить больше воды"), (outside, "Старая рекомендация")):
            moment = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
            db.session.add(Visit(**common, started_at=moment, kind="clinic", recommendations=text))
            report = LabReport(**common, code="58410-2", kind="lab", taken_at=moment, flagged=0)
            db.session.add(report)
            db.session.flush()
            db.session.add(
                Observation(patient_id=patient_id, report_id=report.id, loinc="718-7", value=131, taken_at=moment)
            )
    row = CertificateRequest(
        patient_id=patient_id, form="027u", period_from=clock.today() - timedelta(days=30), period_to=clock.today()
    )
    with app.test_request_context():
        found = service.record_content(row)
    recommendations = [v.recommendations for v in found["recommendations"]]
    assert "Пить больше воды" in recommendations and "Старая рекомендация" not in recommendations
    taken = {r.taken_at.date() for r, _obs in found["results"]}
    assert inside in taken and outside not in taken
    assert all(r.taken_at.date() >= row.period_from for r, _obs in found["results"])
    assert any(o.loinc == "718-7" for _r, obs in found["results"] for o in obs)
    assert DIAGNOSIS in [d.title for d in found["diagnoses"]]  # active since before the period
