from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class AuditEvent(Base):
    """One thing that happened: who did what to whose data, when, from where, why, and the outcome.

    Rows are never changed or removed (database triggers refuse UPDATE and DELETE). A request only
    inserts its row; the sealer later appends it to the Merkle tree (``AuditLeaf``), so an edit,
    a deletion or a reordering no longer matches the signed tree heads.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
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

    __table_args__ = (
        Index("ix_audit_event_patient_id_id", "patient_id", "id"),
        Index("ix_audit_event_actor_id_id", "actor_id", "id"),
        # The auditor's workspace reads an organisation's events newest first (portal/auditor).
        Index("ix_audit_event_organisation_id_id", "organisation_id", "id"),
    )


class AuditLeaf(Base):
    """An event's place in the Merkle tree: leaves are numbered 0, 1, 2 … in the order the sealer
    took them. ``leaf_hash`` is SHA-256(0x00 || the event's canonical bytes) (RFC 9162). No foreign
    key to the event: a leaf whose event was removed is what verify-audit must be able to name."""

    __tablename__ = "audit_leaf"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(Integer, unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditNode(Base):
    """The hash of a perfect subtree of 2**level leaves, the ``position``-th of its level (it covers
    leaves position·2**level … (position+1)·2**level − 1); level 0 is in ``AuditLeaf``. With these
    an inclusion proof is O(log n) look-ups, never a pass over the leaves."""

    __tablename__ = "audit_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditTreeHead(Base):
    """A signed tree head: the root of the first ``tree_size`` leaves, signed with Ed25519 at
    ``signed_at`` (whole milliseconds, the value signed) by the key ``key_id`` (SHA-256 of the raw
    public key, hex)."""

    __tablename__ = "audit_tree_head"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    key_id: Mapped[str] = mapped_column(String(64))
