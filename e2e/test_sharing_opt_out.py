"""The pages of sharing with trusted persons and of opting out of the electronic record, as the
people who use them: axe, console and CSP clean in both languages, all themes, JavaScript on and
off. Form states (an error, the code step) are reached the way a person reaches them: by filling
in and sending the form in the browser."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean, drop_expected_status_logs
from e2e.test_signed_in_pages import JS, email_of_key, signed_in
from portal import clock
from portal.auth.models import Account
from portal.consent.models import OptOutRequest
from portal.database import db
from portal.identifiers import format_snils, make_snils
from portal.sharing.models import AccessGrant


def send_empty(page) -> int:
    """Send the form as it is; the status of the answer to the POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator("form[novalidate] button.button-primary").click()
    page.wait_for_load_state("load")
    return answer.value.status


def send_valid(page) -> int:
    """Share two sections with Кузнецов Андрей (the demo guardian): the code step follows."""
    page.locator("#person").fill(format_snils(make_snils("002000012")))
    page.locator("#surname").fill("Кузнецов")
    page.locator("#sections").check()  # the first section
    page.locator("#level-0").check()
    page.locator("#expires_on").fill((clock.today() + timedelta(days=60)).strftime("%d.%m.%Y"))
    return send_empty(page)


# (who, path, action, landing path): the action is done on the page before it is checked.
PAGES = [
    ("patient", "/sharing/new", None, None),
    ("patient", "/sharing/new", send_empty, "/sharing/new"),
    ("patient", "/sharing/new", send_valid, "/sharing/confirm"),
    ("patient", "/sharing/{grant}/edit", None, None),
    ("patient", "/consent/opt-out", None, None),
    ("patient", "/consent/opt-out", send_empty, "/consent/opt-out"),
    ("trusted", "/consent/opt-out/{opt_out}", None, None),
    ("registrar", "/clinic/opt-outs", None, None),
    ("registrar", "/clinic/opt-outs/{opt_out}", None, None),
    ("guardian", "/consent/opt-out", None, None),  # with a child's closed card to open again
]
IDS = [
    "new",
    "new-error",
    "confirm",
    "edit",
    "opt-out",
    "opt-out-error",
    "opt-out-status",
    "opt-outs",
    "decision",
    "opt-out-closed-child",
]


def closed_child(live_app, name: str) -> int:
    """A child of the demo guardian whose card an approved opt-out closed; its patient id."""
    from datetime import UTC, datetime

    from portal.consent.models import ConsentEvent
    from portal.database import write_transaction
    from portal.record.models import Patient
    from portal.sharing.models import Guardianship

    with live_app.app_context():
        with write_transaction():
            guardian = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("guardian")))
            serial = db.session.scalar(sa.select(sa.func.count(Patient.id)))
            child = Patient(
                surname="Кузнецова",
                name=name,
                patronymic="Андреевна",
                sex="F",
                birth_date=clock.today() - timedelta(days=6 * 365),
                snils=make_snils(f"0060{serial:05d}"),
                closed_at=datetime.now(UTC),
            )
            db.session.add(child)
            db.session.flush()
            db.session.add(
                Guardianship(
                    guardian_id=guardian.id,
                    child_id=child.id,
                    basis="Свидетельство о рождении",
                    started_on=child.birth_date,
                    verified_at=datetime.now(UTC),
                )
            )
            db.session.add(
                ConsentEvent(
                    patient_id=child.id,
                    account_id=guardian.id,
                    action="revoked",
                    text_version="v1",
                    created_at=datetime.now(UTC),
                )
            )
            child_id = child.id
        db.session.remove()
    return child_id


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        owner = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        grant = db.session.scalar(sa.select(AccessGrant.id).where(AccessGrant.patient_id == owner.patient_id))
        opt_out = db.session.scalar(sa.select(OptOutRequest.id).order_by(OptOutRequest.id))
        db.session.remove()
    return {"grant": grant, "opt_out": opt_out, "closed_child": closed_child(live_app, "Алиса")}


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path,action,landing", PAGES, ids=IDS)
def test_page_is_accessible(browser, base_url, live_app, ids, who, path, action, landing, lang, theme, js):
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    try:
        check = checked_page(context, js=js)
        response = check.goto(path.format(**ids))
        assert response.status == 200, f"{path}: {response.status}"
        if action is not None:
            status = action(check.page)
            assert check.page.url.split("?")[0].endswith(landing), check.page.url
            if action is send_empty:  # an error state: 400 with the error summary
                assert status == 400 and check.page.locator("#error-summary").count() == 1
                drop_expected_status_logs(check, 400)
        assert check.page.locator("html").get_attribute("lang") == lang
        assert check.page.locator("h1").count() == 1
        assert_clean(check, js)
    finally:
        context.close()


@pytest.mark.parametrize("js", JS)
def test_the_guardian_opens_a_childs_closed_card_again_by_keyboard(browser, base_url, live_app, ids, js):
    from e2e.test_identity_journey import tab_to

    child_id = closed_child(live_app, "Вера" if js else "Ева")
    context = signed_in(browser, base_url, live_app, "guardian", "complete", lang="ru", js=js)
    try:
        check = checked_page(context, js=js)
        page = check.page
        assert check.goto("/consent/opt-out").status == 200
        assert page.locator("#closed-children").inner_text() == "Закрытые карты ваших детей"
        assert check.goto(f"/card/{child_id}").status == 404  # closed: not even her guardian opens it
        drop_expected_status_logs(check, 404)
        check.goto("/consent/opt-out")
        tab_to(page, f"form[action$='/rejoin/{child_id}'] button")
        assert page.evaluate("() => document.activeElement.textContent") == "Дать согласие снова и открыть карту"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"/card/{child_id}?done=rejoined")
        assert "Карта снова открыта" in page.locator("main").inner_text()
        assert " ".join(page.locator(".card-banner").inner_text().split()).startswith("Карта: Кузнецова")
        assert_clean(check, js)
    finally:
        context.close()


SHARING_WORDS = {
    "ru": {
        "continue": "Продолжить",
        "confirm": "Подтвердить и открыть доступ",
        "shared": "Карты, к которым мне открыт доступ",
        "vaccinations": "Прививки",
        "end": "Закрыть доступ",
    },
    "en": {
        "continue": "Continue",
        "confirm": "Confirm and share",
        "shared": "Cards shared with me",
        "vaccinations": "Vaccinations",
        "end": "End access",
    },
}


def last_code(live_app, account_email: str) -> str:
    """The one-time code the portal just sent this person (the demo's outbox, as SMS or e-mail)."""
    import re

    from portal.notify.models import OutboxMessage

    with live_app.app_context():
        account_id = db.session.scalar(sa.select(Account.id).where(Account.email == account_email))
        body = db.session.scalar(
            sa.select(OutboxMessage.body)
            .where(OutboxMessage.account_id == account_id, OutboxMessage.kind.like("code_%"))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        db.session.remove()
    return re.search(r"\b(\d{6})\b", body).group(1)


@pytest.mark.parametrize("lang,js", [pytest.param("ru", True, id="ru-js"), pytest.param("en", False, id="en-nojs")])
def test_sharing_one_section_end_to_end(browser, base_url, live_app, lang, js):
    """Smirnova shares her vaccinations with Кузнецов Андрей by SNILS and confirms with the code
    she was sent; he finds her card among the cards shared with him, with that one section and
    nothing else; she ends the access and his next request is refused. Every page clean."""
    words = SHARING_WORDS[lang]
    owner = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, js=js)
    try:
        check = checked_page(owner, js=js)
        page = check.page
        check.goto("/sharing/new")
        page.locator("#person").fill(format_snils(make_snils("002000012")))
        page.locator("#surname").fill("Кузнецов")
        page.locator("input[name=sections][value=vaccinations]").check()
        page.locator("#level-0").check()
        page.locator("#expires_on").fill((clock.today() + timedelta(days=30)).strftime("%d.%m.%Y"))
        with page.expect_navigation():
            page.get_by_role("button", name=words["continue"]).click()
        assert page.url.endswith("/sharing/confirm")
        page.locator("#code").fill(last_code(live_app, email_of_key("patient")))
        with page.expect_navigation() as confirmed:
            page.get_by_role("button", name=words["confirm"]).click()
        assert confirmed.value.status == 200 and "/sharing" in page.url
        assert page.locator("table", has_text="Кузнецов Андрей").count() == 1
        assert_clean(check, js)
    finally:
        owner.close()

    with live_app.app_context():
        card = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        db.session.remove()
    recipient = signed_in(browser, base_url, live_app, "guardian", "complete", lang=lang, js=js)
    try:
        check = checked_page(recipient, js=js)
        page = check.page
        check.goto("/cards")
        shared = page.locator("section", has=page.get_by_role("heading", name=words["shared"]))
        with page.expect_navigation():
            shared.get_by_role("link", name="Смирнова Елена").click()
        sections = page.locator("nav.card-sections li")
        assert sections.all_inner_texts() == [words["vaccinations"]]
        assert_clean(check, js)
        assert check.goto(f"/card/{card}/vaccinations").status == 200
        denied = check.goto(f"/card/{card}/visits")
        assert denied.status == 404
        drop_expected_status_logs(check, 404)
    finally:
        recipient.close()

    owner = signed_in(browser, base_url, live_app, "patient", "complete", lang=lang, js=js)
    try:
        check = checked_page(owner, js=js)
        page = check.page
        check.goto("/sharing")
        with page.expect_navigation():
            page.get_by_role("button", name=f"{words['end']} ").filter(has_text="Кузнецов").click()
        assert page.locator("table", has_text="Кузнецов Андрей").count() == 0
    finally:
        owner.close()
    recipient = signed_in(browser, base_url, live_app, "guardian", "complete", lang=lang, js=js)
    try:
        check = checked_page(recipient, js=js)
        assert check.goto(f"/card/{card}/vaccinations").status == 404
        drop_expected_status_logs(check, 404)
    finally:
        recipient.close()
