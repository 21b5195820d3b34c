"""The booking steps' lists as HTML, written in Python: the doctor step lists up to 200 doctors,
the date step four weeks of days and the time step a day's times, each row a link built with
url_for and a formatted date or time. In Jinja each row cost a url_for, a macro call and Babel's
date formatting; here the link is built once and each row's value put into it (as
``rendering.url_maker`` does for ids in a path), dates go through ``formatting.format_date`` (the pattern parsed
once), and the texts are the catalog's, as the templates showed them. Every value is escaped.
Tests compare the output with what the templates wrote (tests/test_step_lists.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flask import url_for
from flask_babel import get_translations
from markupsafe import Markup, escape

from portal import clock
from portal.appointments.booking import DayChoice, DoctorChoice, TimeChoice, part_of
from portal.formatting import format_date, format_datetime

ROW = "row-value-0x51"  # stands for each row's value in a link built once (nothing else looks like it)


def _catalog():
    catalog = get_translations()

    def _(text: str, **values: object) -> Markup:
        return Markup(catalog.ugettext(text)) % values  # noqa: S704 (the catalog's text; values escaped)

    def n_(singular: str, plural: str, num: int) -> Markup:
        return Markup(catalog.ungettext(singular, plural, num)) % {"num": num}  # noqa: S704 (the catalog's text)

    return _, n_


def _link(endpoint: str, **values: Any):
    """``value -> url_for(endpoint, **values)`` with the row's value where ``values`` has ROW (a
    query argument, in the order the templates wrote it), the URL built once."""
    head, _found, tail = url_for(endpoint, **values).partition(ROW)
    return lambda value: f"{head}{value}{tail}"


def _lang(ru: bool) -> str:
    return ' lang="ru"' if ru else ""


def doctor_items(doctors: Sequence[DoctorChoice], patient_id: int, specialty: str, carry: Mapping, ru: bool) -> Markup:
    """The doctor step's list items: the doctor (a link to the date step), the clinic, the soonest
    free time and how many."""
    _, _n = _catalog()
    link = _link("appointments.book_date", patient_id=patient_id, specialty=specialty, doctor=ROW, **carry)
    yours, lang = _("your clinic"), _lang(ru)
    html = []
    for d in doctors:
        own = f" ({yours})" if d.own_clinic else ""
        where = escape(f"{d.position}, " if d.position else "") + escape(f"{d.organisation}, {d.address}")
        nearest = _(
            "Nearest free time: %(when)s; free times: %(count)s",
            when=format_datetime(d.first, "short"),
            count=d.free,
        )
        html.append(
            f'\n    <li><a href="{escape(link(d.id))}"{lang}>{escape(d.full_name)}</a>{own}'
            f"\n      <br><span{lang}>{where}</span>\n      <br>{nearest}</li>"
        )
    return Markup("".join(html))  # noqa: S704 (every part escaped above)


def day_items(days: Sequence[DayChoice], patient_id: int, specialty: str, who: Any, carry: Mapping) -> Markup:
    """The date step's list items: each day with free times (a link to the time step), and how many."""
    _, n_ = _catalog()
    link = _link("appointments.book_time", patient_id=patient_id, specialty=specialty, doctor=who, date=ROW, **carry)
    html = [
        f'\n  <li><a href="{escape(link(d.day.isoformat()))}">{escape(format_date(d.day, "full"))}</a>: '
        f"{n_('%(num)s free time', '%(num)s free times', d.free)}</li>"
        for d in days
    ]
    return Markup("".join(html))  # noqa: S704 (every part escaped above)


def time_groups(
    times: Sequence[TimeChoice], patient_id: int, carry: Mapping, parts: Mapping[str, object], kinds: Mapping
) -> Markup:
    """The time step's times grouped by part of the day: a heading with how many, then the
    times as a list of links (a wrapping grid on screen, a plain list to a screen reader)."""
    _, n_ = _catalog()
    link = _link("appointments.confirm", patient_id=patient_id, slot=ROW, **carry)
    zone = clock.zone()
    grouped: dict[str, list[tuple[TimeChoice, datetime]]] = {}
    for t in times:
        local = t.starts_at.astimezone(zone)
        grouped.setdefault(part_of(local), []).append((t, local))
    html = []
    for part, found in grouped.items():
        count = n_("%(num)s free time", "%(num)s free times", len(found))
        html.append(
            f'\n  <h3 id="times-{part}" class="time-group-heading">{escape(parts[part])} '
            f'<span class="meta">({count})</span></h3>\n  <ul class="time-grid" role="list" '
            f'aria-labelledby="times-{part}">'
        )
        for t, local in found:
            at = f"{local.hour:02d}:{local.minute:02d}"  # "HH:mm" in every language
            kind = "" if t.kind == "in_person" else f'<span class="time-kind"> · {escape(kinds[t.kind])}</span>'
            html.append(f'\n    <li><a href="{escape(link(t.slot_id))}">{at}{kind}</a></li>')
        html.append("\n  </ul>")
    return Markup("".join(html))  # noqa: S704 (every part escaped above)
