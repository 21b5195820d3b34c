"""`flask import-mkb10`: the shipped ICD-10 book loads whole, a second run changes nothing, a new
version of the book is applied as a difference, and a bad file is refused with the line and the
reason, leaving the tables as they were."""

from __future__ import annotations

import csv
import gzip
import io
import time

import pytest
import sqlalchemy as sa

from portal.database import db
from portal.mkb10 import importer
from portal.mkb10.models import Mkb10Code, Mkb10Word
from portal.mkb10.search import search

HEADER = "ID;REC_CODE;MKB_CODE;MKB_NAME;ID_PARENT;ADDL_CODE;ACTUAL;DATE"


def book_rows() -> list[dict[str, str]]:
    text = importer.read_text(importer.bundled_book())
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def counts() -> tuple[int, int]:
    return db.session.scalar(sa.select(sa.func.count(Mkb10Code.id))), db.session.scalar(
        sa.select(sa.func.count()).select_from(Mkb10Word)
    )


def as_book(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER.split(";"), delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_the_shipped_book_loads_every_row_with_its_tree(app):
    rows = book_rows()
    assert len(rows) == 15038  # the НСИ file 2.27 (its README says 15,037; the file has one more)
    with app.app_context():
        started = time.perf_counter()
        outcome = importer.load()
        elapsed = time.perf_counter() - started
        assert (outcome.codes, outcome.added, outcome.changed, outcome.removed) == (15038, 15038, 0, 0)
        codes, words = counts()
        assert codes == 15038 and words > 90_000
        j069 = db.session.scalar(sa.select(Mkb10Code).where(Mkb10Code.code == "J06.9"))
        parent = db.session.get(Mkb10Code, j069.parent_id)
        assert (j069.kind, j069.leaf, j069.actual, j069.usable, parent.code) == ("subcategory", True, True, True, "J06")
        assert (parent.kind, parent.leaf, parent.usable) == ("category", False, False)
        chapter = db.session.scalar(sa.select(Mkb10Code).where(Mkb10Code.code == "I"))
        assert (chapter.kind, chapter.parent_id, chapter.position) == ("chapter", None, 0)
        assert chapter.label == "Некоторые инфекционные и паразитарные болезни"  # the book's capitals, softened
        retired = db.session.scalar(sa.select(Mkb10Code).where(Mkb10Code.code == "A90"))
        assert (retired.actual, retired.usable) == (False, False)
    assert elapsed < 20, f"loading took {elapsed:.1f} s"  # about 1 s (SQLite) to 1.5 s (PostgreSQL, COPY)


def test_a_second_run_with_the_same_book_changes_nothing(app):
    with app.app_context():
        importer.load()
        before = counts()
        again = importer.load()
        assert (again.codes, again.added, again.changed, again.removed) == (15038, 0, 0, 0)
        assert again.describe() == "ICD-10: 15038 codes, already up to date"
        assert counts() == before


def test_a_new_version_of_the_book_is_applied_as_a_difference(app):
    rows = book_rows()
    with app.app_context():
        importer.load(as_book(rows))
        renamed = next(r for r in rows if r["MKB_CODE"] == "J06.9")
        renamed["MKB_NAME"] = "Острая инфекция верхних дыхательных путей, тестовое переименование"
        dropped = next(r for r in rows if r["MKB_CODE"] == "J06.8")
        retired = next(r for r in rows if r["MKB_CODE"] == "J06.0")
        retired["ACTUAL"] = "0"
        added = {**renamed, "ID": "99001", "MKB_CODE": "J06.7", "MKB_NAME": "Новая подрубрика для проверки"}
        newer = [r for r in rows if r is not dropped] + [added]
        outcome = importer.load(as_book(newer))
        # J06.9 and J06.0 changed; the J06 category's tree positions after J06.7 moved too
        assert (outcome.added, outcome.removed) == (1, 1) and outcome.changed >= 2
        assert db.session.scalar(sa.select(Mkb10Code).where(Mkb10Code.code == "J06.8")) is None
        assert not db.session.scalar(sa.select(Mkb10Code.actual).where(Mkb10Code.code == "J06.0"))
        assert [m.code for m in search("тестовое переименование").matches] == ["J06.9"]
        # the old title's words are gone: J06.9 is no longer found by them
        assert "J06.9" not in [m.code for m in search("острая инфекция неуточненная").matches]
        assert [m.code for m in search("новая подрубрика").matches] == ["J06.7"]
        assert importer.load(as_book(newer)).describe() == "ICD-10: 15038 codes, already up to date"


def damaged_gzip() -> bytes:
    return gzip.compress(b"ID;MKB_CODE\n")[:-8] + b"broken!!"


BAD_FILES = {
    "not a book": (b"name;value\nx;1\n", "no column ID, MKB_CODE, MKB_NAME, ID_PARENT, ACTUAL"),
    "header only": (HEADER.encode() + b"\n", "the file has a header but no rows"),
    "not UTF-8": ((HEADER + "\n1;01;I;Болезни;;;1;\n").encode("cp1251"), "not UTF-8 text"),
    "damaged gzip": (damaged_gzip(), "the gzip file is damaged"),
    "not a code": (f'{HEADER}\n1;01;"I";"Класс";;;1;\n2;0101;"Ж00";"Холера";1;;1;\n'.encode(), "line 3: 'Ж00'"),
    "no title": (f'{HEADER}\n1;01;"I";"";;;1;\n'.encode(), "line 2: the code I has no title"),
    "bad ACTUAL": (f'{HEADER}\n1;01;"I";"Класс";;;да;\n'.encode(), "line 2: ACTUAL must be 0 or 1"),
    "bad ID": (f'{HEADER}\nодин;01;"I";"Класс";;;1;\n'.encode(), "line 2: ID and ID_PARENT must be whole numbers"),
    "twice": (f'{HEADER}\n1;01;"I";"Класс";;;1;\n1;02;"II";"Класс";;;1;\n'.encode(), "line 3: the ID 1 appears twice"),
    "code twice": (f'{HEADER}\n1;01;"I";"Класс";;;1;\n2;01;"I";"Класс";;;1;\n'.encode(), "the code I appears twice"),
    "orphan": (f'{HEADER}\n1;01;"I";"Класс";7;;1;\n'.encode(), "names a parent ID 7 that is not in the file"),
    "circle": (f'{HEADER}\n1;01;"I";"Класс";;;1;\n2;0101;"A00";"Холера";3;;1;\n3;0102;"A01";"Тиф";2;;1;\n'.encode(),
               "ID_PARENT goes round in a circle"),
}  # fmt: skip


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_refused_with_the_reason_and_changes_nothing(app, name):
    raw, reason = BAD_FILES[name]
    with app.app_context():
        importer.load(as_book(book_rows()[:30]))  # the intestinal infections: a small book, quick to load
        before = counts()
        with pytest.raises(importer.BookError) as refused:
            importer.load(raw)
        assert reason in str(refused.value)
        db.session.rollback()
        assert counts() == before


def test_the_command_reports_and_refuses_a_bad_file(app, tmp_path):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["import-mkb10"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("ICD-10: 15038 codes; 15038 added, 0 changed, 0 removed (")
    assert runner.invoke(args=["import-mkb10"]).output.startswith("ICD-10: 15038 codes, already up to date (")
    bad = tmp_path / "book.csv"
    bad.write_bytes(BAD_FILES["not a code"][0])
    refused = runner.invoke(args=["import-mkb10", "--file", str(bad)])
    assert refused.exit_code == 1
    assert "line 3: 'Ж00' is not an ICD-10 code; nothing is changed" in refused.output
    missing = runner.invoke(args=["import-mkb10", "--file", str(tmp_path / "absent.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    with app.app_context():
        assert counts()[0] == 15038


def test_the_gzip_file_and_the_plain_csv_read_the_same(app):
    raw = importer.bundled_book()
    assert raw[:2] == b"\x1f\x8b"
    assert importer.read_text(raw) == importer.read_text(gzip.decompress(raw))
