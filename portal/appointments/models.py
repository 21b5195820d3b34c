from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base, name_column


def organisation_search_text(name: str, city: str, address: str) -> str:
    """The case-folded text an organisation is searched by (SQLite's LIKE folds only ASCII)."""
    return " ".join((name, city, address)).casefold()


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


class Appointment(Base):
    """An appointment with a doctor, as the clinic's schedule holds it (booked by the registry,
    by phone or, later, in the portal). The dashboard shows the next one."""

    __tablename__ = "appointment"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    room: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="booked")  # booked, cancelled, done
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_appointment_patient_start", "patient_id", "starts_at"),)
