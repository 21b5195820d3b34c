"""The pages of sharing with trusted persons and of opting out of the electronic record, as the
people who use them: axe, console and CSP clean in both languages, all themes, JavaScript on and
off. Form states (an error, the code step) are reached the way a person reaches them: by filling
in and sending the form in the browser."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_accessibility import assert_clean, drop_expected_status_logs
from e2e.test_signed_in_pages import JS, email_of_key, signed_in
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
    page.locator("#expires_on").fill((date.today() + timedelta(days=60)).strftime("%d.%m.%Y"))
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
]
IDS = ["new", "new-error", "confirm", "edit", "opt-out", "opt-out-error", "opt-out-status", "opt-outs", "decision"]


@pytest.fixture(scope="module")
def ids(live_app):
    with live_app.app_context():
        owner = db.session.scalar(sa.select(Account).where(Account.email == email_of_key("patient")))
        grant = db.session.scalar(sa.select(AccessGrant.id).where(AccessGrant.patient_id == owner.patient_id))
        opt_out = db.session.scalar(sa.select(OptOutRequest.id).order_by(OptOutRequest.id))
        db.session.remove()
    return {"grant": grant, "opt_out": opt_out}


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
