"""Finding ICD-10 codes: by code (its beginning, typed in Latin or Cyrillic letters) and by the
words of the title (each typed word the beginning of a word of the title, in any order, «ё» as
«е», any case), in one SQL statement of index ranges, whatever the query.

Ranking: the exact code, then codes that begin with it, then titles whose first word is the
first word typed, then those whose first word begins with it, then the other titles; codes in use
before retired ones; then the book's order. The statement also counts every match (a window
count), so a list says "10 of 342".
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from portal.database import db
from portal.mkb10.models import Mkb10Code, Mkb10Word
from portal.mkb10.text import code_query, display_title, prefix_end, query_words

MIN_QUERY = 2  # characters
MAX_QUERY = 60  # characters; longer input is cut (the field says so with maxlength)


@dataclass(frozen=True)
class Match:
    id: int
    code: str
    title: str
    kind: str
    leaf: bool
    actual: bool

    @property
    def usable(self) -> bool:
        return self.leaf and self.actual

    @property
    def label(self) -> str:
        return display_title(self.title)


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


def _ranked(query: str) -> tuple[sa.Subquery, sa.ColumnElement[int]] | None:
    """The ids of the matching codes (each once) and the rank expression, or None when nothing
    can match. The ids come first and the codes are joined to them: PostgreSQL then reads the
    index ranges once, instead of probing the words for every code in the book."""
    code = Mkb10Code.__table__.c
    as_code = code_query(query)
    typed = query_words(query)
    hits: list[sa.Select] = []
    ranks: list[tuple[sa.ColumnElement[bool], int]] = []
    if as_code is not None:
        prefix, exact_only = as_code
        by_code = code.code == prefix if exact_only else _begins(code.code, prefix)
        hits.append(sa.select(code.id.label("id")).where(by_code))
        ranks += [(code.code == prefix, 0), (by_code, 1)]
    if typed:
        word = Mkb10Word.__table__.c
        each = [sa.select(word.code_id.label("id")).where(_begins(word.word, w)) for w in typed]
        hits.append(sa.intersect(*each) if len(each) > 1 else each[0].distinct())
        ranks += [(code.first_word == typed[0], 2), (_begins(code.first_word, typed[0]), 3)]
    if not hits:
        return None
    if len(hits) == 1:
        return hits[0].subquery(), sa.case(*ranks, else_=4)
    return sa.union(*(h.subquery().select() for h in hits)).subquery(), sa.case(*ranks, else_=4)


def search(query: str | None, limit: int = 10, usable_only: bool = False) -> Found:
    """The best ``limit`` matches of ``query`` and how many there are in all."""
    query = clean(query)
    ranked = _ranked(query) if len(query) >= MIN_QUERY else None
    if ranked is None:
        return Found(query, [], 0)
    hits, rank = ranked
    table = Mkb10Code.__table__
    code = table.c
    statement = (
        sa.select(code.id, code.code, code.title, code.kind, code.leaf, code.actual, sa.func.count().over())
        .select_from(hits.join(table, code.id == hits.c.id))
        .order_by(rank, code.actual.desc(), code.position)
        .limit(limit)
    )
    if usable_only:
        statement = statement.where(code.leaf, code.actual)
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
