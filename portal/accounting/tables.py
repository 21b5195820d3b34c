"""The report in words and figures: its table on the page and its two CSV files.

The CSV files are for Excel as a Russian clinic has it: UTF-8 with a byte order mark (without it
Excel reads UTF-8 as Windows-1251), «;» between columns and a decimal comma (Excel in a Russian
locale splits columns at the list separator, «;», and reads «1234,50» as a number), dates as
DD.MM.YYYY, sums in roubles with kopecks and no thousands separator. The column names follow the
page's language; the format stays the same. A cell that begins with = + - @ or a tab or carriage
return gets a leading apostrophe, so a spreadsheet never runs it as a formula (SECURITY.md
check 49): a patient's name is typed by the patient.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.accounting.service import Line, Rendered, Report
from portal.formatting import rubles

AGE_LABELS = {
    "child": _l("Children (under 18)"),
    "adult": _l("Adults"),
    "pension": _l("Pension age (women from 60, men from 65)"),
}
AGE_SHORT = {"child": _l("child"), "adult": _l("adult"), "pension": _l("pension age")}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def payer_label(paid_by: str, insurer: str | None) -> str:
    """Who paid, in words: the patient's own money, or a voluntary insurer."""
    if paid_by == "paid":
        return _("own money")
    if insurer:
        return _("voluntary insurance: %(insurer)s", insurer=insurer)
    return _("voluntary insurance, insurer not recorded")


def _group_header(group: str) -> str:
    return {"department": _("Department"), "category": _("Patient category"), "service": _("Service")}[group]


def _label(group: str, key: tuple) -> tuple[str, bool]:
    """A line's group in words, and whether the words are Russian data (a name as recorded)."""
    if group == "department":
        return (key[0], True) if key[0] else (_("Department not recorded"), False)
    if group == "service":
        return f"{key[0]} {key[1]}", True
    age, paid_by, insurer = key
    return f"{AGE_LABELS[age]}, {payer_label(paid_by, insurer)}", False


def _figures(line: Line) -> list[str]:
    return [format_decimal(line.services), format_decimal(line.patients), rubles(line.kopecks)]


def page_table(report: Report) -> tuple[list[str], list[list], list]:
    """The headers, the rows and the total row of the report's table (``data_table``'s cells):
    Russian names marked as Russian on an English page."""
    foreign = None if str(get_locale()) == "ru" else "ru"
    headers = [_group_header(report.query.group), _("Number of services"), _("Number of patients"), _("Sum")]
    rows = []
    for line in report.lines:
        text, russian = _label(report.query.group, line.group)
        rows.append([(text, None, foreign) if russian else text, *_figures(line)])
    return headers, rows, [_("Total"), *_figures(report.total)]


# -- CSV -------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _amount(kopecks: int) -> str:
    """1234550 → «12345,50»: exact, for Excel with a Russian locale."""
    value = Decimal(kopecks).scaleb(-2)
    return f"{value:.2f}".replace(".", ",")


def _csv(header: list[str], rows: Iterable[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_cell(h) for h in header])
    writer.writerows([_cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_csv(report: Report) -> bytes:
    """The report's table as a CSV file, its total as the last line."""
    group = report.query.group
    header = [_group_header(group), _("Number of services"), _("Number of patients"), _("Sum, roubles")]
    rows = [
        [_label(group, line.group)[0], line.services, line.patients, _amount(line.kopecks)] for line in report.lines
    ]
    total = report.total
    rows.append([_("Total"), total.services, total.patients, _amount(total.kopecks)])
    return _csv(header, rows)


def services_csv(found: list[Rendered]) -> bytes:
    """Every service rendered, one line each: when, where, what, how much, who paid, and who
    received it (the card's number, name and date of birth). Nothing of the record's content."""
    header = [
        _("Date"),
        _("Department"),
        _("Service code"),
        _("Service"),
        _("Quantity"),
        _("Sum, roubles"),
        _("Paid by"),
        _("Patient category"),
        _("Card number"),
        _("Patient"),
        _("Date of birth"),
    ]
    rows = (
        [
            f"{s.provided_on:%d.%m.%Y}",
            s.department or _("Department not recorded"),
            s.code,
            s.name,
            s.quantity,
            _amount(s.kopecks),
            payer_label(s.paid_by, s.insurer),
            AGE_SHORT[s.age_group],
            s.patient_id,
            s.patient_name,
            f"{s.birth_date:%d.%m.%Y}",
        ]
        for s in found
    )
    return _csv(header, rows)
