from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SearchField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

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
    specialty = SelectField(
        _l("Specialty"),
        validators=[Optional(), ValidChoice(_l("Choose a specialty from the list"))],
        validate_choice=False,
    )
    after = IdKeyField()


class DoctorSearchForm(FlaskForm):
    """Doctors by name, specialty and place. A GET form, without a CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Doctor's name"),
        validators=[Optional(), Length(max=100, message=_l("Enter at most 100 characters"))],
    )
    specialty = SelectField(
        _l("Specialty"),
        validators=[Optional(), ValidChoice(_l("Choose a specialty from the list"))],
        validate_choice=False,
    )
    place = SearchField(
        _l("Clinic or address"),
        validators=[Optional(), Length(max=100, message=_l("Enter at most 100 characters"))],
    )
    after = IdKeyField()


class AttachmentForm(FlaskForm):
    organisation = SelectField(
        _l("New clinic"),
        validators=[
            InputRequired(_l("Choose a clinic from the list")),
            ValidChoice(_l("Choose a clinic from the list")),
        ],
        validate_choice=False,
    )
    reason = TextAreaField(
        _l("Why you want to change your clinic"),
        validators=[
            InputRequired(_l("Write why you want to change your clinic")),
            Length(min=5, max=1000, message=_l("Write at least 5 and at most 1000 characters")),
        ],
    )
    moved = BooleanField(_l("I moved"))
