"""Booking in the browser: each step (specialty, doctor, date, time, confirm), the card's
appointments, the ticket and its cancel page, a step with bad arguments — axe-, console- and
CSP-clean in Russian and English, every theme, JavaScript on and off. Booking from the first
step to the ticket with the keyboard only, with and without JavaScript; narrowing the times with
htmx announces the result and keeps focus; the times at 320, 768 and 1280 px: a wrapping grid of
one-line links under a heading per part of the day, a list for a screen reader, reached with Tab; a
second booking of a taken time shows the nearest free times, clean too."""

from __future__ import annotations

from datetime import UTC

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal import clock
from portal.appointments.models import Appointment, Slot
from portal.auth.models import Account
from portal.database import db
from portal.directory.models import Practitioner
from portal.record import models as m

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
DENTIST = "62"

PAGES = [
    "/card/{patient}/appointments",
    "/card/{patient}/appointments/book",
    "/card/{patient}/appointments/book/doctor?specialty=62",
    "/card/{patient}/appointments/book/date?specialty=62&doctor=any",
    "/card/{patient}/appointments/book/time?specialty=62&doctor=any&date={day}",
    "/card/{patient}/appointments/book/time?specialty=62&doctor={doctor}&date={day}",
    "/card/{patient}/appointments/book/confirm?slot={slot}",
    "/card/{patient}/appointments/{appointment}",
    "/card/{patient}/appointments/{appointment}/cancel",
    "/card/{patient}/appointments/book/date?specialty=62&doctor=nobody",
]


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        child = db.session.scalar(
            sa.select(m.Patient.id).where(m.Patient.surname == "Кузнецова", m.Patient.name == "Дарья")
        )
        slot = db.session.scalar(
            sa.select(Slot)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(Practitioner.specialty_code == DENTIST, Slot.status == "free", Slot.starts_at > clock.now())
            .order_by(Slot.starts_at.desc())  # the latest: the keyboard test books the earliest
            .limit(1)
        )
        found = {
            "patient": patient,
            "child": child,
            "slot": slot.id,
            "doctor": slot.practitioner_id,
            "day": clock.local_date(slot.starts_at.replace(tzinfo=UTC)).isoformat(),
            "appointment": db.session.scalar(
                sa.select(Appointment.id).where(Appointment.patient_id == patient, Appointment.status == "booked")
            ),
        }
        db.session.remove()
    assert all(found.values()), found
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", PAGES)
def test_appointment_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(path.format(**ids))
        expected = 400 if "nobody" in path else 200
        assert response.status == expected, f"{path}: {response.status}"
        if expected == 400:
            check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert check.page.locator(".card-banner").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


def _tab_to(page, text: str, limit: int = 120) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()").startswith(text):
            return
    raise AssertionError(f"no focusable element {text!r} reached with Tab")


@pytest.mark.parametrize("js", JS)
def test_booking_from_the_first_step_to_the_ticket_by_keyboard(browser, base_url, live_app, ids, js):
    context = signed_in(browser, base_url, live_app, "guardian", "complete", lang="en", js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(f"/card/{ids['child']}/appointments/book")
        # a specialty of its own for each run: a card holds one upcoming appointment per specialty
        for name in ("dentist" if js else "ophthalmologist", "Any doctor"):
            _tab_to(page, name)
            with page.expect_navigation():
                page.keyboard.press("Enter")
        page.locator(".choice-list a").first.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.locator("#step .time-grid a").first.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/book/confirm?slot=" in page.url
        slot_url = page.url
        _tab_to(page, "Confirm the appointment")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_text("The appointment is booked").count() == 1
        assert page.locator(".ticket-qr svg").count() == 1
        assert_clean(check, js)
        # the patient tries the same time for herself: it is taken, the nearest free times are offered
        other = signed_in(browser, base_url, live_app, "patient", "complete", lang="en", js=js)
        try:
            second = checked_page(other, js=js)
            second.goto(slot_url.replace(f"/card/{ids['child']}/", f"/card/{ids['patient']}/"))
            with second.page.expect_navigation():
                second.page.get_by_role("button", name="Confirm the appointment").click()
            assert second.page.get_by_text("Someone else booked this time").count() == 1
            assert second.page.locator("a", has_text="Book").count() >= 1
            second.console_errors[:] = [e for e in second.console_errors if "409" not in e]
            assert_clean(second, js)
        finally:
            other.close()
    finally:
        context.close()


def test_narrowing_the_times_with_htmx_announces_and_keeps_focus(browser, base_url, live_app, ids):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en")
    try:
        check = checked_page(context)
        page = check.page
        check.goto(f"/card/{ids['patient']}/appointments/book/time?specialty=62&doctor=any&date={ids['day']}")
        page.locator("#part-morning").focus()
        with page.expect_response(lambda r: "part=morning" in r.url) as answered:
            page.keyboard.press("Space")
        assert answered.value.status == 200
        page.wait_for_function("() => /free time/.test(document.getElementById('live-region').textContent)")
        assert "part=morning" in page.url
        assert page.locator("h1").count() == 1
        assert page.evaluate("() => document.activeElement !== document.body")
        check.assert_clean()
    finally:
        context.close()


# Each group of the time step: its heading's text, the list's items, how many rows the links take,
# whether any link's text wraps and whether anything is wider than the page.
TIME_GRID = """() => [...document.querySelectorAll('#step ul.time-grid')].map(list => {
  const links = [...list.querySelectorAll('li > a')];
  const line = parseFloat(getComputedStyle(links[0]).lineHeight);
  return {
    heading: document.getElementById(list.getAttribute('aria-labelledby')).textContent.trim(),
    headingTag: document.getElementById(list.getAttribute('aria-labelledby')).tagName,
    role: list.getAttribute('role'),
    items: list.children.length,
    rows: new Set(links.map(a => Math.round(a.getBoundingClientRect().top))).size,
    wrapped: links.filter(a => a.getClientRects().length > 1 || a.getBoundingClientRect().height > 2.2 * line).length,
    overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  };
})"""


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("width", [320, 768, 1280])
def test_the_times_are_a_grid_of_one_line_links_grouped_by_part_of_the_day(browser, base_url, live_app, ids, width, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="ru", js=js,
                        viewport={"width": width, "height": 800})  # fmt: skip
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(f"/card/{ids['patient']}/appointments/book/time?specialty=62&doctor=any&date={ids['day']}")
        groups = page.evaluate(TIME_GRID)
        assert groups, "no group of times"
        total = int(page.locator("#step-heading").inner_text().split()[0])
        assert sum(g["items"] for g in groups) == total
        for group in groups:
            assert group["headingTag"] == "H3" and group["role"] == "list"
            assert group["heading"].split("(")[0].strip() in (
                "Утро, до 12:00",
                "День, с 12:00 до 17:00",
                "Вечер, с 17:00",
            )
            assert str(group["items"]) in group["heading"]  # the heading says how many
            assert group["wrapped"] == 0 and not group["overflow"], group
            # a grid: several times on a row, never one long column
            assert group["rows"] < group["items"] or group["items"] == 1, group
        # the times are reached with Tab, one after the other, in time order
        first = page.locator("#step .time-grid a").first
        first.focus()
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.textContent.trim()")
        assert focused == page.locator("#step .time-grid a").nth(1).inner_text().strip()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/book/confirm?slot=" in page.url
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_ticket_the_clinic_cancelled_offers_one_click_rebooking(browser, base_url, live_app, ids, lang):
    """Дарья's appointment is cancelled by the clinic (the doctor's sick leave): her ticket says
    why and offers the nearest free times, each booked with one button; clean, and the button
    books it."""
    from portal.appointments.models import ScheduleException
    from portal.appointments.schedule import apply_exception
    from portal.database import write_transaction

    with live_app.app_context():
        appointment = db.session.scalar(
            sa.select(Appointment).where(Appointment.patient_id == ids["child"]).order_by(Appointment.id).limit(1)
        )
        appointment_id = appointment.id
        if appointment.status == "booked":
            with write_transaction():
                day = clock.local_date(appointment.starts_at.replace(tzinfo=UTC))
                exception = ScheduleException(organisation_id=appointment.organisation_id,
                                              practitioner_id=appointment.practitioner_id, kind="sick_leave",
                                              starts_on=day, ends_on=day, reason="ОРВИ")  # fmt: skip
                db.session.add(exception)
                db.session.flush()
                exception_id = exception.id
            apply_exception(exception_id)
        db.session.remove()
    context = signed_in(browser, base_url, live_app, "guardian", "complete", lang=lang, theme="every")
    try:
        check = checked_page(context)
        check.goto(f"/card/{ids['child']}/appointments/{appointment_id}")
        buttons = check.page.locator(".rebook-list button")
        assert buttons.count() >= 1
        assert_clean(check, True)
        if lang == "en":
            with check.page.expect_navigation():
                buttons.first.click()
            assert check.page.get_by_text("The appointment is booked").count() == 1
    finally:
        context.close()
