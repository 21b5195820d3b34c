from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class Guardianship(Base):
    """A parent or guardian of a child: opens the child's card until the child turns 15
    (the age is a setting). The basis is a document a registrar checked."""

    __tablename__ = "guardianship"

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    basis: Mapped[str] = mapped_column(String(200))  # e.g. «Свидетельство о рождении IV-МЮ № 123456»
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    started_on: Mapped[date] = mapped_column(Date)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AccessGrant(Base):
    """A card owner's grant to a trusted person: named sections, a level, an end date."""

    __tablename__ = "access_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    grantee_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    sections: Mapped[str] = mapped_column(Text)  # comma-separated section keys
    level: Mapped[str] = mapped_column(String(8))  # view, add
    expires_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("level IN ('view', 'add')", name="level"),)

    @property
    def section_set(self) -> frozenset[str]:
        return frozenset(s for s in self.sections.split(",") if s)


class GuardianshipRequest(Base):
    """A parent's request to open a child's card, with the document that proves it (a birth
    certificate or a guardianship decision), for a registrar to check."""

    __tablename__ = "guardianship_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    child_surname: Mapped[str] = mapped_column(String(100))
    child_name: Mapped[str] = mapped_column(String(100))
    child_patronymic: Mapped[str | None] = mapped_column(String(100))
    child_birth_date: Mapped[date] = mapped_column(Date)
    child_sex: Mapped[str] = mapped_column(String(1))
    child_snils: Mapped[str] = mapped_column(String(11))
    basis: Mapped[str] = mapped_column(String(200))
    document_key: Mapped[str] = mapped_column(String(64), unique=True)
    document_filename: Mapped[str] = mapped_column(String(255))
    document_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decision: Mapped[str | None] = mapped_column(String(16))  # approved, rejected
    reason: Mapped[str | None] = mapped_column(Text)
