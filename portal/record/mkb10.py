"""МКБ-10 (ICD-10) titles for a curated subset of about 400 frequent codes.

The data file, data/mkb10.csv (``code;title_ru;title_en``), is built by ``bench/mkb10_subset.py``
from the Ministry of Health reference book and the WHO 2019 English titles.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

ATTRIBUTION = "МКБ-10, ВОЗ; НСИ Минздрава России, OID 1.2.643.5.1.13.13.11.1005"
FHIR_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
NSI_SYSTEM = "urn:oid:1.2.643.5.1.13.13.11.1005"


@cache
def _titles() -> dict[str, tuple[str, str]]:
    text = resources.files("portal.record").joinpath("data/mkb10.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter=";")
    return {row["code"]: (row["title_ru"], row["title_en"]) for row in rows}


def _normalise(code: str | None) -> str:
    return (code or "").strip().upper()


def title(code: str | None) -> str | None:
    """The Russian title, or None for a code outside the subset."""
    found = _titles().get(_normalise(code))
    return found[0] if found else None


def english(code: str | None) -> str | None:
    """The WHO English title, or None where unknown."""
    found = _titles().get(_normalise(code))
    return (found[1] or None) if found else None


def name(code: str | None, locale: str | None = None) -> str | None:
    """The title in the locale's language, falling back to Russian."""
    if (locale or "ru").lower().startswith("en"):
        return english(code) or title(code)
    return title(code)


def codes() -> list[str]:
    """Every code in the subset, sorted."""
    return sorted(_titles())
