"""The waiting list, home visit calls and the registrar's desk in the browser: the citizen's pages
(the waiting list with a place in line and a time offered, the home visit form and its errors, the
card's calls) and the registrar's (the queue of calls, one call, the day's appointments) are axe-,
console- and CSP-clean in Russian and English, every theme, JavaScript on and off; the home visit
form sent empty shows the error summary, focused, and keeps nothing half-done; so does a visit the
clinic cancels without a reason. The citizen's page to cancel a call, and an accepted call at the
desk (to mark done or cancel), are clean too."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_signed_in_pages import email_of_key, signed_in
from portal import clock
from portal.appointments import homevisit, waitlist
from portal.appointments.models import Appointment, HomeVisitRequest, Slot
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Practitioner

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
ENT = "39"

CITIZEN_PAGES = [
    "/card/{patient}/appointments/waitlist",
    "/card/{patient}/home-visits",
    "/card/{patient}/home-visits/new",
    "/card/{patient}/home-visits/{accepted}/cancel",
]
DESK_PAGES = [
    "/clinic/home-visits",
    "/clinic/home-visits/{call}",
    "/clinic/home-visits/{accepted}",
    "/clinic/appointments",
]


@pytest.fixture(scope="module")
def ids(live_app):
    """The demo patient waits for ENT with a time offered, and has called a doctor home."""
    with live_app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        patient = account.patient_id
        waitlist.join(account, patient, ENT, weekdays="", part="", channels=("email",))
        with write_transaction():
            slot = db.session.scalar(
                sa.select(Slot)
                .join(Practitioner, Practitioner.id == Slot.practitioner_id)
                .where(
                    Practitioner.specialty_code == ENT,
                    Slot.status == "booked",
                    Slot.starts_at > clock.now() + timedelta(days=2),
                )
                .order_by(Slot.starts_at)
                .limit(1)
            )
            for appointment in db.session.scalars(sa.select(Appointment).where(Appointment.slot_id == slot.id)):
                appointment.status = "cancelled_by_clinic"
            db.session.flush()
            slot.status = "free"
        assert waitlist.run().offered == 1
        address = "ул. Ленина, д. 5, кв. 12, подъезд 2"
        # An accepted call (to cancel, to mark done), then a new one (to decide).
        first = homevisit.request_visit(account, patient, address, "Кашель", None, "+79123456789").id
        registrar = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("registrar")))
        doctor = db.session.scalar(
            sa.select(Practitioner.id).where(
                Practitioner.organisation_id == db.session.get(HomeVisitRequest, first).organisation_id
            )
        )
        homevisit.decide(registrar, first, True, doctor, clock.today())
        call = homevisit.request_visit(account, patient, address, "Кашель и температура", None, "+79123456789").id
        db.session.remove()
    return {"patient": patient, "call": call, "accepted": first}


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", CITIZEN_PAGES)
def test_citizen_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(path.format(**ids))
        assert response.status == 200, f"{path}: {response.status}"
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert check.page.locator(".card-banner").count() == 1
        if path.endswith("waitlist"):
            assert check.page.locator("form[action$='/accept']").count() == 1  # the time offered
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", DESK_PAGES)
def test_registrar_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "registrar", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(path.format(**ids))
        assert response.status == 200, f"{path}: {response.status}"
        assert check.page.locator("h1").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_home_visit_form_sent_with_errors_shows_the_summary(browser, base_url, live_app, ids, lang, js):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, theme="default", js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/card/{ids['patient']}/home-visits/new")
        check.page.fill("#address", "")
        check.page.fill("#symptoms", "Болит горло")
        check.page.fill("#temperature", "50")
        check.page.fill("#phone", "12")
        check.page.locator("form[action$='/home-visits/new'] button").click()
        check.page.wait_for_load_state()
        summary = check.page.locator("#error-summary")
        assert summary.count() == 1
        assert summary.locator("a").count() == 3  # address, temperature, phone
        assert check.page.input_value("#symptoms") == "Болит горло"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()
    with live_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(HomeVisitRequest.id))) == 2  # the fixture's two
        db.session.remove()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_visit_cancelled_without_a_reason_comes_back_with_the_summary(browser, base_url, live_app, ids, lang, js):
    """The clinic cancels an accepted visit with no reason: the error summary, focused, clean, and
    the visit still accepted."""
    context = signed_in(browser, base_url, live_app, "registrar", "complete", lang=lang, js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/clinic/home-visits/{ids['accepted']}")
        with check.page.expect_navigation():
            check.page.locator("form[action$='/cancel'] button").click()
        assert check.page.locator("#error-summary").count() == 1
        if js:
            assert check.page.evaluate("document.activeElement.id") == "error-summary"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
        with live_app.app_context():
            assert db.session.get(HomeVisitRequest, ids["accepted"]).status == "accepted"
            db.session.remove()
    finally:
        context.close()
