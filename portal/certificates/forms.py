from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import InputRequired, Length

from portal.access.policy import today
from portal.auth.forms import parse_date
from portal.forms import ValidChoice, choices


class NeededForSomeForms:
    """The period is checked in ``OrderForm.validate`` (only some forms need one), so the page
    must not mark it required."""

    field_flags = {"required": False}

    def __call__(self, form, field) -> None:
        return None


DATE_FORMAT = _l("Enter the date as day, month and year, for example 15.03.2026")


class OrderForm(FlaskForm):
    kind = RadioField(
        _l("Certificate or extract"),
        validators=[InputRequired(_l("Choose a certificate")), ValidChoice(_l("Choose a certificate"))],
        validate_choice=False,
    )
    purpose = StringField(
        _l("Where the certificate is needed"),
        validators=[
            InputRequired(_l("Enter where the certificate is needed")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    period_from = StringField(_l("Period from"), validators=[NeededForSomeForms()])
    period_to = StringField(_l("Period to"), validators=[NeededForSomeForms()])

    def __init__(self, *args, **kwargs) -> None:
        from portal.certificates.service import FORMS

        super().__init__(*args, **kwargs)
        self.kind.choices = choices((f.code, f.label) for f in FORMS.values())

    def needs_period(self) -> bool:
        from portal.certificates.service import FORMS

        chosen = FORMS.get(self.kind.data or "")
        return bool(chosen and chosen.needs_period)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.needs_period():
            return valid
        start = self._date(
            self.period_from,
            _l("Enter the start of the period"),
            _l("The start of the period cannot be in the future"),
        )
        end = self._date(
            self.period_to, _l("Enter the end of the period"), _l("The end of the period cannot be in the future")
        )
        if start and end and end < start:
            self.period_to.errors = [_l("The end of the period must be the same as or after its start")]
        return valid and not (self.period_from.errors or self.period_to.errors)

    def _date(self, field, missing, future) -> date | None:
        field.errors = list(field.errors)
        if not (field.data or "").strip():
            field.errors.append(missing)
            return None
        value = parse_date(field.data)
        if value is None:
            field.errors.append(DATE_FORMAT)
            return None
        if value > today():
            field.errors.append(future)
            return None
        return value

    def dates(self) -> tuple[date | None, date | None]:
        if not self.needs_period():
            return None, None
        return parse_date(self.period_from.data), parse_date(self.period_to.data)
