from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base

REVIEW_DECISIONS = ("reviewed", "escalated")


class EmergencyReview(Base):
    """An auditor's decision on one emergency access: reviewed (the reason holds; a note if they
    like) or escalated (to be looked into; the note says why). One decision per access, final: a
    second auditor deciding at the same moment meets the unique constraint."""

    __tablename__ = "emergency_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    emergency_access_id: Mapped[int] = mapped_column(ForeignKey("emergency_access.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("decision IN ('reviewed', 'escalated')", name="decision"),
        CheckConstraint("decision = 'reviewed' OR note IS NOT NULL", name="escalation_note"),
    )
