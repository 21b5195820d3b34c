from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired

from portal.forms import ValidChoice


class DisplaySettingsForm(FlaskForm):
    theme = RadioField(
        _l("Colour and size"),
        validators=[InputRequired(_l("Choose a display option")), ValidChoice(_l("Choose a display option"))],
        validate_choice=False,
    )
    language = RadioField(
        _l("Language"),
        validators=[InputRequired(_l("Choose a language")), ValidChoice(_l("Choose a language"))],
        validate_choice=False,
    )
    next = HiddenField()


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[InputRequired()])
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token is checked."""
