"""Template filters and globals for values shown to people: phones, dates, numbers."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal

from portal.identifiers import format_snils


def format_phone(digits: str) -> str:
    """+74951234567 → +7 (495) 123-45-67; anything else is shown as it is."""
    bare = "".join(c for c in digits if c.isdigit())
    if len(bare) == 11 and bare[0] in "78":
        return f"+7 ({bare[1:4]}) {bare[4:7]}-{bare[7:9]}-{bare[9:11]}"
    return digits


def is_link_cell(value: object) -> bool:
    """A table cell given as (text, url) or (text, url, lang) rather than plain text."""
    return isinstance(value, tuple)


def card_basis(basis: str) -> str:
    """Why the viewer sees a card, in words: «ваша карта», «ваш ребёнок», «доступ открыт вам»…"""
    from portal.record.sections import BASES

    return str(BASES.get(basis, basis))


def rubles(kopecks: int) -> str:
    """12345 → «123,45 ₽» in the reader's locale."""
    from flask_babel import format_currency

    return format_currency(kopecks / 100, "RUB")


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
    app.add_template_filter(format_phone, "phone")
    app.add_template_filter(format_snils, "snils")
    app.add_template_global(format_date)
    app.add_template_global(format_datetime)
    app.add_template_global(format_decimal, "format_number")
