"""The specialties the directory knows (portal/directory/data/specialties.csv): code, the
specialty's name, and how a doctor of it is called, in Russian and English."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "specialties.csv"


@dataclass(frozen=True)
class Specialty:
    code: str
    name: str
    doctor: str
    name_en: str
    doctor_en: str

    def label(self, locale: str) -> str:
        """The doctor's title in the reader's language («терапевт», "internist")."""
        return self.doctor if locale == "ru" else self.doctor_en


@cache
def load_specialties() -> tuple[Specialty, ...]:
    with DATA.open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return tuple(Specialty(**row) for row in rows)


@cache
def by_code() -> dict[str, Specialty]:
    return {s.code: s for s in load_specialties()}


def code_for_name(name: str) -> str | None:
    """The code of a specialty named as the record names the doctor («терапевт») or by its name."""
    for specialty in load_specialties():
        if name in (specialty.doctor, specialty.name):
            return specialty.code
    return None


def label(code: str | None, locale: str, fallback: str = "") -> str:
    found = by_code().get(code or "")
    return found.label(locale) if found else fallback
