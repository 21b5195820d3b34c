from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.auth.forms import NAME, parse_date
from portal.forms import ValidChoice, choices
from portal.identifiers import is_valid_snils, snils_digits


class ChildForm(FlaskForm):
    surname = StringField(_l("Child's surname"), validators=[InputRequired(_l("Enter the child's surname")), NAME])
    name = StringField(_l("Child's first name"), validators=[InputRequired(_l("Enter the child's first name")), NAME])
    patronymic = StringField(_l("Child's patronymic (if any)"), validators=[Optional(), NAME])
    birth_date = StringField(_l("Child's date of birth"), validators=[InputRequired(_l("Enter the date of birth"))])
    sex = RadioField(
        _l("Child's sex"),
        choices=choices([("F", _l("Female")), ("M", _l("Male"))]),
        validators=[InputRequired(_l("Choose the child's sex")), ValidChoice(_l("Choose the child's sex"))],
        validate_choice=False,
    )
    snils = StringField(_l("Child's SNILS"), validators=[InputRequired(_l("Enter the child's SNILS"))])
    basis = StringField(
        _l("Document"),
        validators=[
            InputRequired(_l("Enter the document's name and number")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    document = FileField(_l("Scan or photo of the document"))

    def validate_birth_date(self, field) -> None:
        born = parse_date(field.data)
        if born is None:
            raise ValidationError(_l("Enter the date of birth as day, month and year, for example 15.03.1985"))
        if born > date.today():
            raise ValidationError(_l("The date of birth must be in the past"))

    def validate_snils(self, field) -> None:
        if snils_digits(field.data) is None:
            raise ValidationError(_l("Enter the SNILS as 11 digits, for example 112-233-445 95"))
        if not is_valid_snils(field.data):
            raise ValidationError(_l("Check the SNILS: its check number does not match"))
