"""Forms of the waiting list, the home visit call and the registrar's decisions."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.forms import ValidChoice, choices
from portal.sharing.forms import MultiCheckboxField

WEEKDAYS = [
    ("1", _l("Monday")),
    ("2", _l("Tuesday")),
    ("3", _l("Wednesday")),
    ("4", _l("Thursday")),
    ("5", _l("Friday")),
    ("6", _l("Saturday")),
    ("7", _l("Sunday")),
]
PARTS = [("", _l("Any time")), ("morning", _l("Before noon")), ("afternoon", _l("Afternoon"))]
CHANNELS = [("email", _l("E-mail")), ("sms", _l("SMS"))]


class WaitlistForm(FlaskForm):
    specialty = SelectField(
        _l("Specialty"), validators=[ValidChoice(_l("Choose a specialty from the list"))], validate_choice=False
    )
    doctor = SelectField(
        _l("Doctor"),
        validators=[ValidChoice(_l("Choose a doctor from the list, or any doctor"))],
        validate_choice=False,
    )
    weekdays = MultiCheckboxField(_l("Days that suit you"), choices=choices(WEEKDAYS), validate_choice=False)
    part = RadioField(
        _l("Time of day"),
        choices=choices(PARTS),
        default="",
        validators=[ValidChoice(_l("Choose a time of day"))],
        validate_choice=False,
    )
    channels = MultiCheckboxField(_l("Also tell me by"), choices=choices(CHANNELS), validate_choice=False)

    def validate_weekdays(self, field) -> None:
        if any(d not in dict(WEEKDAYS) for d in field.data or ()):
            raise ValidationError(_l("Choose days from the list"))

    def validate_channels(self, field) -> None:
        if any(c not in dict(CHANNELS) for c in field.data or ()):
            raise ValidationError(_l("Choose channels from the list"))


PHONE = re.compile(r"^\+?[78]?[\s\-()]*\d([\s\-()]*\d){9}$")


def normal_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    return "+7" + digits


class HomeVisitForm(FlaskForm):
    address = TextAreaField(
        _l("Address where the doctor should come"),
        validators=[
            InputRequired(_l("Enter the address: street, house, flat, entrance and floor")),
            Length(min=10, max=300, message=_l("Write the address in 10 to 300 characters")),
        ],
    )
    symptoms = TextAreaField(
        _l("What is wrong"),
        validators=[
            InputRequired(_l("Describe the symptoms: the doctor reads this before the visit")),
            Length(min=5, max=2000, message=_l("Write the symptoms in 5 to 2000 characters")),
        ],
    )
    temperature = StringField(_l("Temperature, °C (optional)"), validators=[Optional()])
    phone = StringField(_l("Contact phone"), validators=[InputRequired(_l("Enter a phone number the doctor can call"))])

    def validate_temperature(self, field) -> None:
        try:
            value = Decimal((field.data or "").strip().replace(",", "."))
        except InvalidOperation:
            raise ValidationError(_l("Enter the temperature as a number, for example 38,5")) from None
        if not Decimal("34") <= value <= Decimal("43"):
            raise ValidationError(_l("Enter a temperature from 34 to 43 °C"))
        field.value = value.quantize(Decimal("0.1"))

    def validate_phone(self, field) -> None:
        if not PHONE.match((field.data or "").strip()):
            raise ValidationError(_l("Enter a Russian phone number of 10 digits, for example +7 912 345-67-89"))


class AcceptVisitForm(FlaskForm):
    practitioner = SelectField(
        _l("Doctor"), validators=[ValidChoice(_l("Choose a doctor of your clinic"))], validate_choice=False
    )
    visit_on = DateField(
        _l("Date of the visit"), validators=[InputRequired(_l("Enter the date of the visit"))], format="%Y-%m-%d"
    )


def stripped(value):
    """A reason as written, without the spaces around it (spaces alone are no reason)."""
    return value.strip() if isinstance(value, str) else value


class RefuseVisitForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the refusal"),
        filters=[stripped],
        validators=[
            DataRequired(_l("Write the reason: the citizen will see it")),
            Length(max=300, message=_l("Enter at most 300 characters")),
        ],
    )


class CancelVisitForm(FlaskForm):
    """The citizen cancels a call: the reason is theirs to give or not."""

    reason = TextAreaField(
        _l("Reason (optional)"),
        filters=[stripped],
        validators=[Optional(), Length(max=300, message=_l("Enter at most 300 characters"))],
    )


class ClinicCancelVisitForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the cancellation"),
        filters=[stripped],
        validators=[
            DataRequired(_l("Write the reason: the citizen will see it")),
            Length(max=300, message=_l("Enter at most 300 characters")),
        ],
    )
