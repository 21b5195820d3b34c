"""Password policy and storage.

The policy is the service's: at least 8 characters with upper- and lower-case letters, a digit and
a special character; any Unicode and long passphrases accepted, nothing truncated or folded;
refused when common (an offline list) or when it contains the user's name or e-mail.
Storage is argon2id at or above OWASP's minimum (m=19 MiB, t=2, p=1); hashes made with weaker
parameters are upgraded at the next sign-in.
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 8
MAX_LENGTH = 1024  # a bound against hashing megabytes, far above any passphrase
CONTEXT_WORDS = ("medkarta", "медкарта", "gosuslugi", "госуслуги", "emias", "емиас", "password", "пароль")

hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
# A hash verified for unknown accounts, so that they take as long as known ones.
_DUMMY_HASH = hasher.hash("not a real password: timing equaliser")


@cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def problems(password: str, *, names: tuple[str, ...] = (), email: str = "") -> list:
    """What is wrong with a new password, as messages to show; an empty list means it is fine."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(_l("Enter a password of at least 8 characters"))
    if len(password) > MAX_LENGTH:
        found.append(_l("Enter a password of at most 1024 characters"))
    if not (any(c.islower() for c in password) and any(c.isupper() for c in password)):
        found.append(_l("Use both capital and small letters"))
    if not any(c.isdigit() for c in password):
        found.append(_l("Add at least one digit"))
    if not any(not c.isalnum() for c in password):
        found.append(_l("Add at least one special character, for example ! or a space"))
    normal = _normal(password)
    stripped = normal.rstrip("0123456789!@#$%^&*.-_ ")
    if normal in common_passwords() or stripped in common_passwords() or any(w in normal for w in CONTEXT_WORDS):
        found.append(_l("This password is too common. Choose one that is hard to guess"))
    personal = [n for n in names if n and len(n) >= 3] + ([email.split("@")[0]] if email else [])
    if any(len(p) >= 3 and _normal(p) in normal for p in personal):
        found.append(_l("The password must not contain your name or e-mail"))
    return found


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work for known and unknown accounts: the dummy hash is checked when none is given."""
    try:
        return hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher.check_needs_rehash(stored_hash)
