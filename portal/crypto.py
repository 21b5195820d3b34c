"""Encryption of data at rest (AES-256-GCM) and keyed hashes for short secrets.

The data key is ``DATA_KEY`` (32 random bytes, base64); production refuses to start without one,
development generates it into ``instance/``. Each value gets its own random 96-bit nonce, and the
associated data binds a ciphertext to its purpose and owner, so a ciphertext moved to another
row or field fails to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

NONCE_BYTES = 12


def data_key() -> bytes:
    return base64.urlsafe_b64decode(current_app.config["DATA_KEY"])


def encrypt(plaintext: bytes, associated: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key()).encrypt(nonce, plaintext, associated.encode())


def decrypt(blob: bytes, associated: str) -> bytes:
    return AESGCM(data_key()).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated.encode())


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 under the app secret: for one-time and recovery codes, which carry enough
    entropy or die fast enough that a slow password hash would only cost time."""
    key = hashlib.sha256(b"medkarta-keyed-hash:" + current_app.config["SECRET_KEY"].encode()).digest()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def new_data_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
