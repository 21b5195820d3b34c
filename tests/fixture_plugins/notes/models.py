"""The notes plugin's tables: notes (revision notes01) and their tags (revision notes02)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.plugin_api import PluginData, account_key

data = PluginData("notes", __file__)


class Note(data.Model):
    __tablename__ = "notes_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(account_key(), index=True)


class Tag(data.Model):
    __tablename__ = "notes_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes_note.id"), index=True)
    label: Mapped[str] = mapped_column(String(40))
