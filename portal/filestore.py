"""Files kept outside the database behind one small interface: keys are ``/``-separated names,
values bytes. ``LocalFileStore`` keeps them in a folder every process of the machine shares (a
network or object store for several machines implements the same five methods).

Writes are atomic (a temporary file renamed into place), so a reader on another process never
sees half a file. Encryption is the caller's business (``portal.pdfcache`` encrypts, as
``portal.uploads`` does for uploads).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


class FileStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def children(self, prefix: str) -> list[str]: ...


class LocalFileStore:
    """A FileStore in a folder: key ``a/b/c`` is the file ``<root>/a/b/c``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(temporary, path)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        """Remove ``prefix`` and everything under it (a file or a "folder" of keys)."""
        path = self._path(prefix)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def children(self, prefix: str) -> list[str]:
        """The names one level under ``prefix`` (as an object store lists with a delimiter)."""
        path = self._path(prefix)
        try:
            return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
