from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length


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
