"""The org admin's workspace and the invitation link in the browser: every page axe-, console- and
CSP-clean in Russian and English, every theme, JavaScript on and off (the staff list, the choice
of organisation, inviting, an invitation, a member, and each state of the link: the new account's
form, signing in to an existing account, used, expired, withdrawn, replaced, unknown); a bad
invitation and a refused change come back with the error summary focused; and the whole journey by
keyboard: the admin invites, the invitee opens the link, creates the account, confirms the phone,
sets up an authenticator app and opens their first staff page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page, new_context
from e2e.test_accessibility import assert_clean
from e2e.test_identity_journey import outbox_text, press_button, tab_to, tab_to_link, totp_code, type_into
from e2e.test_signed_in_pages import email_of_key, page_is_clean, signed_in
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Organisation
from portal.identifiers import make_snils
from portal.orgadmin import service
from portal.orgadmin.models import StaffInvitation

JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]
PASSWORD = "Светлый день над озером 2026!"

ADMIN_PAGES = [
    "/org",
    "/org/{org_a}/invitations/new",
    "/org/{org_a}/invitations/{invitation}",
    "/org/{org_a}/members/{registrar}",
    "/org/{org_a}/members/{admin}",  # their own: no suspension, no roles to give themselves
    "/org/{org_a}/members/{newcomer}",  # an invited nurse not yet in the directory: its form
]
# The link in each state: (the link's key in ``world``, the status the page answers).
LINKS = [
    ("open", 200),
    ("has_account", 200),
    ("accepted", 410),
    ("expired", 410),
    ("revoked", 410),
    ("replaced", 410),
    ("invalid", 400),
]


def _link(email: str) -> str:
    return re.search(r"(/invitation/\S+)", outbox_text_now(email)).group(1)


def outbox_text_now(email: str) -> str:
    from portal.notify.models import OutboxMessage

    return db.session.scalars(
        sa.select(OutboxMessage.body).where(OutboxMessage.recipient == email).order_by(OutboxMessage.id.desc())
    ).first()


def _invite(admin: Account, org: int, email: str, surname: str = "Зайцева") -> str:
    service.invite(admin, org, service.NewInvitation(surname, "Ольга", "Петровна", email, ["nurse"]))
    return _link(email)


@pytest.fixture(scope="module")
def world(live_app):
    """Clinic A's ids, and an invitation link in each state; Волков (clinic B's doctor) made an
    admin of clinic B and of another organisation, so that he chooses one."""
    from portal.clinic.service import assign_role

    with live_app.test_request_context():
        orgs = demo_organisations()
        org = orgs["A"].id
        admin = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("org_admin")))
        links = {key: _invite(admin, org, f"e2e-{key}@example.ru") for key in ("open", "accepted", "expired")}
        links["has_account"] = _invite(admin, org, email_of_key("patient"), "Смирнова")
        links["revoked"] = _invite(admin, org, "e2e-revoked@example.ru")
        links["replaced"] = _invite(admin, org, "e2e-replaced@example.ru")
        for key in ("revoked", "replaced"):
            found = db.session.scalar(
                sa.select(StaffInvitation).where(StaffInvitation.email == f"e2e-{key}@example.ru")
            )
            (service.revoke if key == "revoked" else service.resend)(admin, org, found.id)
        links["invalid"] = "/invitation/no-such-link"
        data = service.NewStaffAccount(
            datetime(1990, 1, 1).date(), "F", make_snils("003100009"), "+79167770009", PASSWORD
        )
        service.accept_with_new_account(links["accepted"].rsplit("/", 1)[1], data, "ru", None, None)
        with write_transaction():
            expired = db.session.scalar(
                sa.select(StaffInvitation).where(StaffInvitation.email == "e2e-expired@example.ru")
            )
            expired.expires_at = datetime.now(UTC) - timedelta(hours=1)
        volkov = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("doctor_b")))
        third = db.session.scalar(sa.select(Organisation.id).where(Organisation.id.not_in([org, orgs["B"].id])))
        for organisation_id in (orgs["B"].id, third):
            assign_role(None, volkov, organisation_id, "org_admin")
        found = {
            "org_a": org,
            "invitation": db.session.scalar(
                sa.select(StaffInvitation.id).where(StaffInvitation.email == "kravtsova@example.ru")
            ),
            "registrar": db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key("registrar"))),
            "admin": admin.id,
            "newcomer": db.session.scalar(sa.select(Account.id).where(Account.email == "e2e-accepted@example.ru")),
            "links": links,
        }
        db.session.remove()
    return found


def _check(context, path: str, lang: str, js: bool, status: int):
    """The page a link leads to answers ``status`` in ``lang`` with one h1, axe-, console- (but for
    the status itself) and CSP-clean; the context is closed after."""
    try:
        check = checked_page(context, js=js)
        assert check.goto(path).status == status, path
        assert check.page.locator("html").get_attribute("lang") == lang and check.page.locator("h1").count() == 1
        check.console_errors[:] = [e for e in check.console_errors if str(status) not in e]
        assert_clean(check, js)
        return check
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_page_is_accessible(browser, base_url, live_app, world, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path.format(**world), lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_choice_of_organisation_is_accessible(browser, base_url, live_app, world, lang, theme, js):
    context = signed_in(browser, base_url, live_app, "doctor_b", "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, "/org", lang, js)


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("key,status", LINKS, ids=[key for key, _ in LINKS])
def test_the_invitation_link_is_accessible_in_every_state(browser, base_url, world, key, status, lang, theme, js):
    context = new_context(browser, base_url, lang=lang, theme=theme, js=js)
    check = _check(context, world["links"][key], lang, js, status)
    assert check.page.url.endswith("/invitation")  # the token is gone from the address bar


# Accepting with an account that already has an authenticator app: the doctor of clinic A takes one
# more role each time (an invitation is accepted once), and the page that says so is clean.
ACCEPTS = [("ru", True, "registrar"), ("ru", False, "nurse"), ("en", True, "accountant"), ("en", False, "org_admin")]


@pytest.mark.parametrize("lang,js,role", ACCEPTS, ids=[f"{lang}-{js and 'js' or 'nojs'}" for lang, js, _ in ACCEPTS])
def test_accepting_with_an_account_is_accessible(browser, base_url, live_app, world, lang, js, role):
    with live_app.test_request_context():
        admin = db.session.get(Account, world["admin"])
        service.invite(
            admin, world["org_a"], service.NewInvitation("Соколов", "Дмитрий", None, email_of_key("doctor"), [role])
        )
        link = _link(email_of_key("doctor"))
        db.session.remove()
    context = signed_in(browser, base_url, live_app, "doctor", "complete", lang=lang, theme=THEMES[0], js=js)
    try:
        check = checked_page(context, js=js)
        check.goto(link)
        assert check.page.url.endswith("/invitation")
        assert_clean(check, js)
        with check.page.expect_navigation():
            check.page.locator("form[action$='/invitation/accept'] button").click()
        assert check.page.locator("h1").inner_text() == (
            "Приглашение принято" if lang == "ru" else "Invitation accepted"
        )
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_bad_invitation_and_a_refused_change_come_back_with_the_summary(browser, base_url, live_app, world, lang, js):
    context = signed_in(browser, base_url, live_app, "org_admin", "complete", lang=lang, js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        check.goto(f"/org/{world['org_a']}/invitations/new")
        page.fill("#surname", "Зайцева")
        page.fill("#email", "not-an-email")
        with page.expect_navigation():
            page.locator("form[action$='/invitations/new'] button").click()
        assert page.locator("#error-summary a").count() == 3  # name, e-mail, roles
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        assert page.locator("#surname").input_value() == "Зайцева"
        assert page.locator("#email").input_value() == "not-an-email"
        # an auditor's role for the registrar: refused, in words (an auditor holds no other role)
        check.goto(f"/org/{world['org_a']}/members/{world['registrar']}")
        page.select_option("#role", "auditor")
        with page.expect_navigation():
            page.locator("form[action$='/roles'] button").click()
        assert page.locator("#error-summary").count() == 1
        if js:
            assert page.evaluate("document.activeElement.id") == "error-summary"
        # the invited nurse listed in the directory with a register number that is not one
        check.goto(f"/org/{world['org_a']}/members/{world['newcomer']}")
        page.select_option("#specialty_code", "nurse")
        page.fill("#position", "медицинская сестра участковая")
        page.fill("#registration_number", "№")
        with page.expect_navigation():
            page.locator("form[action$='/directory'] button").click()
        assert page.locator("#error-summary a[href='#registration_number']").count() == 1
        assert page.locator("#position").input_value() == "медицинская сестра участковая"
        assert page.locator("#specialty_code").input_value() == "nurse"
        check.console_errors[:] = [e for e in check.console_errors if "400" not in e and "409" not in e]
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
def test_invite_and_accept_by_keyboard(browser, base_url, live_app, world, js):
    suffix = "1" if js else "2"
    email = f"invitee{suffix}@example.ru"
    admin = signed_in(browser, base_url, live_app, "org_admin", "complete", lang="ru", js=js)
    try:
        _admin_invites(checked_page(admin, js=js), email, js)
    finally:
        admin.close()
    invitee = new_context(browser, base_url, lang="ru", js=js)
    try:
        _invitee_accepts(checked_page(invitee, js=js), live_app, email, suffix, js)
    finally:
        invitee.close()


def _admin_invites(check, email: str, js: bool) -> None:
    """From the staff list to a sent invitation of a registrar, by keyboard."""
    page = check.page
    check.goto("/org")
    tab_to_link(page, "Пригласить сотрудника")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_clean(check, js)
    type_into(page, "#surname", "Лебедев")
    type_into(page, "#name", "Олег")
    type_into(page, "#patronymic", "Игоревич")
    type_into(page, "#email", email)
    tab_to(page, "#roles")  # the first role: registrar
    page.keyboard.press("Space")
    press_button(page, "Отправить приглашение")
    words = page.locator("main").inner_text()
    assert "Приглашение отправлено" in words and email in words
    assert_clean(check, js)


def _invitee_accepts(check, live_app, email: str, suffix: str, js: bool) -> None:
    """The link from the e-mail, the new account, the phone and an authenticator app (the only
    choice for staff) before the first staff page, by keyboard."""
    page = check.page
    snils = make_snils(f"00310000{suffix}")
    phone = f"+79167{suffix}00001"
    check.goto(re.search(r"(/invitation/\S+)", outbox_text(live_app, email)).group(1))
    assert page.url.endswith("/invitation")
    assert "Лебедев Олег Игоревич" in page.locator("main").inner_text()
    assert_clean(check, js)
    type_into(page, "#birth_date", "14.09.1991")
    tab_to(page, "#sex-0")
    page.keyboard.press("ArrowDown")  # the second choice: male
    assert page.locator("#sex-1").is_checked()
    type_into(page, "#snils", f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}")
    type_into(page, "#phone", phone)
    type_into(page, "#password", PASSWORD)
    type_into(page, "#password_again", PASSWORD)
    press_button(page, "Создать учётную запись и принять")
    assert page.url.endswith("/auth/enrol")
    assert_clean(check, js)
    check.goto("/desk")
    assert page.url.endswith("/auth/enrol")  # no staff page yet
    press_button(page, "Отправить код")
    type_into(page, "#code", re.search(r"\d{6}", outbox_text(live_app, phone)).group(0))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/auth/enrol/factor")
    assert page.locator("input[name=method]").count() == 1
    tab_to(page, "#method-0")
    page.keyboard.press("Space")
    press_button(page, "Продолжить")
    assert page.url.endswith("/auth/enrol/totp")
    type_into(page, "#code", totp_code(live_app, email, page.locator("code.secret").inner_text()))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/auth/recovery-codes")
    press_button(page, "Коды сохранены")
    response = check.goto("/desk")
    assert response.status == 200 and page.url.endswith("/desk")
    assert_clean(check, js)
