"""How ICD-10 titles and queries are cut into search keys: the same rules when the book is
imported and when someone types, so both sides meet.

Words: lower case, «ё» read as «е», split on anything that is not a letter or a digit; the
one-letter Russian prepositions and conjunctions («и», «в», «с»…) are left out on both sides.
Codes: upper case, a Cyrillic letter typed for a Latin one read as that Latin letter (the look-
alike «А», «В», «Е», «К», «М», «Н», «О», «Р», «С», «Т», «Х», «У»; any other Cyrillic letter as the
key it shares on the Russian keyboard, so «Ш10» is I10), a comma read as a point and the point
put in when it was left out («J069» is J06.9).
"""

from __future__ import annotations

import re

WORD_LENGTH = 32  # longer words are cut (the longest in the book has 25 letters)
MAX_QUERY_WORDS = 8  # more words narrow nothing a person would type; each costs an index range
STOP_WORDS = frozenset({"и", "в", "с", "к", "у", "о", "а"})  # one-letter words found in half the book
_WORD = re.compile(r"[^\W_]+")

# Cyrillic letters that look like Latin ones, as a person copying a code off paper types them.
_LOOK_ALIKE = dict(zip("АВЕКМНОРСТХУ", "ABEKMHOPCTXY", strict=True))
# The other letters as the Russian keyboard puts them on the Latin keys (ЙЦУКЕН → QWERTY).
_LAYOUT = dict(zip("ЙЦГШЩЗФЫПЛДЯЧИЬ", "QWUIOPASGKLZXBM", strict=True))
_CODE = re.compile(r"[A-Z]\d{1,2}|[A-Z]\d\d\.\d{0,2}")
_CODE_WITHOUT_POINT = re.compile(r"([A-Z]\d\d)(\d{1,2})")
_BLOCK = re.compile(r"[A-Z]\d\d-[A-Z]?\d{0,2}")
_CHAPTER = re.compile(r"[IVX]{1,5}")


def fold(text: str) -> str:
    """Lower case with «ё» as «е»: what titles and queries are compared in."""
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    """The search words of ``text`` in order, repeats kept (see ``index_words`` for the set)."""
    return [w[:WORD_LENGTH] for w in _WORD.findall(fold(text)) if w not in STOP_WORDS]


def index_words(title: str) -> set[str]:
    """The distinct words a title is found by."""
    return set(words(title))


def query_words(query: str) -> list[str]:
    """The distinct words of a query, in the order typed, at most MAX_QUERY_WORDS."""
    return list(dict.fromkeys(words(query)))[:MAX_QUERY_WORDS]


def _latin(letter: str) -> str:
    return _LOOK_ALIKE.get(letter) or _LAYOUT.get(letter) or letter


def code_query(query: str) -> tuple[str, bool] | None:
    """``(code or its beginning, exact_only)`` when ``query`` is written as an ICD-10 code, a block
    ("A00-A09") or a chapter's Roman number; None when it is words."""
    compact = query.strip().upper().replace(" ", "").replace(",", ".")
    if not compact:
        return None
    if _CHAPTER.fullmatch(compact) and len(compact) > 1:
        return compact, True
    typed = _latin(compact[0]) + compact[1:]
    if "-" in typed:
        head, _, tail = typed.partition("-")
        typed = f"{head}-{_latin(tail[:1]) + tail[1:] if tail else ''}"
        return (typed, False) if _BLOCK.fullmatch(typed) else None
    if missing := _CODE_WITHOUT_POINT.fullmatch(typed):
        typed = f"{missing.group(1)}.{missing.group(2)}"
    return (typed, False) if _CODE.fullmatch(typed) else None


def prefix_end(prefix: str) -> str:
    """The least string after every string that begins with ``prefix`` (in code-point order, which
    is SQLite's BINARY and PostgreSQL's "C" collation): ``key >= prefix AND key < prefix_end``
    is "begins with" as a range an ordinary b-tree index answers."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def display_title(title: str) -> str:
    """A title as shown: the book writes its chapters and blocks in capitals, which are harder to
    read; they are shown in sentence case, keeping abbreviations and codes («ВИЧ», «F50-F59»)."""
    if not title.isupper():
        return title
    kept = {"ВИЧ"}

    def word(match: re.Match) -> str:
        token = match.group(0)
        return token if token in kept or any(ch.isdigit() for ch in token) else token.lower()

    lowered = re.sub(r"[^\s\[\]()«»,;:]+", word, title)
    return lowered[:1].upper() + lowered[1:]
