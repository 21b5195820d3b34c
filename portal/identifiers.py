"""Russian personal identifiers: SNILS and the unified OMS policy number (ENP).

Pure functions with no I/O. The algorithms and their sources are in DOMAIN.md, sections 1.1
and 1.2. Numbers are stored as bare ASCII digits; these helpers parse what people type and
format what people read.
"""

from __future__ import annotations

import re

# Numbers up to and including 001-001-998 were issued before check numbers existed, so the
# Pension Fund's own rule is to accept any check number for them.
SNILS_UNCHECKED_MAX = 1_001_998

_SNILS_SEPARATORS = re.compile(r"[\s\-]+")
# [0-9], not \d: \d would also accept Arabic-Indic and other Unicode digits.
_ASCII_DIGITS = re.compile(r"[0-9]+")
_SNILS_WEIGHTS = range(9, 0, -1)


def snils_digits(text: str | None) -> str | None:
    """Return the 11 bare digits of a SNILS typed with or without separators, else ``None``.

    Accepts ``112-233-445 95``, ``11223344595`` and any mix of spaces and dashes. Only the
    shape is checked here, not the check number: use ``is_valid_snils`` for that.
    """
    if text is None:
        return None
    compact = _SNILS_SEPARATORS.sub("", text)
    if len(compact) != 11 or not _ASCII_DIGITS.fullmatch(compact):
        return None
    return compact


def snils_checksum(nine: str) -> int:
    """Return the check number (0..99) for the 9-digit account part of a SNILS.

    Each digit is weighted by its position counted from the end (9, 8, ..., 1). A sum below
    100 is the check number itself; 100 and 101 give 0; a larger sum is reduced mod 101 and
    the same rules apply, so a remainder of 100 also gives 0.

    Raises ``ValueError`` unless ``nine`` is exactly 9 ASCII digits.
    """
    if len(nine) != 9 or not _ASCII_DIGITS.fullmatch(nine):
        raise ValueError(f"expected 9 digits, got {nine!r}")
    total = sum(int(digit) * weight for digit, weight in zip(nine, _SNILS_WEIGHTS, strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    remainder = total % 101
    return 0 if remainder == 100 else remainder


def is_valid_snils(text: str | None) -> bool:
    """Whether ``text`` is a SNILS with a correct check number (separators allowed)."""
    digits = snils_digits(text)
    if digits is None:
        return False
    if int(digits[:9]) <= SNILS_UNCHECKED_MAX:
        return True
    return int(digits[9:]) == snils_checksum(digits[:9])


def format_snils(digits: str) -> str:
    """Format a SNILS as ``XXX-XXX-XXX YY``.

    Input that is already formatted is accepted too. Raises ``ValueError`` if it does not
    contain exactly 11 digits; the check number is not verified.
    """
    bare = snils_digits(digits)
    if bare is None:
        raise ValueError(f"expected 11 digits, got {digits!r}")
    return f"{bare[0:3]}-{bare[3:6]}-{bare[6:9]} {bare[9:11]}"


def make_snils(nine: str) -> str:
    """Return the 11-digit SNILS made of ``nine`` and its check number (for generated data)."""
    return f"{nine}{snils_checksum(nine):02d}"


def enp_check_digit(fifteen: str) -> int:
    """Return the check digit for the first 15 digits of a unified OMS policy number (ENP).

    The FFOMS algorithm (приказ ФФОМС № 79, appendix Г.2) is numerically the Luhn check digit:
    starting from the rightmost payload digit, every other digit is doubled.

    Raises ``ValueError`` unless ``fifteen`` is exactly 15 ASCII digits.
    """
    if len(fifteen) != 15 or not _ASCII_DIGITS.fullmatch(fifteen):
        raise ValueError(f"expected 15 digits, got {fifteen!r}")
    total = 0
    for position, char in enumerate(reversed(fifteen)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_enp(text: str | None) -> bool:
    """Whether ``text`` is a 16-digit ENP with a correct check digit.

    Spaces are ignored because policies print the number in groups. Apply this only to
    unified-format policies (F008 type 3): older policy types have no check digit.
    """
    if text is None:
        return False
    compact = "".join(text.split())
    if len(compact) != 16 or not _ASCII_DIGITS.fullmatch(compact):
        return False
    return int(compact[15]) == enp_check_digit(compact[:15])


_MOBILE = re.compile(r"^\+79[0-9]{9}$")


def normalise_phone(text: str | None) -> str | None:
    """A Russian mobile number as ``+79XXXXXXXXX`` (DOMAIN.md 1.5), else ``None``.

    Accepts ``8 916 123-45-67``, ``+7 (916) 123-45-67``, ``79161234567`` and ``9161234567``.
    Only mobile (9xx) numbers: this number receives one-time codes.
    """
    if not text:
        return None
    digits = "".join(c for c in text if c in "0123456789")
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10:
        return None
    phone = "+7" + digits
    return phone if _MOBILE.match(phone) else None


def normalise_email(text: str | None) -> str:
    return (text or "").strip().lower()
