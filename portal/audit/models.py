from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class AuditEvent(Base):
    """One thing that happened: who did what to whose data, when, from where, why, and the outcome.

    Rows are never changed or removed (database triggers refuse UPDATE and DELETE). Each row's
    ``hash`` covers its fields and the previous row's hash, so an edit, a deletion or a reordering
    breaks the chain at that point.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)  # position in the chain, 1, 2, 3 …
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    actor_role: Mapped[str] = mapped_column(String(32))  # self, guardian, trusted, doctor, … or anonymous
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    action: Mapped[str] = mapped_column(String(64))
    section: Mapped[str | None] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # success, failure, denied
    ip: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_event_patient_seq", "patient_id", "seq"),
        Index("ix_audit_event_actor_seq", "actor_id", "seq"),
    )


class AuditHead(Base):
    """The end of the chain: one row, locked by each writer so the chain stays linear under
    concurrent writers (SELECT … FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE already does it on SQLite)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
