from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional, ValidationError

from portal.auth.forms import parse_date
from portal.forms import ValidChoice, choices


class AccessLogFilter(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    who = SelectField(
        _l("Who"),
        choices=choices([("all", _l("Everyone, me included")), ("others", _l("Everyone but me"))]),
        default="all",
        validators=[Optional(), ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
    )
    since = StringField(_l("From"), validators=[Optional()])
    until = StringField(_l("To"), validators=[Optional()])
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])

    def since_date(self) -> date | None:
        return parse_date(self.since.data)

    def until_date(self) -> date | None:
        return parse_date(self.until.data)

    def validate_since(self, field) -> None:
        if field.data and parse_date(field.data) is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 01.11.2026"))

    def validate_until(self, field) -> None:
        if field.data and parse_date(field.data) is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 30.11.2026"))
        since = parse_date(self.since.data)
        if since and parse_date(field.data) and parse_date(field.data) < since:
            raise ValidationError(_l("The end of the period must not be before its start"))
