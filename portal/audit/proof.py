"""Inclusion proofs: that an event is leaf i of the tree whose root a signed head names (RFC 9162
section 2.1.3), in a form anyone can check offline with docs/audit.md's snippet."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.audit import merkle, signing
from portal.audit.models import AuditEvent, AuditLeaf, AuditTreeHead
from portal.audit.sealer import subtree_hashes
from portal.audit.service import canonical
from portal.database import db

FORMAT = "medkarta-audit-inclusion-proof-v1"


@dataclass(frozen=True)
class Proof:
    event_id: int
    event_bytes: bytes  # the event's canonical bytes: its leaf is SHA-256(0x00 || these)
    leaf_index: int
    tree_size: int
    audit_path: list[bytes]
    root_hash: bytes
    signed_at: datetime
    signature: bytes
    key_id: str
    public_key: bytes

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.event_bytes)

    def verifies(self) -> bool:
        return merkle.verify_inclusion(
            self.leaf_hash, self.leaf_index, self.tree_size, self.audit_path, self.root_hash
        ) and signing.head_signature_ok(self.public_key, self.tree_size, self.signed_at, self.root_hash, self.signature)

    def as_json(self) -> dict:
        return {
            "format": FORMAT,
            "event": self.event_bytes.decode(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "audit_path": [h.hex() for h in self.audit_path],
            "root_hash": self.root_hash.hex(),
            "signed_at": self.signed_at.isoformat(timespec="milliseconds"),
            "signed_at_ms": signing.to_millis(self.signed_at),
            "signature": base64.b64encode(self.signature).decode(),
            "signature_algorithm": "Ed25519",
            "public_key": base64.b64encode(self.public_key).decode(),
            "key_id": self.key_id,
        }


def proof_for(event_id: int) -> Proof | None:
    """The proof that event ``event_id`` is in the newest signed head, or None while it is not
    sealed yet. O(log n) stored hashes, read in three queries."""
    leaf = db.session.execute(select(AuditLeaf.leaf_index).where(AuditLeaf.event_id == event_id)).scalar_one_or_none()
    if leaf is None:
        return None
    head = db.session.execute(select(AuditTreeHead).order_by(AuditTreeHead.tree_size.desc()).limit(1)).scalar_one()
    event = db.session.execute(select(AuditEvent.__table__).where(AuditEvent.id == event_id)).one()
    ranges = [merkle.perfect_parts(a, b) for a, b in merkle.audit_path_ranges(leaf, head.tree_size)]
    hashes = iter(subtree_hashes(db.session, [part for parts in ranges for part in parts]))
    path = [merkle.fold([next(hashes) for _ in parts]) for parts in ranges]
    key = signing.current_key()
    return Proof(
        event_id=event_id,
        event_bytes=canonical(event),
        leaf_index=leaf,
        tree_size=head.tree_size,
        audit_path=path,
        root_hash=head.root_hash,
        signed_at=signing.from_millis(signing.to_millis(head.signed_at)),
        signature=head.signature,
        key_id=head.key_id,
        public_key=key.public_bytes,
    )
