"""Ids in addresses and keyset page keys, read in one place and bounded to what the database holds.

Every id column is an INTEGER, which PostgreSQL keeps in 32 bits (SQLite in 64). A number past
that names no row, but handed to the database it fails with an overflow (a 500), so it is
refused before any query: an id in the path does not match the route (404), a page key is a
bad request (400).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter, Map
from wtforms import StringField
from wtforms.validators import ValidationError

MAX_ID = 2**31 - 1
DAMAGED = _l("The page link is damaged. Start again from the first page")


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route (registered under that name in ``create_app``): a number past
    ``MAX_ID`` does not match, so the answer is the ordinary 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def parse_id(text: str) -> int:
    """An id written in a page key: digits only, 1 to ``MAX_ID``; ``ValueError`` otherwise."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)) or not 1 <= int(text) <= MAX_ID:
        raise ValueError("not an id")
    return int(text)


def parse_dated(text: str) -> tuple[datetime, int]:
    """A page key ``<ISO date or date-time>_<id>`` (lists ordered by date, then id)."""
    when, sep, ident = text.rpartition("_")
    if not sep or len(text) > 64:
        raise ValueError("not a dated page key")
    return datetime.fromisoformat(when), parse_id(ident)


def page_key(name: str) -> int | None:
    """The id-valued page key ``name`` of this request (query or form): ``None`` when absent,
    400 when it is not an id."""
    raw = request.values.get(name, "")
    if raw == "":
        return None
    try:
        return parse_id(raw)
    except ValueError:
        abort(400)


class IdKeyField(StringField):
    """A form's id-valued page key: the form is invalid (400) when it is not an id."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = None
        if valuelist and valuelist[0] != "":
            try:
                self.data = parse_id(valuelist[0])
            except ValueError as exc:
                raise ValueError(DAMAGED) from exc

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


class DatedKeyField(StringField):
    """A form's ``<date>_<id>`` page key, kept as typed; the form is invalid when it does not parse."""

    def pre_validate(self, form) -> None:
        if self.data:
            try:
                parse_dated(self.data)
            except ValueError as exc:
                raise ValidationError(DAMAGED) from exc
