"""The report's form: a GET form (the address of a report can be bookmarked and sent), so no CSRF
token."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, ValidationError

from portal.accounting.service import MAX_DAYS, ReportQuery, latest_end
from portal.auth.forms import parse_date
from portal.formatting import format_date
from portal.forms import ValidChoice, choices

GROUP_LABELS = {
    "department": _l("By department"),
    "category": _l("By patient category"),
    "service": _l("By service"),
}
PAYER_LABELS = {
    "all": _l("Everything but OMS: the patients' own money and voluntary insurance"),
    "paid": _l("Paid by the patients"),
    "vmi": _l("Voluntary insurance (VMI)"),
}


def _radio(label, options: dict, default: str) -> RadioField:
    return RadioField(
        label,
        choices=choices(options.items()),
        default=default,
        validators=[ValidChoice(_l("Choose from the list"))],
        validate_choice=False,
    )


class ReportForm(FlaskForm):
    class Meta:
        csrf = False

    since = StringField(_l("Period from"), validators=[DataRequired(_l("Enter the first day of the period"))])
    until = StringField(_l("Period to"), validators=[DataRequired(_l("Enter the last day of the period"))])
    group = _radio(_l("Group the services"), GROUP_LABELS, "department")
    payer = _radio(_l("Paid by"), PAYER_LABELS, "all")

    def validate_since(self, field) -> None:
        if parse_date(field.data) is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 01.11.2026"))

    def validate_until(self, field) -> None:
        end, start = parse_date(field.data), parse_date(self.since.data)
        if end is None:
            raise ValidationError(_l("Enter the date as day, month and year, for example 30.11.2026"))
        if start is None:
            return
        if end < start:
            raise ValidationError(_l("The end of the period must not be before its start"))
        if end > latest_end(start):
            raise ValidationError(
                _(
                    "A period is at most %(days)s days long: end it on %(date)s or earlier",
                    days=MAX_DAYS,
                    date=format_date(latest_end(start), "long"),
                )
            )

    def query(self, organisation_id: int) -> ReportQuery:
        """The validated form as the service's query."""
        return ReportQuery(
            organisation_id,
            parse_date(self.since.data),
            parse_date(self.until.data),
            self.group.data,
            self.payer.data,
        )

    def args(self) -> dict[str, str]:
        """The form's values as query arguments: the CSV links repeat the report's."""
        return {name: (getattr(self, name).data or "").strip() for name in ("since", "until", "group", "payer")}

    @classmethod
    def defaults(cls, since: date, until: date) -> ReportForm:
        """The form as a first visit finds it: the period given, grouped by department, every payer."""
        return cls(data={"since": f"{since:%d.%m.%Y}", "until": f"{until:%d.%m.%Y}"})
