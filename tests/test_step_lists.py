"""The booking steps' lists written in Python (portal/appointments/step_lists.py) write what the
templates wrote before, in both languages, with every value escaped; the time step groups its
times under the parts of the day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import render_template_string

from portal.appointments import step_lists
from portal.appointments.booking import DayChoice, DoctorChoice, TimeChoice
from portal.appointments.views import KINDS, PARTS

# The templates' loops as they were before the lists moved to Python.
DOCTORS = """{%- set ru = None if locale == "ru" else "ru" %}
    {%- for d in doctors %}
    <li><a href="{{ url_for('appointments.book_date', patient_id=pid, specialty=specialty, doctor=d.id, **carry) }}"{% if ru %} lang="ru"{% endif %}>{{ d.full_name }}</a>{% if d.own_clinic %} ({{ _("your clinic") }}){% endif %}
      <br><span{% if ru %} lang="ru"{% endif %}>{{ d.position or "" }}{% if d.position %}, {% endif %}{{ d.organisation }}, {{ d.address }}</span>
      <br>{{ _("Nearest free time: %(when)s; free times: %(count)s", when=format_datetime(d.first, "short"), count=d.free) }}</li>
    {%- endfor %}"""  # noqa: E501 (the template's lines as they were)
DAYS = """
  {%- for d in days %}
  <li><a href="{{ url_for('appointments.book_time', patient_id=pid, specialty=specialty, doctor=who, date=d.day.isoformat(), **carry) }}">{{ format_date(d.day, "full") }}</a>: {{ ngettext("%(num)s free time", "%(num)s free times", d.free) }}</li>
  {%- endfor %}"""  # noqa: E501


def _doctors() -> list[DoctorChoice]:
    first = datetime(2026, 12, 9, 6, 15, tzinfo=UTC)
    return [
        DoctorChoice(7, "Иванова", "Анна", "Петровна", "врач-терапевт участковый", 1, "Поликлиника № 1",
                     "ул. Ленина, д. 1", 12, first, True),
        DoctorChoice(8, "Сидоров <b>", "Олег", None, None, 2, "«Клиника» & Ко", "пр-т Мира, 5", 1, first, False),
    ]  # fmt: skip


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("carry", [{}, {"referral": 5, "replace": 9}])
def test_the_doctor_and_date_lists_are_what_the_templates_wrote(app, lang, carry):
    days = [DayChoice(date(2026, 12, 9), 1), DayChoice(date(2026, 12, 10), 24)]
    with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
        doctors = render_template_string(DOCTORS, doctors=_doctors(), pid=21, specialty="72", carry=carry, locale=lang)
        assert step_lists.doctor_items(_doctors(), 21, "72", carry, lang != "ru") == doctors
        who_days = render_template_string(DAYS, days=days, pid=21, specialty="72", who="any", carry=carry)
        assert step_lists.day_items(days, 21, "72", "any", carry) == who_days
        assert step_lists.day_items(days, 21, "72", 7, carry) == render_template_string(
            DAYS, days=days, pid=21, specialty="72", who=7, carry=carry
        )
    assert "Сидоров &lt;b&gt;" in doctors and "«Клиника» &amp; Ко" in doctors


def test_the_times_are_grouped_by_part_of_the_day_with_how_many(app):
    # 08:00, 11:45 and 12:00 Moscow time (UTC+3); 17:20 online; nothing in the evening's place
    times = [
        TimeChoice(1, datetime(2026, 12, 9, 5, 0, tzinfo=UTC), "in_person"),
        TimeChoice(2, datetime(2026, 12, 9, 8, 45, tzinfo=UTC), "in_person"),
        TimeChoice(3, datetime(2026, 12, 9, 9, 0, tzinfo=UTC), "in_person"),
        TimeChoice(4, datetime(2026, 12, 9, 14, 20, tzinfo=UTC), "online"),
    ]
    with app.test_request_context("/", headers={"Cookie": "lang=ru"}):
        html = str(step_lists.time_groups(times, 21, {"referral": 5}, PARTS, KINDS))
    headings = [part for part in ("morning", "day", "evening") if f'id="times-{part}"' in html]
    assert headings == ["morning", "day", "evening"]
    morning, day, evening = html.split("<h3")[1:]
    assert "Утро, до 12:00" in morning and "(2 свободных времени)" in morning
    assert ">08:00<" in morning and ">11:45<" in morning and ">12:00<" in day
    assert "(1 свободное время)" in day and "Вечер, с 17:00" in evening
    assert '17:20<span class="time-kind"> · Онлайн</span>' in evening
    assert 'aria-labelledby="times-morning"' in morning and 'role="list"' in morning
    assert "/card/21/appointments/book/confirm?slot=1&amp;referral=5" in morning


def test_the_tickets_qr_code_is_what_segno_draws_with_the_readers_title(app):
    import segno

    from portal.appointments.views import _qr, _qr_drawing

    class Found:  # the two fields of a Ticket the QR code uses
        number = "Т-2026-000042"
        qr_text = "MEDKARTA;TALON:Т-2026-000042;AT:2026-12-09T10:15+03:00;ORG:1.2.643.5.1.13.13.12.2.77.1234"

    _qr_drawing.cache_clear()
    for lang, title in (("ru", "QR-код талона Т-2026-000042"), ("en", "QR code of ticket Т-2026-000042")):
        with app.test_request_context("/", headers={"Cookie": f"lang={lang}"}):
            drawn = _qr(Found())
        assert drawn == segno.make(Found.qr_text, error="m").svg_inline(scale=4, title=title)
    assert _qr_drawing.cache_info().misses == 1  # drawn once, for both languages
