from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from portal.forms import ValidChoice
from portal.paging import IdKeyField


class ClinicSearchForm(FlaskForm):
    """The directory's filters. A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Name or address"),
        validators=[Optional(), Length(max=100, message=_l("Enter at most 100 characters"))],
    )
    region = SelectField(
        _l("Region"),
        validators=[Optional(), ValidChoice(_l("Choose a region from the list"))],
        validate_choice=False,
    )
    after = IdKeyField()
