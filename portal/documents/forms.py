from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SearchField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import clock, paging
from portal.auth.forms import parse_date
from portal.forms import ValidChoice, choices

DATE_FORMAT = _l("Enter the date as day, month and year, for example 15.03.2025")


def _kinds(labels: dict, first: tuple[str, object] | None = None):
    return choices(([first] if first else []) + [(key, label) for key, label in labels.items()])


class DocumentFilter(FlaskForm):
    """The list's filters. A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Title or file name"),
        validators=[Optional(), Length(max=100, message=_l("Enter at most 100 characters"))],
    )
    kind = SelectField(
        _l("Type"),
        validators=[Optional(), ValidChoice(_l("Choose a type from the list"))],
        validate_choice=False,
    )
    since = StringField(_l("From"), validators=[Optional()])
    until = StringField(_l("To"), validators=[Optional()])
    after = StringField(validators=[Optional()])

    def __init__(self, *args, kinds: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = _kinds(kinds, ("", _l("All types")))

    def since_date(self) -> date | None:
        return parse_date(self.since.data)

    def until_date(self) -> date | None:
        return parse_date(self.until.data)

    def after_key(self) -> tuple[date, int] | None:
        if not self.after.data:
            return None
        when, ident = paging.parse_dated(self.after.data)
        return when.date(), ident

    def validate_since(self, field) -> None:
        if field.data and parse_date(field.data) is None:
            raise ValidationError(DATE_FORMAT)

    def validate_until(self, field) -> None:
        if field.data and parse_date(field.data) is None:
            raise ValidationError(DATE_FORMAT)
        since = parse_date(self.since.data)
        if since and parse_date(field.data) and parse_date(field.data) < since:
            raise ValidationError(_l("The end of the period must not be before its start"))

    def validate_after(self, field) -> None:
        try:
            self.after_key()
        except ValueError as exc:
            raise ValidationError(paging.DAMAGED) from exc


class UploadForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[
            InputRequired(_l("Enter the document's title")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    document_date = StringField(_l("Date of the document"), validators=[InputRequired(_l("Enter the date"))])
    kind = SelectField(
        _l("Type"),
        validators=[InputRequired(_l("Choose the type")), ValidChoice(_l("Choose the type"))],
        validate_choice=False,
    )
    file = FileField(_l("File"))

    def __init__(self, *args, kinds: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = _kinds(kinds, ("", _l("Choose the type")))

    def validate_document_date(self, field) -> None:
        on = parse_date(field.data)
        if on is None:
            raise ValidationError(DATE_FORMAT)
        if on > clock.today():
            raise ValidationError(_l("The date must not be in the future"))
        if on.year < 1900:
            raise ValidationError(_l("Check the year"))
