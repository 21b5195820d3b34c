"""Identity verification: uploads checked by content and stored encrypted, the registrar's queue,
approval linking the card by SNILS, refusal with a reason, separation of duties."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pikepdf
import pytest
import sqlalchemy as sa
from PIL import Image

from portal.auth.models import Account, IdentityDocument
from portal.database import db
from portal.record.models import Patient
from tests.conftest import csrf_token, outbox

DETAILS = {
    "passport_series_number": "45 08 123456",
    "issued_on": "21.06.2019",
    "issued_by": "ГУ МВД России по г. Москве",
    "division_code": "770-001",
    "oms_number": "8451999122899990",
}


def png(width=60, height=40, exif_gps=False) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (50, 50), (10, 120, 10))
    exif = Image.Exif()
    exif[0x8825] = {2: (55.0, 45.0, 0.0), 1: "N"}  # GPSInfo
    exif[0x010F] = "SecretCam"  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def make_pdf(evil: bool = False) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    if evil:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


PDF = make_pdf()


def submit(client, files: dict[str, tuple[bytes, str]], **changes):
    data = {"csrf_token": csrf_token(client, "/auth/verification"), **DETAILS, **changes}
    for kind, (content, name) in files.items():
        data[f"{kind}_file"] = (io.BytesIO(content), name)
    return client.post("/auth/verification", data=data, content_type="multipart/form-data")


GOOD = {"passport": (png(), "паспорт.png"), "snils": (jpeg_with_gps(), "snils.jpg"), "oms": (PDF, "oms.pdf")}


@pytest.fixture
def citizen(app, demo, login):
    """A verified-to-be citizen: the applicant's account, reset to 'unverified'."""
    from portal.database import write_transaction

    with app.app_context(), write_transaction():
        account = db.session.get(Account, demo["applicant"].id)
        account.verification_status = "unverified"
    return login(demo["applicant"])


def test_submission_stores_the_documents_encrypted_and_puts_the_account_in_review(app, demo, citizen):
    response = submit(citizen, GOOD)
    assert response.status_code == 303
    with app.app_context():
        account = db.session.get(Account, demo["applicant"].id)
        docs = list(
            db.session.scalars(
                sa.select(IdentityDocument)
                .where(IdentityDocument.account_id == account.id)
                .order_by(IdentityDocument.id.desc())
                .limit(3)
            )
        )
    assert account.verification_status == "in_review"
    upload_dir = Path(app.config["UPLOAD_DIR"]).resolve()
    for doc in docs:
        stored = next(upload_dir.rglob(doc.storage_key))
        assert upload_dir in stored.resolve().parents
        raw = stored.read_bytes()
        assert not raw.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff"))  # encrypted at rest
    assert {d.filename for d in docs} == {"паспорт.png", "snils.jpg", "oms.pdf"}


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("evil.html", b"<html><script>alert(1)</script></html>", "must be a PDF, JPG or PNG"),
        (
            "x.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "must be a PDF, JPG or PNG",
        ),
        ("passport.pdf.html", b"<html></html>", "must be a PDF, JPG or PNG"),
        ("fake.png", b"GIF89a" + b"\x00" * 100, "must be a PDF, JPG or PNG"),
        ("big.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), "smaller than 5 MB"),
        ("script.pdf", make_pdf(evil=True), "scripts, links, forms with actions or attachments"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "damaged"),
    ],
)
def test_bad_files_are_refused_with_a_reason_and_nothing_is_kept(app, demo, citizen, name, content, message):
    citizen.set_cookie("lang", "en")
    before = list(Path(app.config["UPLOAD_DIR"]).rglob("*")) if Path(app.config["UPLOAD_DIR"]).exists() else []
    response = submit(citizen, {**GOOD, "passport": (content, name)}, issued_by="Кем-то выдан")
    html = response.get_data(as_text=True)
    assert response.status_code in (400, 413)
    if response.status_code == 400:
        assert message in html
        assert 'value="Кем-то выдан"' in html  # what was typed comes back
    after = list(Path(app.config["UPLOAD_DIR"]).rglob("*")) if Path(app.config["UPLOAD_DIR"]).exists() else []
    assert len(after) == len(before)
    with app.app_context():
        assert db.session.get(Account, demo["applicant"].id).verification_status == "unverified"


def test_a_decompression_bomb_is_refused(app, citizen):
    citizen.set_cookie("lang", "en")
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    response = submit(citizen, {**GOOD, "passport": (out.getvalue(), "bomb.png")})
    assert response.status_code == 400 and "too large" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("oms_number", "8451999122899991", "check digit does not match"),
        ("passport_series_number", "45 08 12345", "4 digits of the series and 6 of the number"),
        ("division_code", "77-001", "6 digits"),
        ("issued_on", "01.01.2100", "must be in the past"),
    ],
)
def test_details_are_validated(app, citizen, field, value, message):
    citizen.set_cookie("lang", "en")
    response = submit(citizen, GOOD, **{field: value})
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def registrar_decides(app, demo, login, approve=True, reason=None):
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/verifications").get_data(as_text=True)
    request_id = re.findall(r"/clinic/verifications/(\d+)", queue)[-1]
    page = f"/clinic/verifications/{request_id}"
    token = csrf_token(registrar, page)
    if approve:
        return registrar.post(f"{page}/approve", data={"csrf_token": token}), registrar, request_id
    return registrar.post(f"{page}/reject", data={"csrf_token": token, "reason": reason or ""}), registrar, request_id


def test_the_registrar_approves_and_the_account_is_linked_to_the_card_with_that_snils(app, demo, citizen, login):
    submit(citizen, GOOD)
    response, registrar, request_id = registrar_decides(app, demo, login)
    assert response.status_code == 303
    with app.app_context():
        account = db.session.get(Account, demo["applicant"].id)
        patient = db.session.get(Patient, account.patient_id)
    assert account.verification_status == "verified" and patient.snils == account.snils
    assert [m.kind for m in outbox(app, account.email)][-1] == "verification"
    assert citizen.get("/cards").headers["Location"] == "/consent/"  # next step: consent


def test_the_registrar_can_open_the_documents_with_safe_headers(app, demo, citizen, login):
    submit(citizen, GOOD)
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/verifications").get_data(as_text=True)
    request_id = re.findall(r"/clinic/verifications/(\d+)", queue)[-1]
    page = registrar.get(f"/clinic/verifications/{request_id}").get_data(as_text=True)
    links = re.findall(r'href="(/clinic/verifications/\d+/documents/\d+)"', page)
    assert len(links) == 3
    downloads = {registrar.get(link).headers["Content-Type"]: registrar.get(link) for link in links}
    jpeg = downloads["image/jpeg"]
    assert jpeg.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert jpeg.headers["Cache-Control"] == "no-store" and jpeg.headers["X-Content-Type-Options"] == "nosniff"
    assert jpeg.headers["Content-Disposition"].startswith("attachment;")
    with Image.open(io.BytesIO(jpeg.data)) as image:
        assert not image.getexif()  # re-encoded: GPS and camera data are gone
    assert downloads["application/pdf"].data == PDF


def test_a_refusal_needs_a_reason_which_the_citizen_sees(app, demo, citizen, login):
    submit(citizen, GOOD)
    response, _registrar, _id = registrar_decides(app, demo, login, approve=False, reason="")
    assert response.status_code == 400
    response, _registrar, _id = registrar_decides(app, demo, login, approve=False, reason="Скан паспорта нечитаем")
    assert response.status_code == 303
    citizen.set_cookie("lang", "en")
    html = citizen.get("/auth/verification").get_data(as_text=True)
    assert "Refused" in html and "Скан паспорта нечитаем" in html
    assert submit(citizen, GOOD).status_code == 303  # and can send again


def test_a_registrar_never_decides_their_own_verification(app, demo, login):
    from portal.auth import verification as verifying
    from portal.auth.models import VerificationRequest
    from portal.database import write_transaction

    with app.app_context():
        with write_transaction():
            db.session.add(
                VerificationRequest(
                    account_id=demo["registrar"].id,
                    passport_series="4508",
                    passport_number="111111",
                    passport_issued_on=demo["registrar"].birth_date.replace(year=2020),
                    passport_issued_by="x",
                    passport_division_code="770001",
                    oms_number="8451999122899990",
                )
            )
        own = db.session.scalar(
            sa.select(VerificationRequest.id).where(VerificationRequest.account_id == demo["registrar"].id)
        )
        registrar = db.session.get(Account, demo["registrar"].id)
        with pytest.raises(verifying.NotAllowed):
            verifying.decide(own, registrar, approve=True)
    client = login(demo["registrar"])
    token = csrf_token(client, f"/clinic/verifications/{own}")
    assert client.post(f"/clinic/verifications/{own}/approve", data={"csrf_token": token}).status_code == 404


def test_a_path_in_the_file_name_is_only_a_name(app, demo, citizen):
    submit(citizen, {**GOOD, "passport": (png(), "../../portal/__init__.py.png")})
    with app.app_context():
        doc = db.session.scalar(
            sa.select(IdentityDocument)
            .order_by(IdentityDocument.id.desc())
            .where(IdentityDocument.kind == "passport")
            .limit(1)
        )
    assert doc.filename == "__init__.py.png" and "/" not in doc.storage_key


@pytest.mark.parametrize("approve", [True, False])
def test_the_documents_of_a_decided_request_are_no_longer_opened(app, demo, citizen, login, approve):
    """The scans serve the check; once it is decided they are kept but a registrar no longer
    downloads them (404, the refusal audited), and the page no longer links them."""
    from portal.audit.models import AuditEvent

    submit(citizen, GOOD)
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/verifications").get_data(as_text=True)
    request_id = re.findall(r"/clinic/verifications/(\d+)", queue)[-1]
    page = f"/clinic/verifications/{request_id}"
    links = re.findall(r'href="(/clinic/verifications/\d+/documents/\d+)"', registrar.get(page).get_data(as_text=True))
    assert len(links) == 3 and registrar.get(links[0]).status_code == 200
    response, registrar, _id = registrar_decides(app, demo, login, approve=approve, reason="Скан нечитаем")
    assert response.status_code == 303
    assert [registrar.get(link).status_code for link in links] == [404, 404, 404]
    assert "/documents/" not in registrar.get(page).get_data(as_text=True)
    with app.app_context():
        outcomes = list(
            db.session.scalars(
                sa.select(AuditEvent.outcome)
                .where(AuditEvent.action == "verification.document_viewed", AuditEvent.actor_id == demo["registrar"].id)
                .order_by(AuditEvent.id)
            )
        )
    assert outcomes == ["success", "denied", "denied", "denied"]


# -- details that already belong to someone else (issue 8, point 17) -------------------------------


def give_policy(app, patient_id: int, number: str) -> None:
    from datetime import date

    from portal.database import write_transaction
    from portal.record.models import InsurancePolicy

    with app.app_context(), write_transaction():
        db.session.add(
            InsurancePolicy(
                patient_id=patient_id,
                number=number,
                insurer="СОГАЗ-Мед",
                region_code="84",
                status="active",
                valid_from=date(2020, 1, 1),
            )
        )


def approve_with(registrar, request_id: str, **data):
    page = f"/clinic/verifications/{request_id}"
    return registrar.post(f"{page}/approve", data={"csrf_token": csrf_token(registrar, page), **data})


def pending(login, demo):
    registrar = login(demo["registrar"])
    registrar.set_cookie("lang", "en")
    queue = registrar.get("/clinic/verifications").get_data(as_text=True)
    return registrar, re.findall(r"/clinic/verifications/(\d+)", queue)[-1]


def approvals(app) -> list[str | None]:
    from portal.audit.models import AuditEvent

    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.reason).where(AuditEvent.action == "verification.approved").order_by(AuditEvent.id)
            )
        )


def test_a_policy_number_on_another_card_is_warned_of_and_approval_needs_a_reason(app, demo, citizen, login):
    give_policy(app, demo["patient"].patient_id, DETAILS["oms_number"])  # Smirnova's card holds it
    submit(citizen, GOOD)
    registrar, request_id = pending(login, demo)
    page = registrar.get(f"/clinic/verifications/{request_id}").get_data(as_text=True)
    assert "This OMS policy number is already on another person" in page and "Check before you confirm" in page
    assert 'name="approve-reason"' in page and "Смирнова" not in page  # whose card is not told

    response = approve_with(registrar, request_id, **{"approve-reason": "  "})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="error-summary"' in html
    assert 'href="#approve-reason"' in html and "Write why you confirm the identity despite the warning" in html
    with app.app_context():
        assert db.session.get(Account, demo["applicant"].id).verification_status == "in_review"
    assert approvals(app) == []

    reason = "Полис переоформлен на заявителя, оригинал проверен"
    assert approve_with(registrar, request_id, **{"approve-reason": reason}).status_code == 303
    with app.app_context():
        assert db.session.get(Account, demo["applicant"].id).verification_status == "verified"
    [audited] = approvals(app)
    assert audited.startswith("oms already belong") and audited.endswith(reason)


def test_a_passport_confirmed_for_another_account_is_warned_of(app, demo, citizen, login):
    from datetime import UTC, date, datetime

    from portal.auth.models import VerificationRequest
    from portal.database import write_transaction

    with app.app_context(), write_transaction():
        db.session.add(
            VerificationRequest(
                account_id=demo["trusted"].id,
                passport_series="4508",
                passport_number="123456",  # DETAILS' passport
                passport_issued_on=date(2019, 6, 21),
                passport_issued_by="ГУ МВД России по г. Москве",
                passport_division_code="770001",
                oms_number="7700000000000000",
                decided_at=datetime.now(UTC),
                decided_by_id=demo["registrar"].id,
                decision="approved",
            )
        )
    submit(citizen, GOOD)
    registrar, request_id = pending(login, demo)
    page = registrar.get(f"/clinic/verifications/{request_id}").get_data(as_text=True)
    assert "This passport is already confirmed for another account" in page and "OMS policy number is" not in page
    assert approve_with(registrar, request_id).status_code == 400
    assert approve_with(registrar, request_id, **{"approve-reason": "Паспорт проверен лично"}).status_code == 303
    assert approvals(app)[-1].startswith("passport already belong")


def test_details_of_nobody_else_need_no_reason(app, demo, citizen, login):
    submit(citizen, GOOD)
    registrar, request_id = pending(login, demo)
    page = registrar.get(f"/clinic/verifications/{request_id}").get_data(as_text=True)
    assert "Check before you confirm" not in page and 'name="approve-reason"' not in page
    assert approve_with(registrar, request_id).status_code == 303
    assert approvals(app) == [None]


def test_a_card_linked_to_another_account_is_never_linked_twice(app, demo, citizen, login):
    from portal.database import write_transaction

    with app.app_context(), write_transaction():
        applicant = db.session.get(Account, demo["applicant"].id)
        card = Patient(
            surname=applicant.surname,
            name=applicant.name,
            patronymic=applicant.patronymic,
            birth_date=applicant.birth_date,
            sex=applicant.sex,
            snils=applicant.snils,
        )
        db.session.add(card)
        db.session.flush()
        db.session.get(Account, demo["auditor"].id).patient_id = card.id
    submit(citizen, GOOD)
    registrar, request_id = pending(login, demo)
    page = registrar.get(f"/clinic/verifications/{request_id}").get_data(as_text=True)
    assert "The card with this SNILS is already linked to another account" in page
    response = approve_with(registrar, request_id, **{"approve-reason": "Проверено"})
    assert response.status_code == 400 and "refuse the request" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Account, demo["applicant"].id).patient_id is None
