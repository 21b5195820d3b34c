from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base, name_column


class Organisation(Base):
    """A medical organisation (clinic, hospital, laboratory) listed in the directory."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The organisation's OID in the federal register of medical organisations (ФРМО).
    oid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(name_column(300))
    kind: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(2), index=True)
    city: Mapped[str] = mapped_column(name_column(100))
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(20))
    # Case-folded name, city and address: SQLite's LIKE ignores case only for ASCII letters.
    search_text: Mapped[str] = mapped_column(String(800))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_organisation_name_id", "name", "id"),)
