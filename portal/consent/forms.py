from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from portal.forms import ValidChoice


class OptOutForm(FlaskForm):
    card = RadioField(
        _l("Whose card"),
        validators=[InputRequired(_l("Choose the card")), ValidChoice(_l("Choose the card"))],
        validate_choice=False,
    )
    reason = TextAreaField(
        _l("Why you want to opt out"),
        validators=[
            InputRequired(_l("Write the reason: a registrar reads it")),
            Length(max=1000, message=_l("Enter at most 1000 characters")),
        ],
    )
    confirm = BooleanField(
        _l("I understand the consequences and want the card closed"),
        validators=[InputRequired(_l("Confirm that you understand the consequences"))],
    )
