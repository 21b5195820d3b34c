"""The directory of medical organisations: search and key-based pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, tuple_

from portal.directory.models import Organisation
from portal.extensions import db

PAGE_SIZE = 20


@dataclass(frozen=True)
class ClinicPage:
    organisations: list[Organisation]
    total: int
    next_after: int | None  # the id to continue after, or None on the last page
    position: int  # how many come before this page


# Pharmacies are listed for sending prescriptions, not in the directory of medical organisations.
MEDICAL = Organisation.kind != "pharmacy"


def count_organisations() -> int:
    return db.session.scalar(select(func.count()).select_from(Organisation).where(MEDICAL)) or 0


def regions_present() -> list[str]:
    return list(
        db.session.scalars(
            select(Organisation.region_code).where(MEDICAL).distinct().order_by(Organisation.region_code)
        )
    )


def search(query: str = "", region: str = "", after: int | None = None, size: int = PAGE_SIZE) -> ClinicPage:
    """Organisations matching ``query`` (name, city or address) in ``region``, by name.

    Paged by key (name, id) rather than offset, so a page costs the same wherever it is.
    """
    conditions = [MEDICAL]
    for word in query.casefold().split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Organisation.search_text.like(f"%{escaped}%", escape="\\"))
    if region:
        conditions.append(Organisation.region_code == region)

    total = db.session.scalar(select(func.count()).select_from(Organisation).where(*conditions)) or 0
    stmt = select(Organisation).where(*conditions)
    position = 0
    if after:
        anchor = db.session.execute(select(Organisation.name, Organisation.id).where(Organisation.id == after)).first()
        if anchor is not None:
            key = tuple_(Organisation.name, Organisation.id)
            stmt = stmt.where(key > tuple_(anchor.name, anchor.id))
            position = (
                db.session.scalar(
                    select(func.count())
                    .select_from(Organisation)
                    .where(*conditions, key <= tuple_(anchor.name, anchor.id))
                )
                or 0
            )
    rows = list(db.session.scalars(stmt.order_by(Organisation.name, Organisation.id).limit(size + 1)))
    next_after = rows[size - 1].id if len(rows) > size else None
    return ClinicPage(rows[:size], total, next_after, position)
