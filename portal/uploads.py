"""Uploaded files: checked by content, images re-encoded, stored encrypted outside static.

PDF, JPEG and PNG only, up to 5 MB, recognised by their bytes, never by name or Content-Type.
Images are refused by their header's width and height before a pixel is decoded (decoding a
40-megapixel PNG took 2.7 s of CPU), then decoded and re-encoded, which drops EXIF and GPS
metadata. A PDF is parsed by qpdf (pikepdf) and every object walked, whatever its depth, in
object streams and later revisions too: an encrypted PDF, or one with anything active (a
script, any action, an attachment, a form sending data, multimedia), is refused. The server
names the stored file; the original name is kept only as cleaned-up metadata. A file is
written after the row naming it and removed again if that row's transaction rolls back.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app
from flask_babel import lazy_gettext as _l
from PIL import Image

from portal import crypto
from portal.database import after_rollback, in_write_transaction

MAX_BYTES = 5 * 1024 * 1024
# A page scanned at 300 dpi is 9 megapixels, a phone photo 12 to 24; decoding one of 40 took
# 2.7 s of CPU. The header's dimensions are checked before a single pixel is decoded.
MAX_PIXELS = 24_000_000
SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
# Names a scanned medical document never needs: scripts, actions that open, send or fetch
# something, attachments, forms in XFA, multimedia. Refused wherever they occur, as a key or a value.
PDF_DENIED_NAMES = frozenset(
    {
        "/JavaScript", "/JS", "/AA", "/Launch", "/SubmitForm", "/ImportData", "/ResetForm", "/GoToR",
        "/GoToE", "/GoTo3DView", "/URI", "/Hide", "/SetOCGState", "/Named",
        "/RichMedia", "/RichMediaExecute", "/EmbeddedFile", "/EmbeddedFiles", "/FileAttachment",
        "/XFA", "/Sound", "/Movie", "/Rendition", "/Screen", "/3D", "/3DD",
    }
)  # fmt: skip
# Every action type of ISO 32000-2 (12.6.4). A scan needs none, so none is allowed: a link in
# a PDF may only go to one of its own pages by a destination.
PDF_ACTION_TYPES = frozenset(
    {
        "/GoTo", "/GoToR", "/GoToE", "/GoToDp", "/Launch", "/Thread", "/URI", "/Sound", "/Movie",
        "/Hide", "/Named", "/SubmitForm", "/ResetForm", "/ImportData", "/SetOCGState", "/Rendition",
        "/Trans", "/GoTo3DView", "/JavaScript", "/RichMediaExecute",
    }
)  # fmt: skip
PDF_ALLOWED_ACTIONS: frozenset[str] = frozenset()
# Annotations that only show something (a note, a highlight, a form field's look) or go to a page.
PDF_ALLOWED_ANNOTATIONS = frozenset(
    {
        "/Link", "/Widget", "/Popup", "/Text", "/FreeText", "/Highlight", "/Underline", "/Squiggly",
        "/StrikeOut", "/Square", "/Circle", "/Line", "/Polygon", "/PolyLine", "/Ink", "/Stamp", "/Caret",
    }
)  # fmt: skip
_PDF_DAMAGED = _l("The PDF is damaged. Save it again and upload the new file")
_PDF_ENCRYPTED = _l("The PDF is protected by a password or encryption. Save it without protection and upload it again")


class UploadError(ValueError):
    """The file is refused; the message says why, in words the user can act on."""


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes


def clean_filename(name: str | None, content_type: str) -> str:
    """A display name without paths, control characters or a misleading extension."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f\"<>|:*?]", "", name).strip(" .") or "document"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem[:120] + EXTENSIONS[content_type]


def _too_large() -> UploadError:
    return UploadError(_l("The image is too large. Scan it at a lower resolution"))


def _reencode(data: bytes, content_type: str) -> bytes:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # Image.open reads only the header: refuse by its width and height before load()
            # decodes anything.
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _too_large()
                image.load()
                fmt = "PNG" if content_type == "image/png" else "JPEG"
                if fmt == "JPEG" and image.mode not in ("RGB", "L"):
                    image = image.convert("RGB")
                out = io.BytesIO()
                image.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
                return out.getvalue()
        except UploadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large() from exc
        except Exception as exc:
            raise UploadError(_l("The image is damaged or not really a JPG or PNG")) from exc


def _pdf_refused() -> UploadError:
    return UploadError(
        _l("The PDF contains scripts, links, forms with actions or attachments. Print it to a new PDF or scan it again")
    )


# Uncompressed stream bodies are skipped by the raw scan: random image bytes may spell a name.
_STREAM_BODY = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)
_NAME_TOKEN = re.compile(rb"/([^\x00\t\n\x0c\r /\[\]<>(){}%]*)")
_REBUILT = re.compile(r"reconstruct|damaged|xref|cross-reference", re.IGNORECASE)
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _raw_names(data: bytes) -> set[str]:
    """Every name token written outside stream bodies, ``#xx`` escapes decoded. A second look
    for what the parser may not reach: an object an older revision or a broken cross-reference
    table left in the file, which a lenient viewer might still find by scanning."""
    text = _STREAM_BODY.sub(b" ", data)
    return {
        "/" + _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), token).decode("latin-1")
        for token in _NAME_TOKEN.findall(text)
    }


def _pdf_is_passive(pdf) -> bool:
    """Walk every object of the PDF (the trailer, every object of the cross-reference table,
    those inside object streams among them, and everything they reach): no depth limit, each
    indirect object once, so cycles end. False at the first thing a scan has no use for."""
    import pikepdf

    refused_actions = PDF_ACTION_TYPES - PDF_ALLOWED_ACTIONS
    seen: set[tuple[int, int]] = set()
    stack: list = [pdf.trailer, *pdf.objects]
    while stack:
        obj = stack.pop()
        if getattr(obj, "is_indirect", False):
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            for key in obj.keys():  # noqa: SIM118 - a pikepdf Dictionary, not a dict
                value = obj.get(key)
                if key in PDF_DENIED_NAMES:
                    return False
                is_type = key in ("/S", "/Type", "/Subtype") and isinstance(value, pikepdf.Name)
                if is_type and (str(value) in refused_actions or str(value) == "/Action"):
                    return False
                if key == "/OpenAction" and not isinstance(value, pikepdf.Array):
                    return False  # a destination ([page /Fit]) is harmless; an action is not
                if key == "/Annots" and isinstance(value, pikepdf.Array):
                    for annotation in value:
                        if not isinstance(annotation, pikepdf.Dictionary):
                            continue
                        if str(annotation.get("/Subtype")) not in PDF_ALLOWED_ANNOTATIONS:
                            return False
                        if "/A" in annotation or "/AA" in annotation:
                            return False  # a link goes to a page (/Dest), never runs an action
                stack.append(value)
        elif isinstance(obj, pikepdf.Array):
            stack.extend(obj)
        elif isinstance(obj, pikepdf.Name) and str(obj) in PDF_DENIED_NAMES:
            return False
    return True


def _check_pdf(data: bytes) -> None:
    """Refuse a PDF that is damaged, encrypted or holds anything active (see PDF_DENIED_NAMES,
    PDF_ACTION_TYPES and PDF_ALLOWED_ANNOTATIONS); the bytes are parsed by qpdf (pikepdf)."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted:
                raise UploadError(_PDF_ENCRYPTED)
            # qpdf had to rebuild a broken cross-reference table: another reader may rebuild it
            # differently and see objects we did not check. (Other repairs, such as a page with
            # no /Resources, change no object a reader finds.)
            if any(_REBUILT.search(warning) for warning in pdf.get_warnings()):
                raise UploadError(_PDF_DAMAGED)
            passive = _pdf_is_passive(pdf)
    except UploadError:
        raise
    except pikepdf.PasswordError as exc:
        raise UploadError(_PDF_ENCRYPTED) from exc
    except Exception as exc:
        raise UploadError(_PDF_DAMAGED) from exc
    if not passive or _raw_names(data) & PDF_DENIED_NAMES:
        raise _pdf_refused()


def check(storage) -> CheckedFile:
    """Check a werkzeug FileStorage; raise UploadError with the reason."""
    if storage is None or not storage.filename:
        raise UploadError(_l("Choose a file"))
    data = storage.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise UploadError(_l("The file must be smaller than 5 MB"))
    if not data:
        raise UploadError(_l("The file is empty"))
    content_type = next((t for sig, t in SIGNATURES.items() if data.startswith(sig)), None)
    if content_type is None:
        raise UploadError(_l("The file must be a PDF, JPG or PNG"))
    if content_type == "application/pdf":
        _check_pdf(data)
    else:
        data = _reencode(data, content_type)
    return CheckedFile(clean_filename(storage.filename, content_type), content_type, data)


def _path(key: str) -> Path:
    base = Path(current_app.config["UPLOAD_DIR"]).resolve()
    path = (base / key[:2] / key).resolve()
    if base not in path.parents:
        raise ValueError("storage key outside the upload folder")
    return path


def new_key() -> str:
    """A storage key for a file to be written with ``write``: a row can name it before it exists."""
    return secrets.token_hex(16)


def write(key: str, data: bytes, purpose: str) -> None:
    """Encrypt and write the file under ``key``. Inside a write transaction the file is removed
    again if the transaction rolls back, so no file outlives a row that never was: write it
    after the row naming it is flushed, and a row the database refuses leaves no file at all."""
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if in_write_transaction():
        after_rollback(lambda: remove(key))
    path.write_bytes(crypto.encrypt(data, f"upload:{purpose}:{key}"))


def store(data: bytes, purpose: str) -> str:
    """Encrypt and write under a new key; return the key (see ``write``)."""
    key = new_key()
    write(key, data, purpose)
    return key


def digest(data: bytes) -> str:
    """The SHA-256 of a checked file's bytes: the same file uploaded twice has the same one."""
    return hashlib.sha256(data).hexdigest()


def load(key: str, purpose: str) -> bytes:
    return crypto.decrypt(_path(key).read_bytes(), f"upload:{purpose}:{key}")


def remove(key: str) -> None:
    _path(key).unlink(missing_ok=True)


def download(
    data: bytes, filename: str, content_type: str, inline: bool = False, fallback: str | None = None
) -> Response:
    """A file response with the headers of SECURITY.md check 58. ``fallback``: the name for a
    client that reads only the ASCII one (by default the ASCII letters of ``filename``)."""
    response = Response(data, mimetype=content_type)
    ascii_name = (fallback or filename).encode("ascii", "ignore").decode() or "document"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_name)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
