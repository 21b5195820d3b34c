from __future__ import annotations

import re
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, PasswordField, RadioField, StringField, TelField
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from portal import clock
from portal.auth import passwords
from portal.forms import ValidChoice, choices
from portal.identifiers import is_valid_enp, is_valid_snils, normalise_phone, snils_digits

NAME = Length(max=100, message=_l("Enter at most 100 characters"))


def parse_date(text: str | None) -> date | None:
    """A date as people type it: 15.03.1985, 15/03/1985 or 1985-03-15."""
    text = (text or "").strip()
    for fmt in ("%d.%m.%Y", "%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    return None


class SignInForm(FlaskForm):
    login = StringField(
        _l("Phone, e-mail or SNILS"),
        validators=[
            InputRequired(_l("Enter your phone, e-mail or SNILS")),
            Length(max=254, message=_l("Enter at most 254 characters")),
        ],
    )
    # Never truncated or trimmed: a passphrase is taken exactly as typed.
    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(_l("Enter your password")),
            Length(max=1024, message=_l("Enter at most 1024 characters")),
        ],
    )


class NewPasswordMixin:
    """A new password typed twice, checked against the policy."""

    def policy_names(self) -> tuple[str, ...]:
        return ()

    def policy_email(self) -> str:
        return ""

    def validate_password(self, field) -> None:
        found = passwords.problems(field.data or "", names=self.policy_names(), email=self.policy_email())
        if found:
            raise ValidationError(found[0])

    def validate_password_again(self, field) -> None:
        if field.data != self.password.data:
            raise ValidationError(_l("The passwords do not match"))


class RegistrationForm(NewPasswordMixin, FlaskForm):
    surname = StringField(_l("Surname"), validators=[InputRequired(_l("Enter your surname")), NAME])
    name = StringField(_l("First name"), validators=[InputRequired(_l("Enter your first name")), NAME])
    patronymic = StringField(_l("Patronymic (if you have one)"), validators=[Optional(), NAME])
    birth_date = StringField(_l("Date of birth"), validators=[InputRequired(_l("Enter your date of birth"))])
    sex = RadioField(
        _l("Sex"),
        choices=choices([("F", _l("Female")), ("M", _l("Male"))]),
        validators=[InputRequired(_l("Choose your sex")), ValidChoice(_l("Choose your sex"))],
        validate_choice=False,
    )
    snils = StringField(_l("SNILS"), validators=[InputRequired(_l("Enter your SNILS"))])
    phone = TelField(_l("Mobile phone"), validators=[InputRequired(_l("Enter your mobile phone number"))])
    email = EmailField(
        _l("E-mail"),
        validators=[
            InputRequired(_l("Enter your e-mail")),
            Email(_l("Enter an e-mail like name@example.ru")),
            Length(max=254, message=_l("Enter at most 254 characters")),
        ],
    )
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Choose a password"))])
    password_again = PasswordField(_l("Password again"), validators=[InputRequired(_l("Type the password again"))])

    def policy_names(self) -> tuple[str, ...]:
        return (self.surname.data or "", self.name.data or "", self.patronymic.data or "")

    def policy_email(self) -> str:
        return self.email.data or ""

    def validate_birth_date(self, field) -> None:
        born = parse_date(field.data)
        if born is None:
            raise ValidationError(_l("Enter the date of birth as day, month and year, for example 15.03.1985"))
        if born > clock.today():
            raise ValidationError(_l("The date of birth must be in the past"))
        if born.year < 1900:
            raise ValidationError(_l("Check the year of birth"))
        if (clock.today() - born).days < 14 * 365:
            raise ValidationError(_l("You can register from the age of 14; a parent manages a younger child's card"))

    def validate_snils(self, field) -> None:
        if snils_digits(field.data) is None:
            raise ValidationError(_l("Enter the SNILS as 11 digits, for example 112-233-445 95"))
        if not is_valid_snils(field.data):
            raise ValidationError(_l("Check the SNILS: its check number does not match"))

    def validate_phone(self, field) -> None:
        if normalise_phone(field.data) is None:
            raise ValidationError(_l("Enter a Russian mobile number, for example +7 916 123-45-67"))


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[InputRequired(_l("Enter the code")), Length(max=16, message=_l("Enter the code without spaces"))],
    )


class RecoveryCodeForm(FlaskForm):
    recovery_code = StringField(
        _l("Recovery code"),
        validators=[InputRequired(_l("Enter a recovery code")), Length(max=16, message=_l("Enter one code"))],
    )


class FactorForm(FlaskForm):
    method = RadioField(
        _l("How do you want to confirm sign-ins?"),
        validators=[
            InputRequired(_l("Choose how to confirm sign-ins")),
            ValidChoice(_l("Choose how to confirm sign-ins")),
        ],
        validate_choice=False,
    )
    # Asked only when a working second factor is being replaced from a signed-in session: the
    # password, or else one of the recovery codes.
    current_password = PasswordField(_l("Current password"), validators=[Optional()])
    recovery_code = StringField(
        _l("Or one of your recovery codes"),
        validators=[Optional(), Length(max=16, message=_l("Enter one code"))],
    )


class ForgotForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[InputRequired(_l("Enter your e-mail")), Email(_l("Enter an e-mail like name@example.ru"))],
    )


class ResetForm(NewPasswordMixin, FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(_l("Choose a password"))])
    password_again = PasswordField(_l("New password again"), validators=[InputRequired(_l("Type the password again"))])


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter your current password"))]
    )
    password = PasswordField(_l("New password"), validators=[InputRequired(_l("Choose a password"))])
    password_again = PasswordField(_l("New password again"), validators=[InputRequired(_l("Type the password again"))])


class ChangeEmailForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter your current password"))]
    )
    email = EmailField(
        _l("New e-mail"),
        validators=[InputRequired(_l("Enter your e-mail")), Email(_l("Enter an e-mail like name@example.ru"))],
    )


class ChangePhoneForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter your current password"))]
    )
    phone = TelField(_l("New mobile phone"), validators=[InputRequired(_l("Enter your mobile phone number"))])

    def validate_phone(self, field) -> None:
        if normalise_phone(field.data) is None:
            raise ValidationError(_l("Enter a Russian mobile number, for example +7 916 123-45-67"))


class PasswordConfirmForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter your current password"))]
    )


class VerificationForm(FlaskForm):
    passport_series_number = StringField(
        _l("Passport series and number"), validators=[InputRequired(_l("Enter the passport series and number"))]
    )
    issued_on = StringField(_l("Date of issue"), validators=[InputRequired(_l("Enter the date of issue"))])
    issued_by = StringField(
        _l("Issued by"),
        validators=[
            InputRequired(_l("Enter who issued the passport")),
            Length(max=300, message=_l("Enter at most 300 characters")),
        ],
    )
    division_code = StringField(_l("Division code"), validators=[InputRequired(_l("Enter the division code"))])
    oms_number = StringField(_l("OMS policy number"), validators=[InputRequired(_l("Enter the OMS policy number"))])
    passport_file = FileField(_l("Passport: the page with your photo"))
    snils_file = FileField(_l("SNILS"))
    oms_file = FileField(_l("OMS policy"))

    def passport(self) -> tuple[str, str]:
        digits = re.sub(r"\s", "", self.passport_series_number.data or "")
        return digits[:4], digits[4:]

    def validate_passport_series_number(self, field) -> None:
        if not re.fullmatch(r"[0-9]{2}\s?[0-9]{2}\s?[0-9]{6}", (field.data or "").strip()):
            raise ValidationError(_l("Enter 4 digits of the series and 6 of the number, for example 45 08 123456"))

    def validate_issued_on(self, field) -> None:
        issued = parse_date(field.data)
        if issued is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 21.06.2019"))
        if issued > clock.today():
            raise ValidationError(_l("The date of issue must be in the past"))

    def validate_division_code(self, field) -> None:
        if not re.fullmatch(r"[0-9]{3}-?[0-9]{3}", (field.data or "").strip()):
            raise ValidationError(_l("Enter the division code as 6 digits, for example 770-001"))

    def validate_oms_number(self, field) -> None:
        digits = re.sub(r"\s", "", field.data or "")
        if not re.fullmatch(r"[0-9]{16}", digits):
            raise ValidationError(_l("Enter the 16 digits of the OMS policy number"))
        if not is_valid_enp(digits):
            raise ValidationError(_l("Check the OMS policy number: its check digit does not match"))
