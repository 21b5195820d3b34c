from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.identifiers import is_valid_snils


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for the refusal"),
        validators=[
            InputRequired(_l("Write the reason: the citizen will see it")),
            Length(max=1000, message=_l("Enter at most 1000 characters")),
        ],
    )


class ApproveForm(FlaskForm):
    """Confirming an identity. The reason is asked for only when the request's SNILS, OMS number
    or passport already belongs to someone else; the service then requires it."""

    reason = TextAreaField(
        _l("Why you confirm the identity despite the warning"),
        validators=[Optional(), Length(max=1000, message=_l("Enter at most 1000 characters"))],
    )


class EmergencyForm(FlaskForm):
    snils = StringField(_l("Patient's SNILS"), validators=[InputRequired(_l("Enter the patient's SNILS"))])
    reason = TextAreaField(
        _l("Why you need the card now"),
        validators=[
            InputRequired(_l("Write the reason: the patient will be told")),
            Length(min=10, max=1000, message=_l("Write at least 10 and at most 1000 characters")),
        ],
    )
    password = PasswordField(_l("Your password"), validators=[InputRequired(_l("Enter your password"))])

    def validate_snils(self, field) -> None:
        if not is_valid_snils(field.data):
            raise ValidationError(_l("Check the SNILS: 11 digits with a correct check number"))
