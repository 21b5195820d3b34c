"""Demo data: the synthetic organisation directory and a handful of patients.

Safe to run on every start: rows are matched by their natural keys (oid, SNILS), so a second run
adds nothing and rows someone has edited are left alone.
"""

from __future__ import annotations

from bench.generate import load
from portal.database import write_transaction

DEMO_PATIENTS = 20


def seed_demo() -> dict[str, int]:
    """Insert the demo organisations and patients that are missing; return how many were added.

    Uses the generator's default seed, so the demo patients are the first ``DEMO_PATIENTS`` of
    any benchmark load with that seed and the two never duplicate each other.
    """
    with write_transaction() as session:
        return load(session, n_patients=DEMO_PATIENTS)
