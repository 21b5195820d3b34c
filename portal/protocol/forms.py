"""The protocol's form: the texts (WTForms, with the CSRF token and the draft's version) and the
diagnosis rows, read from ``diagnoses-<n>-kind|status|code|text`` as many as were sent."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from portal.protocol.service import MAX_ROWS, MAX_TEXT, TEXTS, Row, Typed


def _strip(value):
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _text(label):
    return TextAreaField(
        label,
        filters=[_strip],
        validators=[Length(max=MAX_TEXT, message=_l("Write at most %(max)d characters", max=MAX_TEXT))],
    )


class ProtocolForm(FlaskForm):
    complaints = _text(_l("Complaints"))
    history = _text(_l("History of the present illness"))
    examination = _text(_l("Examination"))
    conclusion = _text(_l("Conclusion"))
    recommendations = _text(_l("Recommendations"))
    version = HiddenField(default="0")

    def typed_version(self) -> int:
        try:
            return int(self.version.data or 0)
        except ValueError:
            return -1

    def fill(self, typed: Typed, version: int) -> None:
        for name in TEXTS:
            getattr(self, name).data = typed.texts.get(name, "")
        self.version.data = str(version)


_ROW = re.compile(r"diagnoses-(\d{1,2})-(kind|status|code|text)")


def typed_rows(data: MultiDict) -> list[Row]:
    """The diagnosis rows sent, in their order; at most MAX_ROWS."""
    rows: dict[int, Row] = {}
    for name, value in data.items():
        found = _ROW.fullmatch(name)
        if found and int(found.group(1)) < MAX_ROWS:
            setattr(rows.setdefault(int(found.group(1)), Row(kind="")), found.group(2), value.strip()[:300])
    return [rows[i] for i in sorted(rows)]


def typed_of(form: ProtocolForm, data: MultiDict) -> Typed:
    rows = typed_rows(data)
    return Typed({name: getattr(form, name).data or "" for name in TEXTS}, rows or [Row()])
