"""Uploaded files: checked by content, images re-encoded, stored encrypted outside static.

PDF, JPEG and PNG only, up to 5 MB, recognised by their bytes, never by name or Content-Type.
Images are decoded with a pixel limit (decompression bombs fail) and re-encoded, which drops
EXIF and GPS metadata. PDFs with scripts, launch actions or embedded files are refused. The
server names the stored file; the original name is kept only as cleaned-up metadata.
"""

from __future__ import annotations

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

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
PDF_DANGERS = ("/JavaScript", "/JS", "/OpenAction", "/Launch", "/EmbeddedFile", "/AA", "/RichMedia", "/XFA")


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


def _reencode(data: bytes, content_type: str) -> bytes:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                fmt = "PNG" if content_type == "image/png" else "JPEG"
                if fmt == "JPEG" and image.mode not in ("RGB", "L"):
                    image = image.convert("RGB")
                out = io.BytesIO()
                image.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
                return out.getvalue()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UploadError(_l("The image is too large. Scan it at a lower resolution")) from exc
        except Exception as exc:
            raise UploadError(_l("The image is damaged or not really a JPG or PNG")) from exc


def _pdf_names(obj, depth: int = 0) -> set[str]:
    """Dictionary keys and name values in a PDF object and the direct objects inside it."""
    import pikepdf

    if depth > 8:
        return set()
    if isinstance(obj, pikepdf.Stream):
        obj = obj.stream_dict
    found: set[str] = set()
    if isinstance(obj, pikepdf.Dictionary):
        for key in obj.keys():  # noqa: SIM118 - a pikepdf Dictionary, not a dict
            found.add(str(key))
            value = obj.get(key)
            if not getattr(value, "is_indirect", False):  # indirect objects are walked on their own
                found |= _pdf_names(value, depth + 1)
    elif isinstance(obj, pikepdf.Array):
        for item in obj:
            if not getattr(item, "is_indirect", False):
                found |= _pdf_names(item, depth + 1)
    elif isinstance(obj, pikepdf.Name):
        found.add(str(obj))
    return found


def _check_pdf(data: bytes) -> None:
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            names: set[str] = set()
            for obj in pdf.objects:
                names |= _pdf_names(obj)
    except Exception as exc:
        raise UploadError(_l("The PDF is damaged. Save it again and upload the new file")) from exc
    if names & set(PDF_DANGERS):
        raise UploadError(_l("The PDF contains scripts or attachments. Save it as a plain PDF"))


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


def store(data: bytes, purpose: str) -> str:
    """Encrypt and write; return the generated storage key."""
    key = secrets.token_hex(16)
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(crypto.encrypt(data, f"upload:{purpose}:{key}"))
    return key


def load(key: str, purpose: str) -> bytes:
    return crypto.decrypt(_path(key).read_bytes(), f"upload:{purpose}:{key}")


def remove(key: str) -> None:
    _path(key).unlink(missing_ok=True)


def download(data: bytes, filename: str, content_type: str, inline: bool = False) -> Response:
    """A file response with the headers of SECURITY.md check 58."""
    response = Response(data, mimetype=content_type)
    ascii_name = filename.encode("ascii", "ignore").decode() or "document"
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
