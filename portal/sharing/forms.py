from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal import clock
from portal.auth.forms import NAME, parse_date
from portal.forms import ValidChoice, choices
from portal.identifiers import is_valid_snils, snils_digits

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


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
        if born > clock.today():
            raise ValidationError(_l("The date of birth must be in the past"))

    def validate_snils(self, field) -> None:
        if snils_digits(field.data) is None:
            raise ValidationError(_l("Enter the SNILS as 11 digits, for example 112-233-445 95"))
        if not is_valid_snils(field.data):
            raise ValidationError(_l("Check the SNILS: its check number does not match"))


# -- trusted persons ---------------------------------------------------------------------------


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes: iterating the field gives one checkbox per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class GrantPersonFields(FlaskForm):
    person = StringField(
        _l("The person's SNILS or e-mail"),
        validators=[
            InputRequired(_l("Enter the person's SNILS or e-mail")),
            Length(max=254, message=_l("Enter at most 254 characters")),
        ],
    )
    surname = StringField(
        _l("The person's surname"),
        validators=[InputRequired(_l("Enter the person's surname")), NAME],
    )

    def validate_person(self, field) -> None:
        text = field.data.strip()
        if "@" in text:
            if not EMAIL.fullmatch(text):
                raise ValidationError(_l("Enter an e-mail like name@example.ru"))
            return
        if snils_digits(text) is None:
            raise ValidationError(_l("Enter the SNILS as 11 digits, for example 112-233-445 95, or an e-mail"))
        if not is_valid_snils(text):
            raise ValidationError(_l("Check the SNILS: its check number does not match"))


class GrantTermsForm(FlaskForm):
    sections = MultiCheckboxField(_l("Sections the person will see"), validate_choice=False)
    level = RadioField(
        _l("What the person may do"),
        choices=choices([("view", _l("View only")), ("add", _l("View and add entries"))]),
        validators=[
            InputRequired(_l("Choose what the person may do")),
            ValidChoice(_l("Choose what the person may do")),
        ],
        validate_choice=False,
    )
    expires_on = StringField(_l("Access ends on"), validators=[InputRequired(_l("Enter the date the access ends"))])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from portal.record.sections import LABELS
        from portal.sharing.service import shareable_sections

        self.sections.choices = choices([(key, LABELS[key]) for key in shareable_sections()])

    def validate_sections(self, field) -> None:
        allowed = {choice.value for choice in field.choices}
        if not field.data:
            raise ValidationError(_l("Choose at least one section"))
        if not set(field.data) <= allowed:
            raise ValidationError(_l("Choose sections from the list"))

    def validate_expires_on(self, field) -> None:
        from portal.sharing.service import latest_end_date

        day = parse_date(field.data)
        if day is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 31.12.2026"))
        if day <= clock.today():
            raise ValidationError(_l("The end date must be in the future"))
        if day > latest_end_date():
            raise ValidationError(_l("Choose a date at most one year from today"))


class NewGrantForm(GrantTermsForm, GrantPersonFields):
    """Person first, then the terms: the fields keep the order they are defined in."""
