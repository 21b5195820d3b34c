from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from portal.forms import ValidChoice


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class Optional:
    """The field may be left empty (and is not marked required in the page)."""

    field_flags = {"required": False}

    def __call__(self, form, field) -> None:
        return None


class ReportForm(FlaskForm):
    description = TextAreaField(
        _l("What is wrong in this entry"),
        filters=[_strip],
        validators=[
            InputRequired(_l("Describe the error")),
            Length(min=10, message=_l("Describe the error in at least 10 characters")),
            Length(max=2000, message=_l("Describe the error in at most 2000 characters")),
        ],
    )
    files = MultipleFileField(_l("Documents that show the correct value (optional)"), validators=[Optional()])

    def chosen_files(self) -> list:
        return [f for f in (self.files.data or []) if f and f.filename]


class CorrectForm(FlaskForm):
    field = SelectField(
        _l("Field to correct"),
        validators=[InputRequired(_l("Choose the field to correct")), ValidChoice(_l("Choose the field to correct"))],
        validate_choice=False,
    )
    value = StringField(_l("New value"), validators=[InputRequired(_l("Enter the new value"))])
    note = TextAreaField(
        _l("Reason for the change"),
        filters=[_strip],
        validators=[
            InputRequired(_l("Write the reason: it is shown in the entry's history")),
            Length(max=1000, message=_l("Enter at most 1000 characters")),
        ],
    )
