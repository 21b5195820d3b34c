from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired


class DisplaySettingsForm(FlaskForm):
    theme = RadioField(_l("Colour and size"), validators=[InputRequired(_l("Choose a display option"))])
    language = RadioField(_l("Language"), validators=[InputRequired(_l("Choose a language"))])
    next = HiddenField()


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[InputRequired()])
    next = HiddenField()
