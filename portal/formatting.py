"""Template filters and globals for values shown to people: phones, dates, numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

import flask_babel
import pytz
from babel import Locale
from babel import dates as babel_dates
from flask import Flask, current_app
from flask_babel import format_decimal, get_locale
from markupsafe import Markup, escape

from portal.identifiers import format_snils

# Russian dates as babel writes them end in «г.» (7 декабря 2026 г.), so a sentence ending with a
# date gets a doubled full stop («…до 7 декабря 2026 г..»). The portal writes «года» in full
# instead (the short month form drops it), which reads right inside a sentence and at its end.
RUSSIAN_DATES = {
    "medium": "d MMM y",
    "long": "d MMMM y\u00a0'года'",  # a no-break space keeps «2026 года» on one line
    "full": "EEEE, d MMMM y\u00a0'года'",
}


NAMED_FORMATS = ("full", "long", "medium", "short")
_FIELD = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=128)
def _pattern(locale: Locale, kind: str, format: str) -> tuple[str, tuple[str, ...]]:  # noqa: A002
    """A date or time pattern as Babel parses it, once per locale and format: the %-template and
    the fields it names (``dd``, ``MM``, ``y``, ``HH``…)."""
    if kind == "datetime" and format in NAMED_FORMATS:
        # As babel.dates.format_datetime joins them: the locale's "{1}, {0}" with the date and time.
        both = babel_dates.get_datetime_format(format, locale=locale).replace("'", "").replace("%", "%%")
        template = both.replace("{0}", _pattern(locale, "time", format)[0]).replace(
            "{1}", _pattern(locale, "date", format)[0]
        )
    else:
        if format in NAMED_FORMATS:
            format = (babel_dates.get_time_format if kind == "time" else babel_dates.get_date_format)(
                format, locale
            ).pattern
        template = babel_dates.parse_pattern(format).format
    return template, tuple(dict.fromkeys(_FIELD.findall(template)))


def _apply(template: str, fields: tuple[str, ...], value: date | datetime, locale: Locale) -> str:
    """Babel's ``DateTimePattern.apply``: numbers written here (the fields on every list row),
    every other field (month and weekday names, AM/PM) by Babel itself."""
    values = {}
    babel_fields = None
    for name in fields:
        char, width = name[0], len(name)
        if char == "d" and width <= 2:
            values[name] = f"{value.day:0{width}d}"
        elif char == "M" and width <= 2:
            values[name] = f"{value.month:0{width}d}"
        elif char == "y":
            year = f"{value.year:0{width}d}"
            values[name] = year[-2:] if width == 2 else year
        elif char == "H" and width <= 2:
            values[name] = f"{value.hour:0{width}d}"
        elif char == "h" and width <= 2:
            values[name] = f"{value.hour % 12 or 12:0{width}d}"
        elif char == "m" and width <= 2:
            values[name] = f"{value.minute:0{width}d}"
        else:
            babel_fields = babel_fields or babel_dates.DateTimeFormat(value, locale)
            values[name] = babel_fields[name]
    return template % values


@lru_cache(maxsize=8)
def _zone(name: str):
    return pytz.timezone(name)


def _local(value: datetime) -> datetime:
    """``flask_babel.to_user_timezone``: the portal has one time zone (the TIMEZONE setting, no
    per-request selector), looked up once."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    zone = _zone(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return zone.normalize(value.astimezone(zone))


def format_date(value: date | datetime | None = None, format: str | None = None, rebase: bool = True) -> str:  # noqa: A002 - flask_babel's name
    """A date in the reader's language; a moment is shown as its day in the portal's time zone
    (flask_babel rebases it to BABEL_DEFAULT_TIMEZONE, the TIMEZONE setting). Every date the
    portal shows or prints goes through here, so none ends with «г.» before a full stop. Writes
    what ``babel.dates.format_date`` writes, with the pattern parsed once (tests compare them):
    lists show a date on every row."""
    locale = get_locale()
    if locale is not None and locale.language == "ru":
        format = RUSSIAN_DATES.get(format or "medium", format)
    if locale is None or value is None:
        return flask_babel.format_date(value, format, rebase)
    if isinstance(value, datetime):
        if rebase:
            value = _local(value)
        value = value.date()
    return _apply(*_pattern(locale, "date", format or "medium"), value, locale)


def format_datetime(value: datetime | None = None, format: str | None = None, rebase: bool = True) -> str:  # noqa: A002 - flask_babel's name
    """A moment in the reader's language and the portal's time zone, as flask_babel.format_datetime
    writes it (the portal sets no formats of its own), with the patterns parsed once: the access
    log shows a moment on every line."""
    locale = get_locale()
    if locale is None or value is None:
        return flask_babel.format_datetime(value, format, rebase)
    if rebase:
        value = _local(value)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return _apply(*_pattern(locale, "datetime", format or "medium"), value, locale)


def format_phone(digits: str) -> str:
    """+74951234567 → +7 (495) 123-45-67; anything else is shown as it is."""
    bare = "".join(c for c in digits if c.isdigit())
    if len(bare) == 11 and bare[0] in "78":
        return f"+7 ({bare[1:4]}) {bare[4:7]}-{bare[7:9]}-{bare[9:11]}"
    return digits


def is_link_cell(value: object) -> bool:
    """A table cell given as (text, url) or (text, url, lang) rather than plain text."""
    return isinstance(value, tuple)


def table_cell(cell: object) -> Markup:
    """A table cell's HTML: text (None is a dash), or (text, url) a link, or (text, url, lang) a
    link, or a span without a url, in that language. A function rather than a Jinja macro: a
    table calls it for every cell."""
    if not isinstance(cell, tuple):
        return escape("—" if cell is None else cell)
    if len(cell) == 3 and cell[2]:
        text, url, lang = cell
        if url:
            return Markup(f'<a href="{escape(url)}" lang="{escape(lang)}">{escape(text)}</a>')  # noqa: S704 (escaped)
        return Markup(f'<span lang="{escape(lang)}">{escape(text)}</span>')  # noqa: S704 (escaped)
    if cell[1]:
        return Markup(f'<a href="{escape(cell[1])}">{escape(cell[0])}</a>')  # noqa: S704 (escaped)
    return escape(cell[0])


NUMERIC = ' class="numeric"'


def _row(row: list, figures: dict[int, str]) -> str:
    """A table row: its first cell the row's header; a figure's cell aligned right and labelled with
    its column's name (``figures``: position → the attributes), which a narrow screen shows."""
    cells = [f'\n    <tr>\n      <th scope="row">{table_cell(row[0])}</th>']
    cells.extend(f"\n      <td{figures.get(n, '')}>{table_cell(cell)}</td>" for n, cell in enumerate(row[1:], start=1))
    cells.append("\n    </tr>")
    return "".join(cells)


def data_table(
    caption: object,
    headers: list,
    rows: list,
    caption_class: str = "",
    id: str | None = None,  # noqa: A002 (the macro's name)
    numeric: tuple[int, ...] = (),
    total: list | None = None,
) -> Markup:
    """The portal's one table (components/tables.html ``data_table``): a caption, column headers
    with scope, the first cell of each row a row header; cells as ``table_cell`` takes them. A
    function rather than a Jinja loop: a list page's table was most of its rendering.

    ``numeric``: the columns (by position) of figures, aligned right, each figure labelled with its
    column's name for a narrow screen, where the rows are stacked and the headers hidden;
    ``total``: a last row in the table's foot, its first cell its header (e.g. «Итого»)."""
    figures = {n: f'{NUMERIC} data-label="{escape(headers[n])}"' for n in numeric}
    html = ['<div class="table-wrap">\n<table class="table"']
    if id:
        html.append(f' id="{escape(id)}"')
    html.append(f'>\n  <caption class="{escape(caption_class)}">{escape(caption)}</caption>\n  <thead>\n    <tr>')
    html.extend(
        f'\n      <th scope="col"{NUMERIC if n in figures else ""}>{escape(header)}</th>'
        for n, header in enumerate(headers)
    )
    html.append("\n    </tr>\n  </thead>\n  <tbody>")
    html.extend(_row(row, figures) for row in rows)
    html.append("\n  </tbody>")
    if total is not None:
        html.append(f"\n  <tfoot>{_row(total, figures)}\n  </tfoot>")
    html.append("\n</table>\n</div>")
    return Markup("".join(html))  # noqa: S704 (every part escaped)


def card_basis(basis: str) -> str:
    """Why the viewer sees a card, in words: «ваша карта», «ваш ребёнок», «доступ открыт вам»…"""
    from portal.record.sections import BASES

    return str(BASES.get(basis, basis))


def rubles(kopecks: int) -> str:
    """12345 → «123,45 ₽» in the reader's locale: the kopecks as a Decimal, never a float, so the
    sum shown is the sum added up, to the kopeck."""
    from flask_babel import format_currency

    return format_currency(Decimal(kopecks).scaleb(-2), "RUB")


def unit(ucum: str | None) -> str:
    """A UCUM unit as the reader's laboratory form prints it: «10*9/L» → «×10⁹/л»."""
    from flask_babel import get_locale

    from portal.record.catalog import unit_label

    return unit_label(ucum, str(get_locale() or "ru"))


def init_app(app: Flask) -> None:
    app.add_template_filter(unit)
    app.add_template_filter(card_basis)
    app.add_template_filter(rubles)
    app.add_template_test(is_link_cell, "link_cell")
    app.add_template_global(table_cell)
    app.add_template_global(data_table, name="render_data_table")
    app.add_template_filter(format_phone, "phone")
    app.add_template_filter(format_snils, "snils")
    app.add_template_global(format_date)
    app.add_template_global(format_datetime)
    app.add_template_global(format_decimal, "format_number")
