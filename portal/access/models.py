from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class CareRelationship(Base):
    """A clinician treats a patient in an organisation (an appointment, attachment or referral).
    Opens the card to that clinician, in that organisation, while it lasts: from ``started_at``
    until ``ended_at`` (None: until ended)."""

    __tablename__ = "care_relationship"

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    basis: Mapped[str] = mapped_column(String(32))  # appointment, attachment, referral
    # basis "appointment": the appointment that opened it (from its day until a while after it)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmergencyAccess(Base):
    """Break-glass: a clinician opens a card without a care relationship, giving a reason.
    Time-boxed, audited, and the patient is told."""

    __tablename__ = "emergency_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
