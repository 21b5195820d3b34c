"""Load the ICD-10 book into the database, or bring it up to date: ``flask import-mkb10``.

The file is the ministry's НСИ export (``;``-separated UTF-8 with the columns ``ID``,
``MKB_CODE``, ``MKB_NAME``, ``ID_PARENT`` and ``ACTUAL``), as it is or gzip-compressed; by
default the copy shipped in ``portal/mkb10/data/``. The whole file is checked before anything is
written. Rows are matched by the book's ID: new ones are added, changed ones updated, those no
longer in the file removed, in one transaction; a second run with the same file changes nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

from portal.database import db, write_transaction
from portal.mkb10.models import Mkb10Code, Mkb10Word, sort_key
from portal.mkb10.text import index_words, words

BOOK_NAME = "1.2.643.5.1.13.13.11.1005_2.27.csv.gz"  # НСИ version 2.27
REQUIRED_COLUMNS = ("ID", "MKB_CODE", "MKB_NAME", "ID_PARENT", "ACTUAL")
BATCH = 2000
_CODE = re.compile(r"[IVX]{1,5}|[A-Z]\d\d-[A-Z]\d\d|[A-Z]\d\d(\.\d{1,2})?")
_COLUMNS = ("id", "code", "title", "parent_id", "kind", "leaf", "actual", "position")


class BookError(ValueError):
    """The file is not a readable ICD-10 book; the message says where and why."""


class Row(NamedTuple):
    id: int
    code: str
    title: str
    parent_id: int | None
    kind: str
    leaf: bool
    actual: bool
    position: int


@dataclass(frozen=True)
class Outcome:
    codes: int
    added: int
    changed: int
    removed: int

    def describe(self) -> str:
        if not (self.added or self.changed or self.removed):
            return f"ICD-10: {self.codes} codes, already up to date"
        return f"ICD-10: {self.codes} codes; {self.added} added, {self.changed} changed, {self.removed} removed"


def bundled_book() -> bytes:
    return resources.files("portal.mkb10").joinpath(f"data/{BOOK_NAME}").read_bytes()


def read_text(raw: bytes) -> str:
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise BookError(f"the gzip file is damaged: {exc}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BookError(f"not UTF-8 text (byte {exc.start}): export the book as UTF-8 CSV") from exc


def _kind(code: str) -> str:
    if "-" in code:
        return "block"
    if code[0].isalpha() and code[1:2].isdigit():
        return "category" if len(code) == 3 else "subcategory"
    return "chapter"


def _source_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
    missing = [name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or ())]
    if missing:
        raise BookError(
            f"no column {', '.join(missing)} in the header: expected the НСИ ICD-10 export "
            f"(OID 1.2.643.5.1.13.13.11.1005) with {';'.join(REQUIRED_COLUMNS)}"
        )
    rows = list(reader)
    if not rows:
        raise BookError("the file has a header but no rows")
    return rows


def _checked(line: int, row: dict[str, str]) -> tuple[int, str, str, int | None, bool]:
    """One source row as (id, code, title, parent id, actual), or BookError naming the line."""
    try:
        row_id = int(row["ID"])
        parent = int(row["ID_PARENT"]) if (row["ID_PARENT"] or "").strip() else None
    except (TypeError, ValueError):
        raise BookError(f"line {line}: ID and ID_PARENT must be whole numbers") from None
    code = (row["MKB_CODE"] or "").strip()
    if not _CODE.fullmatch(code):
        raise BookError(f"line {line}: {code!r} is not an ICD-10 code")
    title = " ".join((row["MKB_NAME"] or "").split())
    if not title:
        raise BookError(f"line {line}: the code {code} has no title")
    actual = (row["ACTUAL"] or "").strip()
    if actual not in ("0", "1"):
        raise BookError(f"line {line}: ACTUAL must be 0 or 1, not {actual!r}")
    return row_id, code, title, parent, actual == "1"


def parse(text: str) -> list[Row]:
    """Every row of the book with what search needs, in tree order; BookError if anything is off."""
    parsed: dict[int, tuple[int, str, str, int | None, bool]] = {}
    codes: set[str] = set()
    for line, row in enumerate(_source_rows(text), start=2):
        checked = _checked(line, row)
        if checked[0] in parsed:
            raise BookError(f"line {line}: the ID {checked[0]} appears twice")
        if checked[1] in codes:
            raise BookError(f"line {line}: the code {checked[1]} appears twice")
        parsed[checked[0]] = checked
        codes.add(checked[1])
    children: dict[int | None, list[int]] = {}
    for row_id, code, _title, parent, _actual in parsed.values():
        if parent is not None and parent not in parsed:
            raise BookError(f"the code {code} names a parent ID {parent} that is not in the file")
        children.setdefault(parent, []).append(row_id)
    return _in_tree_order(parsed, children)


def _in_tree_order(parsed: dict, children: dict[int | None, list[int]]) -> list[Row]:
    """Depth first from the chapters (in the book's order); below them siblings by code."""
    rows: list[Row] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        row_id, code, title, parent, actual = parsed[stack.pop()]
        below = children.get(row_id, [])
        rows.append(Row(row_id, code, title, parent, _kind(code), not below, actual, len(rows)))
        stack.extend(sorted(below, key=lambda child: parsed[child][1], reverse=True))
    if len(rows) != len(parsed):
        raise BookError("some rows are not under any chapter: ID_PARENT goes round in a circle")
    return rows


def load(raw: bytes | None = None) -> Outcome:
    """Bring the tables in line with the book (``raw``: the file's bytes; None: the shipped copy).
    The parent link is checked at commit (a deferred foreign key), so rows go in any order."""
    rows = parse(read_text(bundled_book() if raw is None else raw))
    with write_transaction() as session:
        table = Mkb10Code.__table__
        stored = {r.id: Row(*r) for r in session.execute(sa.select(*(table.c[name] for name in _COLUMNS)))}
        wanted = {r.id for r in rows}
        added = [r for r in rows if r.id not in stored]
        changed = [r for r in rows if r.id in stored and stored[r.id] != r]
        removed = [row_id for row_id in stored if row_id not in wanted]
        # a changed row's words carry its rank and flags: they are written again
        _delete(session, Mkb10Word.code_id, [r.id for r in changed] + removed)
        _delete(session, Mkb10Code.id, removed)
        for start in range(0, len(changed), BATCH):
            session.execute(sa.update(Mkb10Code), [r._asdict() for r in changed[start : start + BATCH]])
        _insert(session, table, [r._asdict() for r in added])
        _insert(session, Mkb10Word.__table__, _word_rows(added + changed))
        if db.engine.dialect.name == "postgresql" and (added or changed or removed):
            session.execute(sa.text("ANALYZE mkb10_code, mkb10_word"))  # the planner's view of the new rows
    return Outcome(len(rows), len(added), len(changed), len(removed))


def _word_rows(rows: list[Row]) -> list[dict]:
    found: list[dict] = []
    for r in rows:
        first = next(iter(words(r.title)), "")
        common = {"code_id": r.id, "usable": r.leaf and r.actual, "sort_key": sort_key(r.position, r.actual)}
        found.extend({**common, "word": word, "title_start": word == first} for word in sorted(index_words(r.title)))
    return found


def _insert(session, table: sa.Table, values: list[dict]) -> None:
    """Many rows at once: PostgreSQL's COPY (ten times an INSERT's speed here), else executemany."""
    if not values:
        return
    if db.engine.dialect.name == "postgresql":
        names = list(values[0])
        driver = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row([value[name] for name in names])
        return
    for start in range(0, len(values), BATCH):
        session.execute(table.insert(), values[start : start + BATCH])


def _delete(session, column, ids: list[int]) -> None:
    for start in range(0, len(ids), BATCH):
        session.execute(sa.delete(column.class_).where(column.in_(ids[start : start + BATCH])))


def load_file(path: Path) -> Outcome:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BookError(f"cannot read {path}: {exc.strerror}") from exc
    return load(raw)


def is_loaded() -> bool:
    return db.session.scalar(sa.select(Mkb10Code.id).limit(1)) is not None
