"""What an upload may cost: images refused by their header's size before a pixel is decoded,
a daily quota per account, the same file sent again within minutes kept once (however many
copies arrive at the same moment), and no file left behind by a transaction that fails."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
import sqlalchemy as sa
import time_machine
from PIL import Image

from portal import clock
from portal.corrections.models import CorrectionFile, CorrectionRequest
from portal.database import db, write_transaction
from portal.record.models import Document, Immunization
from tests.conftest import ON_POSTGRES, csrf_token, session_for
from tests.test_corrections import make_entries

TOO_LARGE = "The image is too large. Scan it at a lower resolution"
QUOTA = "You have uploaded 3 files in the last 24 hours"
QUOTA_RU = "За последние 24 часа вы загрузили столько файлов, сколько можно одной учётной записи (3)"
REPEATED = "This file was already uploaded to this card a few minutes ago"


# -- files ----------------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def grey_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A greyscale PNG of ``width`` × ``height`` whose data holds ``rows`` rows (all by default:
    a whole, valid image; fewer: a header promising more than the file holds)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\xee" * width
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    data += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is changed to claim ``width`` × ``height``."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(out, format="JPEG")
    data = bytearray(out.getvalue())
    at = data.index(b"\xff\xc0") + 5  # SOF0: length (2), precision (1), then height and width
    data[at : at + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def distinct_pdf(label: str) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Title"] = label
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


# -- helpers --------------------------------------------------------------------------------------


def upload(client, patient_id: int, data: bytes, name: str = "scan.pdf", title: str = "Выписка"):
    path = f"/card/{patient_id}/documents/upload"
    form = {
        "csrf_token": csrf_token(client, path),
        "title": title,
        "document_date": (clock.today() - timedelta(days=3)).strftime("%d.%m.%Y"),
        "kind": "discharge",
        "file": (io.BytesIO(data), name),
    }
    return client.post(path, data=form, content_type="multipart/form-data")


def signed_in(app, account, lang: str = "en"):
    client = app.test_client()
    session_for(app, client, account.id)
    client.set_cookie("lang", lang)
    return client


def documents_of(app, patient_id: int) -> list[Document]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Document).where(Document.patient_id == patient_id)))
        db.session.expunge_all()
    return rows


def stored_files(app) -> set[Path]:
    base = Path(app.config["UPLOAD_DIR"])
    return {p for p in base.rglob("*") if p.is_file()} if base.exists() else set()


@pytest.fixture(autouse=True)
def cards_without_documents(app, demo):
    """Each test sees only the documents it adds to Smirnova's and Дарья's cards, and the demo's
    error reports (with a file) were made two days ago, outside any account's quota."""
    with app.app_context(), write_transaction():
        db.session.execute(sa.update(CorrectionRequest).values(created_at=datetime.now(UTC) - timedelta(days=2)))
        cards = [demo["patient"].patient_id, demo["child_9"].id]
        db.session.execute(sa.delete(Immunization).where(Immunization.patient_id.in_(cards)))
        db.session.execute(sa.delete(Document).where(Document.patient_id.in_(cards)))


# -- images: the header's size first --------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: grey_png(8000, 5000),  # 40 megapixels, whole and valid: once decoded in 2.7 s
        lambda: grey_png(6000, 5000, rows=1),  # 30 megapixels promised, one row given
        lambda: jpeg_claiming(6000, 5000),
    ],
    ids=["valid 40 MP PNG", "30 MP PNG header", "30 MP JPEG header"],
)
def test_an_image_too_large_is_refused_by_its_header(app, demo, make):
    """Refused as too large, not as damaged: the header decided, no pixel was decoded."""
    card = demo["patient"].patient_id
    client = signed_in(app, demo["patient"])
    before = stored_files(app)
    response = upload(client, card, make(), name="scan.png")
    assert response.status_code == 400 and TOO_LARGE in response.get_data(as_text=True)
    assert documents_of(app, card) == [] and stored_files(app) == before


def test_an_ordinary_scan_is_still_accepted(app, demo):
    card = demo["patient"].patient_id
    client = signed_in(app, demo["patient"])
    assert upload(client, card, grey_png(2480, 3508), name="scan.png").status_code == 303  # A4, 300 dpi
    [document] = documents_of(app, card)
    assert document.content_type == "image/png"


# -- the quota ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "message"), [("en", QUOTA), ("ru", QUOTA_RU)])
def test_an_account_past_its_daily_uploads_is_told_and_nothing_is_stored(app_factory, demo, lang, message):
    limited = app_factory(UPLOADS_PER_DAY=3)
    card = demo["patient"].patient_id
    client = signed_in(limited, demo["patient"], lang)
    for n in range(3):
        assert upload(client, card, distinct_pdf(f"scan {n}")).status_code == 303
    before = stored_files(limited)
    response = upload(client, card, distinct_pdf("scan 3"), title="Четвёртый снимок")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page and 'value="Четвёртый снимок"' in page
    assert len(documents_of(limited, card)) == 3 and stored_files(limited) == before


def test_the_quota_counts_the_files_of_error_reports_too(app_factory, demo):
    limited = app_factory(UPLOADS_PER_DAY=3)
    patient = demo["patient"]
    entries = make_entries(limited, patient.patient_id)
    client = signed_in(limited, patient)
    for n in range(2):
        assert upload(client, patient.patient_id, distinct_pdf(f"scan {n}")).status_code == 303
    path = f"/card/{patient.patient_id}/allergies/{entries['allergies']}/report-error"
    form = {
        "csrf_token": csrf_token(client, path),
        "description": "Реакция указана неверно, была сыпь",
        "files": [(io.BytesIO(distinct_pdf(f"report {n}")), f"{n}.pdf") for n in range(2)],
    }
    response = client.post(path, data=form, content_type="multipart/form-data")
    assert response.status_code == 400 and QUOTA in response.get_data(as_text=True)
    with limited.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CorrectionFile)) == 1  # the demo's


def test_the_quota_is_for_the_last_24_hours(app_factory, demo):
    limited = app_factory(UPLOADS_PER_DAY=3)
    card = demo["patient"].patient_id
    client = signed_in(limited, demo["patient"])
    for n in range(3):
        assert upload(client, card, distinct_pdf(f"scan {n}")).status_code == 303
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=True):
        client = signed_in(limited, demo["patient"])
        assert upload(client, card, distinct_pdf("scan 3")).status_code == 303
    assert len(documents_of(limited, card)) == 4


# -- the same file again --------------------------------------------------------------------------


def test_the_same_file_sent_again_within_minutes_is_one_document(app, demo):
    card = demo["patient"].patient_id
    client = signed_in(app, demo["patient"])
    data = distinct_pdf("выписка")
    assert upload(client, card, data, title="Выписка").status_code == 303
    files = stored_files(app)
    again = upload(client, card, data, title="Выписка ещё раз")
    assert again.status_code == 303 and "repeated=1" in again.headers["Location"]
    assert REPEATED in client.get(again.headers["Location"]).get_data(as_text=True)
    assert [d.title for d in documents_of(app, card)] == ["Выписка"] and stored_files(app) == files


def test_the_same_file_later_or_to_another_card_or_by_another_person_is_a_new_document(app, demo):
    card, child = demo["patient"].patient_id, demo["child_9"].id
    data = distinct_pdf("справка")
    guardian = signed_in(app, demo["guardian"])
    assert upload(guardian, child, data).status_code == 303
    with app.app_context(), write_transaction():  # the trusted person may add to Smirnova's documents
        from portal.sharing.models import AccessGrant

        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.grantee_id == demo["trusted"].id))
        grant.sections, grant.level = "documents", "add"
    assert upload(signed_in(app, demo["patient"]), card, data).status_code == 303
    assert upload(signed_in(app, demo["trusted"]), card, data).status_code == 303
    assert len(documents_of(app, card)) == 2
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11), tick=True):
        assert upload(signed_in(app, demo["guardian"]), child, data).status_code == 303
    assert len(documents_of(app, child)) == 2


def test_twenty_identical_uploads_at_once_make_one_document(app_factory, demo):
    """A double click twenty times over: whichever request commits first stores the file, the
    others find it (PostgreSQL too, where nothing serialises writers but the row lock)."""
    busy = app_factory(SQLITE_BUSY_TIMEOUT_MS=120_000)
    card = demo["patient"].patient_id
    data = distinct_pdf("двадцать раз")
    clients = [signed_in(busy, demo["patient"]) for _ in range(20)]
    tokens = [csrf_token(c, f"/card/{card}/documents/upload") for c in clients]
    before = stored_files(busy)
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def send(client, token) -> None:
        form = {
            "csrf_token": token,
            "title": "Выписка",
            "document_date": "01.02.2025",
            "kind": "discharge",
            "file": (io.BytesIO(data), "scan.pdf"),
        }
        barrier.wait()
        statuses.append(client.post(f"/card/{card}/documents/upload", data=form).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert statuses == [303] * 20
    assert len(documents_of(busy, card)) == 1 and len(stored_files(busy) - before) == 1


# -- a transaction that fails ---------------------------------------------------------------------


def refuse_inserts(app, table: str) -> None:
    """Make the database refuse every new row of ``table``, as a full disk or a broken
    constraint would: the write transaction fails inside the database, not in our code."""
    with app.app_context(), db.engine.begin() as conn:
        if ON_POSTGRES:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            conn.execute(
                sa.text(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_insert()")
            )
        else:
            conn.execute(
                sa.text(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END")
            )


def test_a_document_the_database_refuses_leaves_no_file(app, demo):
    card = demo["patient"].patient_id
    client = signed_in(app, demo["patient"])
    refuse_inserts(app, "document")
    before = stored_files(app)
    assert upload(client, card, distinct_pdf("refused")).status_code == 500
    assert documents_of(app, card) == [] and stored_files(app) == before


def test_a_vaccination_the_database_refuses_leaves_no_certificate_file(app, demo):
    """The certificate's row and file are written, then the vaccination's row is refused."""
    card = demo["patient"].patient_id
    client = signed_in(app, demo["patient"])
    refuse_inserts(app, "immunization")
    before = stored_files(app)
    path = f"/card/{card}/vaccinations/add"
    form = {
        "csrf_token": csrf_token(client, path),
        "vaccine": "Приорикс",
        "target": "MMR",
        "given_on": "01.02.2025",
        "dose_number": "1",
        "place": "Поликлиника в Казани",
        "certificate": (io.BytesIO(distinct_pdf("certificate")), "certificate.pdf"),
    }
    assert client.post(path, data=form, content_type="multipart/form-data").status_code == 500
    assert documents_of(app, card) == [] and stored_files(app) == before


def test_an_error_report_the_database_refuses_leaves_no_file(app, demo):
    patient = demo["patient"]
    entries = make_entries(app, patient.patient_id)
    client = signed_in(app, patient)
    path = f"/card/{patient.patient_id}/allergies/{entries['allergies']}/report-error"
    token = csrf_token(client, path)
    refuse_inserts(app, "correction_file")
    before = stored_files(app)
    form = {
        "csrf_token": token,
        "description": "Реакция указана неверно, была сыпь",
        "files": [(io.BytesIO(distinct_pdf(f"report {n}")), f"{n}.pdf") for n in range(2)],
    }
    assert client.post(path, data=form, content_type="multipart/form-data").status_code == 500
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CorrectionRequest)) == 1  # the demo's
    assert stored_files(app) == before
