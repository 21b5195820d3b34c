from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.auditor.kinds import SEARCH_KINDS
from portal.forms import ValidChoice, choices
from portal.identifiers import is_valid_snils
from portal.paging import IdKeyField
from portal.record.forms import PeriodFilter


class EventSearch(PeriodFilter):
    """The auditor's search: a GET form (bookmarkable), every field optional; the period's dates
    in order (``PeriodFilter``), the SNILS with its check number."""

    person = StringField(
        _l("Staff member"), validators=[Optional(), Length(max=200, message=_l("Enter at most 200 characters"))]
    )
    snils = StringField(_l("Patient's SNILS"), validators=[Optional()])
    action = SelectField(
        _l("Kind of event"),
        choices=choices([("", _l("All")), *SEARCH_KINDS]),
        default="",
        validators=[Optional(), ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
    )
    before = IdKeyField()

    def validate_snils(self, field) -> None:
        if field.data and not is_valid_snils(field.data):
            raise ValidationError(_l("Check the SNILS: 11 digits with a correct check number"))

    def filters(self) -> dict[str, str]:
        """The search as query arguments (for the next page's link and the exports): only what was
        filled in."""
        values = {
            "person": (self.person.data or "").strip(),
            "snils": (self.snils.data or "").strip(),
            "action": self.action.data or "",
            "since": (self.since.data or "").strip(),
            "until": (self.until.data or "").strip(),
        }
        return {name: value for name, value in values.items() if value}


class ReviewForm(FlaskForm):
    decision = RadioField(
        _l("Your decision"),
        choices=choices(
            [
                ("reviewed", _l("Reviewed: the access was justified")),
                ("escalated", _l("Escalate: this access must be looked into")),
            ]
        ),
        validators=[InputRequired(_l("Choose reviewed or escalate")), ValidChoice(_l("Choose reviewed or escalate"))],
        validate_choice=False,
    )
    note = TextAreaField(_l("Note"), validators=[Length(max=2000, message=_l("Enter at most 2000 characters"))])

    def validate_note(self, field) -> None:
        if self.decision.data == "escalated" and not (field.data or "").strip():
            raise ValidationError(_l("Write why you escalate it: what must be looked into"))
