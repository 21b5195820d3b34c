from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class ConsentEvent(Base):
    """Consent given or revoked: when, by which account, from where, for which text version.
    Rows are only ever added; the latest one for a patient is the current state."""

    __tablename__ = "consent_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))  # None: before linking
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    action: Mapped[str] = mapped_column(String(8))  # given, revoked
    text_version: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("action IN ('given', 'revoked')", name="action"),
        Index("ix_consent_event_patient_id_id", "patient_id", "id"),
        Index("ix_consent_event_account_id_id", "account_id", "id"),
    )


class OptOutRequest(Base):
    """An application to opt out of the electronic record («отказ от ЭМК»): registered, then
    approved (the card is closed to portal viewing, its data archived) or refused with a reason."""

    __tablename__ = "opt_out_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="registered")  # registered, approved, refused
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
