from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class CertificateRequest(Base):
    """An order for a certificate or extract: registered → in_progress → ready, or refused."""

    __tablename__ = "certificate_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)  # given after insert
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    form: Mapped[str] = mapped_column(String(16))  # 027u, 063u, 086u, 079u, health
    purpose: Mapped[str] = mapped_column(String(200))
    period_from: Mapped[date | None] = mapped_column(Date)
    period_to: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="registered")
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))  # the issuer
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    # The random part of the verification address the QR code carries.
    verification_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_certificate_request_patient", "patient_id", "id"),)
