from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Optional, ValidationError

from portal.auth.forms import parse_date
from portal.forms import ValidChoice, choices
from portal.paging import DatedKeyField


class PeriodFilter(FlaskForm):
    """A period typed as people write dates (01.11.2026); a GET filter, so no CSRF token."""

    class Meta:
        csrf = False

    since = StringField(_l("From"), validators=[Optional()])
    until = StringField(_l("To"), validators=[Optional()])

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


def _choice(label) -> SelectField:
    return SelectField(label, validators=[Optional(), ValidChoice(_l("Choose from the list"))], validate_choice=False)


class SectionFilter(PeriodFilter):
    type = _choice(_l("Type"))
    organisation = _choice(_l("Organisation"))
    doctor = _choice(_l("Doctor"))
    after = DatedKeyField(validators=[Optional()])

    def offer(self, types, organisations, doctors) -> None:
        every = _l("All")
        self.type.choices = choices([("", every), *types])
        self.organisation.choices = choices([("", every), *((str(i), n) for i, n in organisations)])
        self.doctor.choices = choices([("", every), *((str(i), n) for i, n in doctors)])


class PharmacyForm(FlaskForm):
    pharmacy = SelectField(
        _l("Pharmacy"),
        validators=[ValidChoice(_l("Choose a pharmacy from the list"))],
        validate_choice=False,
    )
