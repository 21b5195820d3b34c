"""The protocol of one appointment while the doctor writes it: a draft on the server, with a
version counter (a save from a stale tab is refused), until it is signed into the record as a
``Visit`` (``visit_id``). Never shown to anyone but its author: the patient sees the visit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class VisitProtocol(Base):
    __tablename__ = "visit_protocol"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointment.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    complaints: Mapped[str] = mapped_column(Text, default="")
    history: Mapped[str] = mapped_column(Text, default="")
    examination: Mapped[str] = mapped_column(Text, default="")
    # The diagnosis rows as typed: JSON [{kind, status, code, text}].
    diagnoses: Mapped[str] = mapped_column(Text, default="[]")
    conclusion: Mapped[str] = mapped_column(Text, default="")
    recommendations: Mapped[str] = mapped_column(Text, default="")
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
