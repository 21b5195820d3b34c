"""Signed tree heads: the Ed25519 key from the settings and the bytes a head's signature covers.

The signed message is fixed-width binary, so anyone can rebuild it from a proof (docs/audit.md):
``b"medkarta-audit-tree-head-v1\\x00"`` || tree_size (8 bytes, big-endian) || signed_at in
milliseconds since 1970-01-01 UTC (8 bytes, big-endian) || root hash (32 bytes).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app

CONTEXT = b"medkarta-audit-tree-head-v1\x00"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    public_bytes: bytes  # raw 32 bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_bytes).hexdigest()

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_bytes).decode()


def key_from_seed(seed_b64: str) -> SigningKey:
    seed = base64.b64decode(seed_b64.replace("-", "+").replace("_", "/"))
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return SigningKey(private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def current_key() -> SigningKey:
    """The key of the running app (cached on it: deriving costs more than using)."""
    cache = current_app.extensions.setdefault("portal.audit_key", {})
    seed = current_app.config["AUDIT_SIGNING_KEY"]
    if seed not in cache:
        cache.clear()
        cache[seed] = key_from_seed(seed)
    return cache[seed]


def to_millis(moment: datetime) -> int:
    if moment.tzinfo is None:  # SQLite gives moments back without their zone; they are UTC
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // MILLISECOND


def from_millis(millis: int) -> datetime:
    return EPOCH + millis * MILLISECOND


def head_message(tree_size: int, signed_at_ms: int, root_hash: bytes) -> bytes:
    return CONTEXT + tree_size.to_bytes(8, "big") + signed_at_ms.to_bytes(8, "big") + root_hash


def sign_head(key: SigningKey, tree_size: int, signed_at_ms: int, root_hash: bytes) -> bytes:
    return key.private.sign(head_message(tree_size, signed_at_ms, root_hash))


def head_signature_ok(public_bytes: bytes, tree_size: int, signed_at: datetime, root_hash: bytes, sig: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_bytes).verify(
            sig, head_message(tree_size, to_millis(signed_at), root_hash)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
