"""Every page of identity, consent, access and verification, as the person who uses it: axe, console
and CSP clean in both languages, all themes, JavaScript on and off. Also the idle-timeout warning
(WCAG 2.2.1) driven by the browser's clock."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page, new_context
from e2e.test_accessibility import assert_clean
from portal.audit import service as audit
from portal.audit.sealer import seal_pending
from portal.auth import service
from portal.auth.models import Account, VerificationRequest
from portal.database import db, write_transaction
from portal.demodata.people import CHILDREN, email_of
from portal.identifiers import make_snils
from portal.record.models import Patient
from portal.sharing.models import GuardianshipRequest

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]

# (who, path, stage): who is a demo person's key or None; {patient}/{request} are filled in.
PAGES = [
    (None, "/auth/register", None),
    (None, "/auth/register/sent", None),
    (None, "/auth/forgot", None),
    (None, "/auth/confirm", None),
    ("patient", "/auth/second-factor", "password"),
    ("patient", "/auth/enrol", "enrol"),
    ("patient", "/auth/enrol/factor", "enrol"),
    ("patient", "/cards", "complete"),
    ("patient", "/card/{patient}", "complete"),
    ("patient", "/card/{patient}/access-log", "complete"),
    ("patient", "/card/{patient}/access-log/{sealed}/proof", "complete"),
    ("patient", "/card/{patient}/access-log/{unsealed}/proof", "complete"),  # "will be sealed shortly"
    ("patient", "/consent/", "complete"),
    ("guardian", "/consent/", "complete"),
    ("guardian", "/consent/child/{child}", "complete"),
    ("patient", "/auth/security", "complete"),
    ("patient", "/auth/sessions", "complete"),
    ("patient", "/auth/provider/", "complete"),
    ("patient", "/auth/confirm-password?next=/cards&cancel=/cards", "complete"),
    ("patient", "/auth/verification", "complete"),
    ("guardian", "/children", "complete"),  # Дарья linked, Максим past the age limit
    ("patient", "/sharing", "complete"),
    ("registrar", "/clinic/verifications", "complete"),
    ("registrar", "/clinic/guardianships", "complete"),
    ("registrar", "/clinic/guardianships/{grequest}", "complete"),
    ("registrar", "/clinic/verifications/{request}", "complete"),
    ("doctor", "/clinic/emergency", "complete"),
    ("doctor", "/auth/enrol/factor", "complete"),  # replacing the app: the password is asked
]


def signed_in(browser, base_url, live_app, who: str, stage: str, **kwargs):
    """A browser context holding a server session for a demo person, as sign-in would leave it."""
    with live_app.test_request_context():
        with write_transaction():
            account = db.session.scalar(sa.select(Account).where(Account.email == email_of_key(who)))
            token, _row = service.start_session(account, stage, "127.0.0.1", "e2e")
        cookie = live_app.session_interface.get_signing_serializer(live_app).dumps({"sid": token})
        db.session.remove()
    context = new_context(browser, base_url, **kwargs)
    host = base_url.split("//", 1)[1].split(":")[0]
    context.add_cookies([{"name": "session", "value": cookie, "domain": host, "path": "/"}])
    if hasattr(context, "on_close"):  # a pooled context: sign out when the test is done with it,
        # as a person closing the browser would, so «Сеансы» lists a person's few devices, not
        # every test's session.
        context.on_close.append(lambda: _end_session(live_app, token))
    return context


def page_is_clean(context, path: str, lang: str, js: bool, heading_count: int = 1) -> None:
    """Open ``path`` in ``context``, then close the context: it answers 200 in ``lang`` with one
    h1 (or ``heading_count``), and axe, the console and the CSP find nothing (in every theme when
    the context asks)."""
    try:
        check = checked_page(context, js=js)
        response = check.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == heading_count
        assert_clean(check, js)
    finally:
        context.close()


def _end_session(live_app, token: str) -> None:
    from portal.auth.models import ServerSession

    with live_app.app_context():
        with write_transaction():
            row = db.session.get(ServerSession, service.session_id(token))
            if row is not None and row.ended_at is None:
                row.ended_at, row.end_reason = service.now(), "signed out"
        db.session.remove()


def email_of_key(key: str) -> str:
    from portal.demodata.people import PEOPLE

    return email_of(next(p for p in PEOPLE if p.key == key))


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        request = db.session.scalar(sa.select(VerificationRequest.id).order_by(VerificationRequest.id))
        grequest = db.session.scalar(sa.select(GuardianshipRequest.id).order_by(GuardianshipRequest.id))
        child = db.session.scalar(sa.select(Patient.id).where(Patient.snils == make_snils(CHILDREN[0][-1])))
        # Two lines of the access log: one sealed into a signed head, one not yet (no sealer runs here).
        sealed, unsealed = (audit_line(patient) for _ in range(2))
        db.session.remove()
    return {
        "patient": patient,
        "request": request,
        "grequest": grequest,
        "child": child,
        "sealed": sealed,
        "unsealed": unsealed,
    }


def audit_line(patient_id: int) -> int:
    """A doctor's reading of the card: a line of its access log; the lines before it are sealed."""
    seal_pending()
    with write_transaction():
        doctor = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("doctor")))
        return audit.record(
            "card.read", actor_id=doctor, actor_role="clinician", patient_id=patient_id, section="summary"
        ).id


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path,stage", PAGES, ids=[p[1] for p in PAGES])
def test_page_is_accessible(browser, base_url, live_app, ids, who, path, stage, lang, theme, js):
    options = {"lang": lang, "theme": theme, "js": js}
    context = (
        signed_in(browser, base_url, live_app, who, stage, **options)
        if who
        else new_context(browser, base_url, **options)
    )
    page_is_clean(context, path.format(**ids), lang, js)


def test_the_idle_warning_appears_in_time_and_keeps_the_session(browser, base_url, live_app):
    context = signed_in(browser, base_url, live_app, "patient", "complete", lang="en", fresh=True)
    try:
        check = checked_page(context)
        page = check.page
        page.clock.install()
        check.goto("/cards")
        warning = page.locator("#idle-warning")
        assert warning.is_hidden()
        page.clock.fast_forward("27:00")
        assert warning.is_hidden()
        page.clock.fast_forward("01:30")  # 28½ minutes idle: 2 minutes before the 30-minute limit
        assert warning.is_visible()
        assert page.evaluate("() => document.activeElement.textContent.trim()") == "Stay signed in"
        page.clock.fast_forward("00:01")
        assert "sign you out in 2 minutes" in page.locator("#live-region").inner_text()
        with page.expect_response(lambda r: r.url.endswith("/auth/keep-alive")) as kept:
            page.keyboard.press("Enter")
        assert kept.value.status == 204
        page.wait_for_function("() => document.getElementById('idle-warning').hidden")
        check.assert_clean()
    finally:
        context.close()


@pytest.fixture
def without_sms(live_app):
    """The portal as a deployment without any SMS channel sees it (the gateway switched off), and a
    patient whose phone is not confirmed yet; both put back afterwards."""
    email = email_of_key("patient")
    live_app.config["SMS_GATEWAY"] = ""
    with live_app.app_context(), write_transaction():
        account = db.session.scalar(sa.select(Account).where(Account.email == email))
        confirmed, account.phone_confirmed_at = account.phone_confirmed_at, None
    try:
        yield
    finally:
        live_app.config["SMS_GATEWAY"] = "generic"
        with live_app.app_context(), write_transaction():
            db.session.scalar(sa.select(Account).where(Account.email == email)).phone_confirmed_at = confirmed
        with live_app.app_context():
            db.session.remove()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_pages_that_say_no_sms_can_be_sent_are_accessible(
    browser, base_url, live_app, without_sms, lang, theme, js
):
    options = {"lang": lang, "theme": theme, "js": js}
    expected = {"ru": "не отправляет SMS", "en": "does not send SMS"}[lang]
    context = signed_in(browser, base_url, live_app, "patient", "enrol", **options)
    check = checked_page(context, js=js)
    try:
        assert check.goto("/auth/enrol").status == 200
        assert expected in check.page.locator("main").inner_text()
        assert check.page.locator("form[action='/auth/enrol/phone/send']").count() == 0
        assert_clean(check, js)
    finally:
        context.close()
    context = signed_in(browser, base_url, live_app, "patient", "complete", **options)
    check = checked_page(context, js=js)
    try:  # after a change of phone with no SMS to confirm it
        assert check.goto("/auth/security?done=phone_unconfirmed").status == 200
        assert expected in check.page.locator("main").inner_text()
        assert_clean(check, js)
    finally:
        context.close()
    told = {"ru": "на вашу электронную почту", "en": "to your e-mail instead"}[lang]
    context = signed_in(browser, base_url, live_app, "patient", "password", **options)
    check = checked_page(context, js=js)
    try:
        assert check.goto("/auth/second-factor").status == 200
        assert told in check.page.locator("main").inner_text()
        assert_clean(check, js)
    finally:
        context.close()
