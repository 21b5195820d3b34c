"""Made PDFs, kept for the card's current version: ``pdf/<patient>/<version>/<slot>.pdf``.

The store is a ``portal.filestore.FileStore`` under ``<UPLOAD_DIR>/cache`` (wherever a deployment
keeps its uploads, shared by its processes, it keeps this cache too). Files are encrypted with
the data key (AES-GCM, bound to their key), as uploads are. Writing a patient's file removes
that patient's files of every other version: a card changed (or a new day began) and what was
made before is never served again.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from portal import crypto
from portal.filestore import FileStore, LocalFileStore

EXTENSION = "portal.pdfcache"


def store() -> FileStore:
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        found = current_app.extensions[EXTENSION] = LocalFileStore(Path(current_app.config["UPLOAD_DIR"]) / "cache")
    return found


def key(patient_id: int, version: str, slot: str) -> str:
    return f"pdf/{int(patient_id)}/{version}/{slot}.pdf"


def _associated(key: str) -> str:
    return f"pdfcache:{key}"


def get(key: str) -> bytes | None:
    blob = store().get(key)
    return None if blob is None else crypto.decrypt(blob, _associated(key))


def exists(key: str) -> bool:
    return store().exists(key)


def put(key: str, data: bytes) -> None:
    """Keep ``data`` under ``key``, then drop the patient's files of other versions."""
    files = store()
    files.put(key, crypto.encrypt(data, _associated(key)))
    _pdf, patient, version, _slot = key.split("/")
    for other in files.children(f"pdf/{patient}"):
        if other != version:
            files.delete_prefix(f"pdf/{patient}/{other}")


def versions(patient_id: int) -> list[str]:
    """The versions a patient has files of (for tests and housekeeping)."""
    return store().children(f"pdf/{int(patient_id)}")
