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


def _begins(column: sa.ColumnElement, prefix: str) -> sa.ColumnElement[bool]:
    return sa.and_(column >= prefix, column < prefix_end(prefix))


def _by_code(typed: tuple[str, bool], usable_only: bool) -> sa.Select:
    """(id, order) of the codes that are the typed code or begin with it."""
    code = Mkb10Code.__table__.c
    prefix, exact_only = typed
    exact = code.code == prefix
    rank = sa.case((exact, EXACT_CODE), else_=CODE_BEGINS)
    order = rank * RANK + code.position + sa.case((code.actual, 0), else_=RETIRED)
    wanted = exact if exact_only else _begins(code.code, prefix)
    found = sa.select(code.id.label("id"), order.label("key")).where(wanted)
    return found.where(code.leaf, code.actual) if usable_only else found


def _by_words(typed: list[str], usable_only: bool) -> sa.Select:
    """(id, order) of the codes with a title word beginning with each typed word. The first typed
    word's range is read with its flags (it ranks); each other word narrows it to the codes in
    that word's range."""
    word = Mkb10Word.__table__.c
    head = typed[0]
    starts = (sa.and_(word.title_start, word.word == head), FIRST_WORD), (word.title_start, FIRST_WORD_BEGINS)
    rank = sa.case(*starts, else_=ANY_WORD)
    found = sa.select(word.code_id.label("id"), sa.func.min(rank * RANK + word.sort_key).label("key"))
    found = found.where(_begins(word.word, head))
    for n, other in enumerate(typed[1:]):
        also = Mkb10Word.__table__.alias(f"also_{n}")
        found = found.where(word.code_id.in_(sa.select(also.c.code_id).where(_begins(also.c.word, other))))
    if usable_only:
        found = found.where(word.usable)
    return found.group_by(word.code_id)


def _matches(query: str, usable_only: bool) -> sa.Select | None:
    """(id, order), one row per matching code; None when nothing can match."""
    as_code = code_query(query)
    typed = query_words(query)
    parts = ([_by_code(as_code, usable_only)] if as_code else []) + ([_by_words(typed, usable_only)] if typed else [])
    if len(parts) < 2:
        return parts[0] if parts else None
    both = sa.union_all(*parts).subquery()
    return sa.select(both.c.id, sa.func.min(both.c.key).label("key")).group_by(both.c.id)


def search(query: str | None, limit: int = 10, usable_only: bool = False) -> Found:
    """The best ``limit`` matches of ``query`` and how many there are in all."""
    query = clean(query)
    matches = _matches(query, usable_only) if len(query) >= MIN_QUERY else None
    if matches is None:
        return Found(query, [], 0)
    hits = matches.cte("hits")
    best = sa.select(hits.c.id, hits.c.key).order_by(hits.c.key).limit(limit).subquery("best")
    total = sa.select(sa.func.count()).select_from(hits).scalar_subquery()
    table = Mkb10Code.__table__
    code = table.c
    statement = (
        sa.select(code.id, code.code, code.title, code.kind, code.leaf, code.actual, total)
        .select_from(best.join(table, code.id == best.c.id))
        .order_by(best.c.key)
    )
    rows = db.session.execute(statement).all()
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
