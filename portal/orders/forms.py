"""The order forms: a prescription, a referral, a vaccination given. Each field is checked with a
precise message; the values go into the record in Russian, as clinics write it."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import clock
from portal.auth.forms import parse_date
from portal.directory.specialties import load_specialties
from portal.forms import ValidChoice, choices
from portal.record import intake

DATE_EXAMPLE = _l("Enter the date as day, month and year, for example 15.03.2025")
DOSE_MAX = Decimal(10000)

# value: (label, as the record writes it)
DOSE_UNITS = {
    "tablet": (_l("tablet(s)"), "табл."),
    "capsule": (_l("capsule(s)"), "капс."),
    "mg": (_l("mg"), "мг"),
    "ml": (_l("ml"), "мл"),
    "drop": (_l("drop(s)"), "кап."),
    "puff": (_l("puff(s)"), "инг."),
    "sachet": (_l("sachet(s)"), "пак."),
    "iu": (_l("IU"), "ЕД"),
}
FREQUENCIES = {
    "1": (_l("once a day"), "1 раз в день"),
    "2": (_l("twice a day"), "2 раза в день"),
    "3": (_l("three times a day"), "3 раза в день"),
    "4": (_l("four times a day"), "4 раза в день"),
    "week": (_l("once a week"), "1 раз в неделю"),
    "needed": (_l("when needed"), "по потребности"),
}
VALIDITY_DAYS = {
    "15": _l("15 days"),
    "30": _l("30 days"),
    "60": _l("60 days"),
    "90": _l("90 days"),
    "365": _l("1 year"),
}
COURSE_MAX_DAYS = 365
REFERRAL_KINDS = {
    "consultation": _l("To a specialist"),
    "test": _l("To a laboratory test"),
    "study": _l("To a study (X-ray, ultrasound, ECG…)"),
}
REFERRAL_MAX_DAYS = 365
ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")


def _date_field(label, message):
    return StringField(label, validators=[InputRequired(message)])


def _parsed(field) -> date:
    value = parse_date(field.data)
    if value is None:
        raise ValidationError(DATE_EXAMPLE)
    return value


class PrescriptionForm(FlaskForm):
    drug = StringField(
        _l("Medicine (international non-proprietary name)"),
        validators=[
            InputRequired(_l("Enter the medicine")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    form = StringField(
        _l("Form and strength"),
        validators=[
            InputRequired(_l("Enter the form and strength, for example tablets 500 mg")),
            Length(max=100, message=_l("Enter at most 100 characters")),
        ],
    )
    dose = StringField(_l("Single dose"), validators=[InputRequired(_l("Enter the single dose"))])
    dose_unit = SelectField(
        _l("Unit of the dose"),
        validators=[InputRequired(_l("Choose the unit of the dose")), ValidChoice(_l("Choose the unit of the dose"))],
        validate_choice=False,
    )
    frequency = SelectField(
        _l("How often"),
        validators=[InputRequired(_l("Choose how often it is taken")), ValidChoice(_l("Choose how often it is taken"))],
        validate_choice=False,
    )
    course_start = _date_field(_l("Course starts on"), _l("Enter the day the course starts"))
    course_end = _date_field(_l("Course ends on"), _l("Enter the day the course ends"))
    quantity = StringField(_l("Quantity, packs"), validators=[InputRequired(_l("Enter the quantity"))])
    validity = SelectField(
        _l("The prescription is valid for"),
        validators=[ValidChoice(_l("Choose how long the prescription is valid"))],
        validate_choice=False,
    )
    preferential = BooleanField(_l("Preferential prescription (free or discounted medicine)"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dose_unit.choices = choices([("", _l("Choose the unit"))] + [(k, v[0]) for k, v in DOSE_UNITS.items()])
        self.frequency.choices = choices([("", _l("Choose how often"))] + [(k, v[0]) for k, v in FREQUENCIES.items()])
        self.validity.choices = choices(list(VALIDITY_DAYS.items()))
        if not self.is_submitted():
            self.course_start.data = self.course_start.data or clock.today().strftime("%d.%m.%Y")
            self.validity.data = self.validity.data or "30"

    def validate_dose(self, field) -> None:
        try:
            value = Decimal((field.data or "").strip().replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            raise ValidationError(_l("Enter the dose as a number, for example 1 or 0,5")) from None
        if not value.is_finite():
            raise ValidationError(_l("Enter the dose as a number, for example 1 or 0,5"))
        if value <= 0:
            raise ValidationError(_l("The dose must be greater than zero"))
        if value > DOSE_MAX:
            raise ValidationError(_l("Enter a dose of at most 10000"))
        field.value = value

    def validate_course_start(self, field) -> None:
        start = _parsed(field)
        if start < clock.today() - timedelta(days=30):
            raise ValidationError(_l("The course must not start more than 30 days ago"))
        field.value = start

    def validate_course_end(self, field) -> None:
        end = _parsed(field)
        start = getattr(self.course_start, "value", None) or parse_date(self.course_start.data)
        if start is not None and end < start:
            raise ValidationError(_l("The course must not end before it starts"))
        if start is not None and end > start + timedelta(days=COURSE_MAX_DAYS):
            raise ValidationError(_l("The course must not last more than a year"))
        field.value = end

    def validate_quantity(self, field) -> None:
        text = (field.data or "").strip()
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise ValidationError(_l("Enter the quantity as a whole number from 1 to 100"))

    def terms(self) -> dict:
        """The intake's terms (after ``validate``)."""
        today = clock.today()
        amount = f"{self.dose.value.normalize():f}".replace(".", ",")
        unit = DOSE_UNITS[self.dose_unit.data][1]
        frequency = FREQUENCIES[self.frequency.data][1]
        return {
            "drug": self.drug.data.strip(),
            "form": self.form.data.strip(),
            "dose": f"{amount} {unit} {frequency}",
            "frequency": frequency,
            "quantity": f"{int(self.quantity.data.strip())} уп.",
            "course_start": self.course_start.value,
            "course_end": self.course_end.value,
            "issued_on": today,
            "valid_until": today + timedelta(days=int(self.validity.data)),
            "preferential": bool(self.preferential.data),
        }


def specialty_choices() -> list:
    locale = str(get_locale() or "ru")
    specialties = sorted(load_specialties(), key=lambda s: s.label(locale).casefold())
    return choices([("", _l("Choose the specialist"))] + [(s.code, s.label(locale)) for s in specialties])


class ReferralForm(FlaskForm):
    kind = RadioField(
        _l("Referral to"),
        validators=[
            InputRequired(_l("Choose what the referral is to")),
            ValidChoice(_l("Choose what the referral is to")),
        ],
        validate_choice=False,
    )
    specialty = SelectField(_l("Specialist"), validate_choice=False)
    target = StringField(_l("Test or study"), validators=[Length(max=200, message=_l("Enter at most 200 characters"))])
    reason = TextAreaField(
        _l("Reason (optional)"), validators=[Optional(), Length(max=2000, message=_l("Enter at most 2000 characters"))]
    )
    diagnosis_code = StringField(_l("Diagnosis, ICD-10 code (optional)"), validators=[Optional()])
    valid_until = _date_field(_l("Valid until"), _l("Enter the day the referral is valid until"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(list(REFERRAL_KINDS.items()))
        self.specialty.choices = specialty_choices()
        if not self.is_submitted():
            self.valid_until.data = self.valid_until.data or (clock.today() + timedelta(days=30)).strftime("%d.%m.%Y")

    def validate_specialty(self, field) -> None:
        if self.kind.data == "consultation" and field.data not in {c.value for c in field.choices if c.value}:
            raise ValidationError(_l("Choose the specialist"))

    def validate_target(self, field) -> None:
        if self.kind.data in ("test", "study") and not (field.data or "").strip():
            raise ValidationError(_l("Enter the test or study, for example complete blood count"))

    def validate_diagnosis_code(self, field) -> None:
        code = (field.data or "").strip().upper()
        if code and not ICD10.match(code):
            raise ValidationError(_l("Enter the ICD-10 code as a letter and digits, for example I10 or J06.9"))
        field.data = code

    def validate_valid_until(self, field) -> None:
        until = _parsed(field)
        today = clock.today()
        if until < today:
            raise ValidationError(_l("The referral must be valid at least until today"))
        if until > today + timedelta(days=REFERRAL_MAX_DAYS):
            raise ValidationError(_l("The referral must not be valid for more than a year"))
        field.value = until

    def terms(self) -> dict:
        if self.kind.data == "consultation":
            target = f"Консультация: {next(s.doctor for s in load_specialties() if s.code == self.specialty.data)}"
        else:
            target = self.target.data.strip()
        return {
            "kind": self.kind.data,
            "target": target,
            "reason": (self.reason.data or "").strip() or None,
            "diagnosis_code": self.diagnosis_code.data or None,
            "valid_until": self.valid_until.value,
        }


def dose_choices() -> list:
    locale = str(get_locale() or "ru")
    return choices([("", _l("Choose the dose"))] + [(item.code, item.name(locale)) for item in intake.calendar_items()])


class GivenVaccinationForm(FlaskForm):
    item = SelectField(
        _l("Dose by the national calendar"),
        validators=[InputRequired(_l("Choose the dose")), ValidChoice(_l("Choose the dose"))],
        validate_choice=False,
    )
    vaccine = StringField(
        _l("Vaccine"),
        validators=[
            InputRequired(_l("Enter the vaccine's name")),
            Length(max=200, message=_l("Enter at most 200 characters")),
        ],
    )
    series = StringField(
        _l("Series (lot) of the vaccine"),
        validators=[
            InputRequired(_l("Enter the series of the vaccine")),
            Length(max=64, message=_l("Enter at most 64 characters")),
        ],
    )
    given_on = _date_field(_l("Date given"), _l("Enter the date"))
    reactions = TextAreaField(
        _l("Reactions (optional)"),
        validators=[Optional(), Length(max=2000, message=_l("Enter at most 2000 characters"))],
    )

    def __init__(self, *args, birth_date: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.birth_date = birth_date
        self.item.choices = dose_choices()
        if not self.is_submitted():
            self.given_on.data = self.given_on.data or clock.today().strftime("%d.%m.%Y")

    def validate_given_on(self, field) -> None:
        given = _parsed(field)
        if given > clock.today():
            raise ValidationError(_l("The date must not be in the future"))
        if given < self.birth_date:
            raise ValidationError(_l("The date must not be before the date of birth"))
        field.value = given

    def terms(self) -> dict:
        return {
            "item": self.item.data,
            "vaccine": self.vaccine.data.strip(),
            "series": self.series.data.strip(),
            "given_on": self.given_on.value,
            "reactions": (self.reactions.data or "").strip() or None,
        }
