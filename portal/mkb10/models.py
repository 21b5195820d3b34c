"""The ICD-10 reference book (МКБ-10, НСИ Минздрава OID 1.2.643.5.1.13.13.11.1005) as two tables:
the codes, and the words of their titles for search.

Search keys are compared as ranges (``key >= 'гри' AND key < 'грй'``), which an ordinary b-tree
answers when the column sorts by code point: SQLite's default BINARY collation does, and on
PostgreSQL the columns are declared ``COLLATE "C"`` (a linguistic collation such as ru_RU or ICU
does not keep every string that begins with a prefix inside that range).
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base
from portal.mkb10.text import WORD_LENGTH, display_title

KINDS = ("chapter", "block", "category", "subcategory")


def search_key(length: int) -> String:
    """A string column searched by prefix ranges: code-point order on both databases."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Shown:
    """What the pages say of a code (``leaf``, ``actual`` and ``title`` are the class's)."""

    leaf: bool
    actual: bool
    title: str

    @property
    def usable(self) -> bool:
        """May be written in a diagnosis: in use, and nothing finer below it."""
        return self.leaf and self.actual

    @property
    def label(self) -> str:
        return display_title(self.title)


class Mkb10Code(Shown, Base):
    """One row of the book: a chapter («класс»), a block, a category («рубрика», three characters)
    or a subcategory («подрубрика»)."""

    __tablename__ = "mkb10_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # the book's ID
    code: Mapped[str] = mapped_column(search_key(16), unique=True)
    title: Mapped[str] = mapped_column(Text)  # as the book has it
    # Checked at commit: a refresh of the book writes rows in any order.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("mkb10_code.id", deferrable=True, initially="DEFERRED"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    leaf: Mapped[bool] = mapped_column(Boolean)  # no finer code below it
    actual: Mapped[bool] = mapped_column(Boolean)  # ACTUAL=1: in use
    position: Mapped[int] = mapped_column(Integer)  # the book's tree order, chapter by chapter

    __table_args__ = (CheckConstraint("kind IN ('chapter', 'block', 'category', 'subcategory')", name="kind"),)


class Mkb10Word(Base):
    """A word of a code's title (``portal.mkb10.text.index_words``), with what ranking and the
    diagnosis filter need, so a search reads only this table until it has its best ten codes.
    Without a rowid on SQLite: the primary key is the table, and a prefix range reads every
    column straight from it."""

    __tablename__ = "mkb10_word"

    word: Mapped[str] = mapped_column(search_key(WORD_LENGTH), primary_key=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("mkb10_code.id", ondelete="CASCADE"), primary_key=True, index=True)
    title_start: Mapped[bool] = mapped_column(Boolean)  # the title begins with this word
    usable: Mapped[bool] = mapped_column(Boolean)  # the code's Mkb10Code.usable
    sort_key: Mapped[int] = mapped_column(Integer)  # the code's sort_key()

    __table_args__ = {"sqlite_with_rowid": False}


RETIRED = 100_000  # added to a retired code's position: after every code in use (the book has 15,038)


def sort_key(position: int, actual: bool) -> int:
    """Codes in use in the book's order, then the retired ones in the book's order."""
    return position + (0 if actual else RETIRED)
