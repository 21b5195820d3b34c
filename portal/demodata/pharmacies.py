"""Pharmacies that accept electronic prescriptions, as the demo's directory lists them. In a
region they come from the regional pharmacy register; a plugin can load them."""

from __future__ import annotations

from sqlalchemy import select

from portal.database import db
from portal.directory.models import Organisation, organisation_search_text

DEMO_PHARMACIES = (
    ("1.2.643.5.1.13.13.12.9.77.1001", "Аптека «Столичка» № 14", "Москва", "ул. Профсоюзная, д. 56", "+74957001414"),
    ("1.2.643.5.1.13.13.12.9.77.1002", "Государственная аптека № 3", "Москва", "Ленинский пр-т, д. 30", "+74957000303"),
    ("1.2.643.5.1.13.13.12.9.77.1003", "Аптека «Ригла»", "Москва", "ул. Новослободская, д. 11", "+74957001103"),
)


def seed_pharmacies() -> int:
    """Add the demo pharmacies that are missing; returns how many were added."""
    existing = set(db.session.scalars(select(Organisation.oid).where(Organisation.kind == "pharmacy")))
    added = 0
    for oid, name, city, address, phone in DEMO_PHARMACIES:
        if oid in existing:
            continue
        db.session.add(
            Organisation(
                oid=oid,
                name=name,
                kind="pharmacy",
                region_code="77",
                city=city,
                address=address,
                phone=phone,
                search_text=organisation_search_text(name, city, address),
            )
        )
        added += 1
    return added
