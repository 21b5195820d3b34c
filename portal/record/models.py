from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base, name_column


class Patient(Base):
    """The subject of a medical record. Clinics write the record; the citizen reads it."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    surname: Mapped[str] = mapped_column(name_column(100))
    name: Mapped[str] = mapped_column(name_column(100))
    patronymic: Mapped[str | None] = mapped_column(name_column(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    # SNILS stored as 11 bare digits; shown as XXX-XXX-XXX YY.
    snils: Mapped[str] = mapped_column(String(11), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint("length(snils) = 11", name="snils_length"),
    )
