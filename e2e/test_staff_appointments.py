"""The staff pages of appointments in the browser: the registrar's desk (search, the patient's
appointments with the free times of a specialty, moving an appointment, a bad day typed) and the
org admin's schedules (the overview, a rule, a new exception) — axe-, console- and CSP-clean in
Russian and English, every theme, JavaScript on and off. A rule sent with bad values comes back
with the error summary focused, the values as typed, and still clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal import clock
from portal.appointments.models import Appointment, ScheduleException, ScheduleRule
from portal.auth.models import Account, StaffMembership
from portal.database import db, write_transaction

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
THERAPIST = "72"

DESK_PAGES = [
    "/desk",
    "/desk?q=смирнова",
    "/desk/patients/{patient}",
    f"/desk/patients/{{patient}}?specialty={THERAPIST}",
    "/desk/patients/{patient}/appointments/{appointment}/move",
    f"/desk/patients/{{patient}}?specialty={THERAPIST}&day=31.02.2026",
]
ADMIN_PAGES = [
    "/clinic/schedules",
    "/clinic/schedules/rules/{rule}",
    "/clinic/schedules/exceptions/new",
]


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        registrar_org = db.session.scalar(
            sa.select(StaffMembership.organisation_id)
            .join(Account, Account.id == StaffMembership.account_id)
            .where(Account.email == email_of_key("registrar"))
        )
        found = {
            "patient": patient,
            "appointment": db.session.scalar(
                sa.select(Appointment.id)
                .where(
                    Appointment.patient_id == patient,
                    Appointment.organisation_id == registrar_org,
                    Appointment.status == "booked",
                    Appointment.starts_at > clock.now(),
                )
                .limit(1)
            ),
            "rule": db.session.scalar(
                sa.select(ScheduleRule.id).where(ScheduleRule.organisation_id == registrar_org).limit(1)
            ),
        }
        with write_transaction():  # an exception ahead: the overview lists it with its Remove button
            db.session.add(
                ScheduleException(
                    organisation_id=registrar_org, kind="training", reason="Курсы",
                    starts_on=clock.today() + timedelta(days=40), ends_on=clock.today() + timedelta(days=41),
                )
            )  # fmt: skip
        db.session.remove()
    assert all(found.values()), found
    return found


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", DESK_PAGES)
def test_desk_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "registrar", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_schedule_page_is_accessible(browser, base_url, live_app, ids, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**ids), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_bad_rule_comes_back_with_the_error_summary(browser, base_url, live_app, ids, lang, js):
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang=lang, js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(f"/clinic/schedules/rules/{ids['rule']}")
        page = check.page
        page.fill("#weekdays", "189")
        page.fill("#slot_minutes", "3")
        with page.expect_navigation():
            page.locator(f"form[action$='/rules/{ids['rule']}'] button").click()
        summary = page.locator("#error-summary")
        assert summary.count() == 1
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#weekdays").input_value() == "189"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.fixture(scope="module")
def guardian_log(live_app):
    """Кузнецов's card with an appointment booked at the desk: his «Кто смотрел мою карту» shows
    the booking (its doctor has no account, so it opens the card to nobody)."""
    from portal.appointments import care
    from portal.audit import service as audit
    from portal.database import write_transaction

    with live_app.app_context():
        pid = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("guardian")))
        registrar = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("registrar")))
        with write_transaction():
            appointment = db.session.scalar(
                sa.select(Appointment).where(Appointment.patient_id == pid, Appointment.status == "completed").limit(1)
            )
            audit.record(
                "appointment.booked", actor_id=registrar, actor_role="registrar", patient_id=pid,
                section="appointments", organisation_id=appointment.organisation_id, object_type="appointment",
                object_id=appointment.id, reason="at the desk",
            )  # fmt: skip
            care.open_for(appointment, registrar, "registrar")
        db.session.remove()
    return pid


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_access_log_with_an_appointment_is_accessible(browser, base_url, live_app, guardian_log, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "guardian", "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(f"/card/{guardian_log}/access-log")
        assert response.status == 200
        words = check.page.locator("main").inner_text()
        assert ("записал(а) на приём" in words) if lang == "ru" else ("booked an appointment with" in words)
        assert_clean(check, js)
    finally:
        context.close()
