"""The inbox (with unread items and empty), notification settings and the profile: axe, console and
CSP clean in both languages, all themes, JavaScript on and off. With JavaScript, marking a
notification read updates the header count in place and announces the change politely."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.conftest import LANGUAGES, THEMES, checked_page
from e2e.test_signed_in_pages import JS, email_of_key, page_is_clean, signed_in
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.notify import inbox

# (who, path): "trusted" has unread notifications and a reminder; "nurse" has none.
PAGES = [
    ("trusted", "/notifications"),
    ("nurse", "/notifications"),
    ("trusted", "/notifications/settings"),
    ("trusted", "/profile"),
]


def account_id(live_app, key: str) -> int:
    with live_app.app_context():
        found = db.session.scalar(sa.select(Account.id).where(Account.email == email_of_key(key)))
        db.session.remove()
    return found


def tell(live_app, key: str, *posts: tuple[str, dict]) -> None:
    who = account_id(live_app, key)
    with live_app.test_request_context(), write_transaction():
        for event, options in posts:
            inbox.post(who, event, **options)
    with live_app.app_context():
        db.session.remove()


@pytest.fixture(scope="module")
def notifications(live_app):
    from datetime import UTC, datetime, timedelta

    tell(
        live_app,
        "trusted",
        ("result_new", {"params": {"title": "Общий анализ крови", "out_of_range": 2}, "url": "/cards"}),
        ("certificate_ready", {"params": {"title": "086/у"}, "url": "/cards"}),
        (
            "vaccination_due",
            {
                "params": {
                    "vaccine": "Грипп",
                    "vaccine_en": "Influenza",
                    "patient": "Ольга Павлова",
                    "due_on": "2026-09-01",
                },
                "url": "/cards",
                "subject_key": "vaccination:e2e",
                "remind_at": datetime.now(UTC) + timedelta(days=7),
            },
        ),
    )


@pytest.mark.parametrize("js", JS)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("who,path", PAGES, ids=[f"{who}{path}" for who, path in PAGES])
def test_page_is_accessible(browser, base_url, live_app, notifications, who, path, lang, theme, js):
    context = signed_in(browser, base_url, live_app, who, "complete", lang=lang, theme=theme, js=js)
    page_is_clean(context, path, lang, js)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_marking_read_updates_the_count_and_is_announced(browser, base_url, live_app, lang):
    key = {"ru": "auditor", "en": "org_admin"}[lang]
    tell(
        live_app, key, *[("certificate_ready", {"params": {"title": f"Справка {n}"}, "url": "/cards"}) for n in (1, 2)]
    )
    context = signed_in(browser, base_url, live_app, key, "complete", lang=lang)
    try:
        check = checked_page(context)
        page = check.page
        check.goto("/notifications")
        link = page.locator("#unread-link")
        assert "(2)" in link.inner_text()
        page.evaluate("window.__marker = 1")
        page.locator("#inbox form[action$='/read'] button").first.click()
        page.wait_for_function("() => document.getElementById('unread-link').textContent.includes('(1)')", timeout=5000)
        assert page.evaluate("window.__marker") == 1, "the page reloaded"
        page.wait_for_function("() => document.getElementById('live-region').textContent.trim() !== ''", timeout=2000)
        announced = page.locator("#live-region").inner_text()
        assert {"ru": "1", "en": "1 unread notification"}[lang] in announced
        assert page.evaluate("document.activeElement && document.activeElement.id").endswith("-title")
        page.locator("form[action$='/read-all'] button").click()
        page.wait_for_function(
            "() => !/\\(\\d+\\)/.test(document.getElementById('unread-link').textContent)", timeout=5000
        )
        check.assert_clean()
    finally:
        context.close()


def test_without_javascript_marking_read_is_an_ordinary_form(browser, base_url, live_app):
    tell(live_app, "doctor_b", ("certificate_ready", {"params": {"title": "086/у"}, "url": "/cards"}))
    context = signed_in(browser, base_url, live_app, "doctor_b", "complete", lang="en", js=False)
    try:
        check = checked_page(context, js=False)
        page = check.page
        check.goto("/notifications")
        page.get_by_role("button", name="Mark as read").first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/notifications?done=read")
        assert "Marked as read." in page.locator("main").inner_text()
        assert "(" not in page.locator("#unread-link").inner_text()
        check.assert_clean(axe=False)
    finally:
        context.close()
