"""Finding ICD-10 codes: by code (its beginning, typed in Latin or Cyrillic letters) and by the
words of the title (each typed word the beginning of a word of the title, in any order, «ё» as
«е», any case), in one SQL statement of index ranges, whatever the query.

Ranking: the exact code, then codes that begin with it, then titles whose first word is the
first word typed, then those whose first word begins with it, then the other titles; codes in use
before retired ones; then the book's order. Each match gets one number that orders it so (its
rank times RANK plus the code's sort key); the word rows carry what it needs, so the statement
reads the index ranges, keeps the best ten, and only then reads those ten codes. It also counts
every match, so a list says "10 of 342".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa

from portal.database import db
from portal.mkb10.models import RETIRED, Mkb10Code, Mkb10Word, Shown
from portal.mkb10.text import code_query, prefix_end, query_words

MIN_QUERY = 2  # characters
MAX_QUERY = 60  # characters; longer input is cut (the field says so with maxlength)
RANK = 10 * RETIRED  # above any sort key
EXACT_CODE, CODE_BEGINS, FIRST_WORD, FIRST_WORD_BEGINS, ANY_WORD = range(5)


@dataclass(frozen=True)
class Match(Shown):
    id: int
    code: str
    title: str
    kind: str
    leaf: bool
    actual: bool


@dataclass(frozen=True)
class Found:
    query: str
    matches: list[Match]
    total: int

    @property
    def too_short(self) -> bool:
        return len(self.query) < MIN_QUERY


def clean(query: str | None) -> str:
    return " ".join((query or "").split())[:MAX_QUERY]


def _begins(column: sa.ColumnElement, name: str) -> sa.ColumnElement[bool]:
    """``column`` begins with the parameter ``name`` (its end of range is ``name``_end)."""
    return sa.and_(column >= sa.bindparam(name), column < sa.bindparam(f"{name}_end"))


def _by_code(exact_only: bool, usable_only: bool) -> sa.Select:
    """(id, order) of the codes that are the typed code or begin with it (parameter ``code``)."""
    code = Mkb10Code.__table__.c
    exact = code.code == sa.bindparam("code")
    rank = sa.case((exact, EXACT_CODE), else_=CODE_BEGINS)
    order = rank * RANK + code.position + sa.case((code.actual, 0), else_=RETIRED)
    wanted = exact if exact_only else _begins(code.code, "code")
    found = sa.select(code.id.label("id"), order.label("key")).where(wanted)
    return found.where(code.leaf, code.actual) if usable_only else found


def _by_words(count: int, usable_only: bool) -> sa.Select:
    """(id, order) of the codes with a title word beginning with each typed word (parameters
    ``w0``, ``w1``…). The first word's range is read with its flags (it ranks); each other word
    narrows it to the codes in that word's range."""
    word = Mkb10Word.__table__.c
    head = sa.and_(word.title_start, word.word == sa.bindparam("w0"))
    rank = sa.case((head, FIRST_WORD), (word.title_start, FIRST_WORD_BEGINS), else_=ANY_WORD)
    found = sa.select(word.code_id.label("id"), sa.func.min(rank * RANK + word.sort_key).label("key"))
    found = found.where(_begins(word.word, "w0"))
    for n in range(1, count):
        also = Mkb10Word.__table__.alias(f"also_{n}")
        found = found.where(word.code_id.in_(sa.select(also.c.code_id).where(_begins(also.c.word, f"w{n}"))))
    if usable_only:
        found = found.where(word.usable)
    return found.group_by(word.code_id)


@lru_cache(maxsize=128)
def _statement(code: str | None, words: int, usable_only: bool, limit: int) -> sa.Select:
    """The search statement for a shape of query (``code``: None, "exact" or "begins"; how many
    words), built once and then only given its parameters: building it cost more than running it."""
    parts = ([_by_code(code == "exact", usable_only)] if code else []) + (
        [_by_words(words, usable_only)] if words else []
    )
    if len(parts) == 1:
        hits = parts[0].cte("hits")
    else:
        both = sa.union_all(*parts).subquery()
        hits = sa.select(both.c.id, sa.func.min(both.c.key).label("key")).group_by(both.c.id).cte("hits")
    best = sa.select(hits.c.id, hits.c.key).order_by(hits.c.key).limit(limit).subquery("best")
    total = sa.select(sa.func.count()).select_from(hits).scalar_subquery()
    table = Mkb10Code.__table__
    code_ = table.c
    return (
        sa.select(code_.id, code_.code, code_.title, code_.kind, code_.leaf, code_.actual, total)
        .select_from(best.join(table, code_.id == best.c.id))
        .order_by(best.c.key)
    )


def _parameters(query: str) -> tuple[str | None, int, dict[str, str]]:
    """The query's shape (the code: "exact", "begins" or None; how many words) and parameters."""
    values: dict[str, str] = {}
    as_code = code_query(query)
    if as_code is not None:
        values.update(code=as_code[0], code_end=prefix_end(as_code[0]))
    typed = query_words(query)
    for n, word in enumerate(typed):
        values.update({f"w{n}": word, f"w{n}_end": prefix_end(word)})
    return (None if as_code is None else "exact" if as_code[1] else "begins"), len(typed), values


def search(query: str | None, limit: int = 10, usable_only: bool = False) -> Found:
    """The best ``limit`` matches of ``query`` and how many there are in all."""
    query = clean(query)
    shape, words, values = _parameters(query) if len(query) >= MIN_QUERY else (None, 0, {})
    if shape is None and not words:
        return Found(query, [], 0)
    rows = db.session.execute(_statement(shape, words, usable_only, limit), values).all()
    return Found(query, [Match(*row[:6]) for row in rows], rows[0][6] if rows else 0)


@dataclass(frozen=True)
class CodePage:
    """A code with the chapter and blocks above it (outermost first) and the codes below it."""

    code: Mkb10Code
    chain: list[Mkb10Code]
    children: list[Mkb10Code]


def find(code: str) -> Mkb10Code | None:
    return db.session.scalar(sa.select(Mkb10Code).where(Mkb10Code.code == code))


def canonical(typed: str) -> str | None:
    """The book's spelling of a code typed another way («j06,9», «Ж06.9»), when it exists."""
    as_code = code_query(typed)
    if as_code is None or as_code[0] == typed:
        return None
    return db.session.scalar(sa.select(Mkb10Code.code).where(Mkb10Code.code == as_code[0]))


def code_page(code: str) -> CodePage | None:
    """The page of ``code`` in three statements: the code, its ancestors (one recursive query),
    its children."""
    found = find(code)
    if found is None:
        return None
    above = sa.select(Mkb10Code.id, Mkb10Code.parent_id).where(Mkb10Code.id == found.parent_id).cte(recursive=True)
    above = above.union_all(sa.select(Mkb10Code.id, Mkb10Code.parent_id).where(Mkb10Code.id == above.c.parent_id))
    chain = db.session.scalars(
        sa.select(Mkb10Code).join(above, above.c.id == Mkb10Code.id).order_by(Mkb10Code.position)
    ).all()
    children = db.session.scalars(
        sa.select(Mkb10Code).where(Mkb10Code.parent_id == found.id).order_by(Mkb10Code.position)
    ).all()
    return CodePage(found, list(chain), list(children))


def chapters() -> list[Mkb10Code]:
    return list(
        db.session.scalars(sa.select(Mkb10Code).where(Mkb10Code.parent_id.is_(None)).order_by(Mkb10Code.position))
    )
