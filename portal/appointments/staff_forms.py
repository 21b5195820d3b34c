"""Forms of the staff pages: the registrar's desk and the org admin's schedules."""

from __future__ import annotations

from datetime import date, time

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import clock
from portal.auth.forms import parse_date
from portal.forms import ValidChoice


class DeskSearchForm(FlaskForm):
    """Find a patient: SNILS, or surname and optionally name. A GET form: no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(
        _l("SNILS or surname"),
        validators=[Optional(), Length(max=100, message=_l("Enter at most 100 characters"))],
    )


class DeskSlotsForm(FlaskForm):
    """Which free times to show: a specialty and the first day of a week. GET: no CSRF token."""

    class Meta:
        csrf = False

    specialty = SelectField(
        _l("Specialty"), validators=[Optional(), ValidChoice(_l("Choose from the list"))], validate_choice=False
    )
    day = StringField(_l("From the day"), validators=[Optional()])

    def day_date(self) -> date | None:
        return parse_date(self.day.data)

    def validate_day(self, field) -> None:
        if field.data and parse_date(field.data) is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 01.11.2026"))


class DeskCancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (the patient will see it)"),
        validators=[Optional(), Length(max=300, message=_l("Enter at most 300 characters"))],
    )


WEEKDAYS = "1234567"


def _time(text: str | None) -> time | None:
    try:
        hours, minutes = (text or "").strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        return None


class RuleForm(FlaskForm):
    """A doctor's working rule as the org admin edits it."""

    weekdays = StringField(
        _l("Weekdays"),
        validators=[InputRequired(_l("Enter the weekdays as digits, for example 135 for Mon, Wed, Fri"))],
    )
    start_time = StringField(_l("From"), validators=[InputRequired(_l("Enter the start time, for example 08:00"))])
    end_time = StringField(_l("Until"), validators=[InputRequired(_l("Enter the end time, for example 14:00"))])
    slot_minutes = StringField(
        _l("Minutes per appointment"), validators=[InputRequired(_l("Enter the minutes per appointment"))]
    )
    room = StringField(_l("Room"), validators=[Optional(), Length(max=32, message=_l("Enter at most 32 characters"))])
    valid_until = StringField(_l("Valid until"), validators=[Optional()])

    def validate_weekdays(self, field) -> None:
        value = (field.data or "").strip()
        if not value or any(c not in WEEKDAYS for c in value) or len(set(value)) != len(value):
            raise ValidationError(_l("Enter the weekdays as digits 1 to 7 (Monday is 1), each once, for example 135"))
        field.data = "".join(sorted(value))

    def validate_start_time(self, field) -> None:
        if _time(field.data) is None:
            raise ValidationError(_l("Enter the time as hours and minutes, for example 08:00"))

    def validate_end_time(self, field) -> None:
        end, start = _time(field.data), _time(self.start_time.data)
        if end is None:
            raise ValidationError(_l("Enter the time as hours and minutes, for example 14:00"))
        if start is not None and end <= start:
            raise ValidationError(_l("The end must be after the start"))

    def validate_slot_minutes(self, field) -> None:
        try:
            minutes = int((field.data or "").strip())
        except ValueError:
            minutes = 0
        if not 5 <= minutes <= 240:
            raise ValidationError(_l("Enter a number of minutes from 5 to 240"))

    def validate_valid_until(self, field) -> None:
        if field.data and parse_date(field.data) is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 01.11.2026"))

    def times(self) -> tuple[time, time]:
        return _time(self.start_time.data), _time(self.end_time.data)


class ExceptionForm(FlaskForm):
    """A day or days off: one doctor or the whole organisation."""

    practitioner = SelectField(
        _l("Who"), validators=[InputRequired(_l("Choose who")), ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
    )  # fmt: skip
    kind = SelectField(
        _l("Kind"), validators=[InputRequired(_l("Choose the kind")), ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
    )  # fmt: skip
    starts_on = StringField(_l("First day"), validators=[InputRequired(_l("Enter the first day"))])
    ends_on = StringField(_l("Last day"), validators=[InputRequired(_l("Enter the last day"))])
    reason = TextAreaField(
        _l("Reason (patients will see it)"),
        validators=[Optional(), Length(max=300, message=_l("Enter at most 300 characters"))],
    )

    def validate_starts_on(self, field) -> None:
        if parse_date(field.data) is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 01.11.2026"))

    def validate_ends_on(self, field) -> None:
        end, start = parse_date(field.data), parse_date(self.starts_on.data)
        if end is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 30.11.2026"))
        if start is not None and end < start:
            raise ValidationError(_l("The last day must not be before the first"))


class NewRuleForm(RuleForm):
    """A new working rule: the rule's fields, and for whom, of what kind and from which day. The
    doctor is checked by the service (another organisation's: 404), not against the list."""

    practitioner = SelectField(_l("Doctor"), validators=[InputRequired(_l("Choose the doctor"))], validate_choice=False)
    kind = RadioField(
        _l("Kind of appointment"),
        validators=[InputRequired(_l("Choose the kind of appointment")), ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
        default="in_person",
    )
    valid_from = StringField(_l("Valid from"), validators=[InputRequired(_l("Enter the first day of the rule"))])

    ORDER = (
        "practitioner", "kind", "weekdays", "start_time", "end_time", "slot_minutes", "room", "valid_from",
        "valid_until",
    )  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The page's order (the error summary lists the fields in it), not the order of definition.
        rest = [name for name in self._fields if name not in self.ORDER]
        self._fields = {name: self._fields[name] for name in (*self.ORDER, *rest)}

    def validate_valid_from(self, field) -> None:
        first = parse_date(field.data)
        if first is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 01.11.2026"))
        if first < clock.today():
            raise ValidationError(_l("A new rule cannot begin in the past: enter today or a later day"))

    def validate_valid_until(self, field) -> None:
        super().validate_valid_until(field)
        last, first = parse_date(field.data), parse_date(self.valid_from.data)
        if last is not None and first is not None and last < first:
            raise ValidationError(_l("The rule cannot end before its first day"))

    def validate_room(self, field) -> None:
        if (field.data or "").strip() and self.kind.data in ("home", "online"):
            raise ValidationError(_l("Home visits and online consultations have no room: leave it empty"))

    def practitioner_id(self) -> int | None:
        try:
            return int(self.practitioner.data)
        except (TypeError, ValueError):
            return None
