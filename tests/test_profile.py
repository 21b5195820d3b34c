"""The profile: contact details (changed through the security page, confirmed again), language and
theme saved on the account and applied on every device after sign-in."""

from __future__ import annotations

import re

from portal.auth.models import Account
from portal.database import db
from tests.conftest import csrf_token, outbox


def account(app, account_id: int) -> Account:
    with app.app_context():
        found = db.session.get(Account, account_id)
        db.session.expunge_all()
    return found


def save(client, data: dict):
    return client.post("/profile", data={"csrf_token": csrf_token(client, "/profile"), **data})


def lang_of(html: str) -> str:
    return re.search(r'<html lang="(\w+)"', html).group(1)


def theme_of(html: str) -> str:
    return re.search(r"themes/([\w-]+)\.[\w.]*css", html).group(1)


def test_the_profile_shows_contact_details_and_links_to_the_confirmed_change(app, demo, login):
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    html = client.get("/profile").get_data(as_text=True)
    assert demo["patient"].email in html and "Смирнова Елена Викторовна" in html
    assert 'href="/auth/security#email"' in html and 'href="/auth/security#phone"' in html
    assert "used only after you confirm it" in html
    assert 'href="/notifications/settings"' in html


def test_language_and_theme_are_saved_and_follow_the_person_to_a_new_device(app, demo, login):
    client = login(demo["patient"])
    response = save(client, {"language": "en", "theme": "high-contrast"})
    assert response.status_code == 303 and response.headers["Location"] == "/profile?saved=1"
    saved = account(app, demo["patient"].id)
    assert (saved.locale, saved.theme) == ("en", "high-contrast")
    elsewhere = login(demo["patient"])  # another device: a new session, no cookies
    elsewhere.set_cookie("lang", "ru")  # even one that chose Russian before signing in
    html = elsewhere.get("/cards").get_data(as_text=True)
    assert lang_of(html) == "en" and theme_of(html) == "high-contrast"
    assert "Your language and display choice is saved" in client.get("/profile?saved=1").get_data(as_text=True)


def test_signed_out_the_device_keeps_its_own_choice(app, demo, login):
    client = login(demo["patient"])
    save(client, {"language": "en", "theme": "large-text"})
    anonymous = app.test_client()
    anonymous.set_cookie("lang", "ru")
    html = anonymous.get("/").get_data(as_text=True)
    assert lang_of(html) == "ru" and theme_of(html) == "default"


def test_messages_follow_the_saved_language(app, demo, login):
    from portal.database import write_transaction
    from portal.notify import inbox

    save(login(demo["patient"]), {"language": "en", "theme": "default"})
    with app.test_request_context(), write_transaction():
        inbox.post(demo["patient"].id, "certificate_ready", params={"title": "086/у"})
    assert outbox(app, demo["patient"].email)[-1].subject == "Medkarta: A certificate is ready"


def test_a_bad_choice_is_refused_with_a_message_and_nothing_is_saved(app, demo, login):
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    response = save(client, {"language": "de", "theme": "neon"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choose a display option" in html and "Choose a language" in html
    assert account(app, demo["patient"].id).theme is None


def test_the_profile_form_changes_nothing_but_language_and_theme(app, demo, login):
    before = account(app, demo["patient"].id)
    client = login(demo["patient"])
    extra = {
        "email": "attacker@example.ru",
        "phone": "+79990000000",
        "verification_status": "rejected",
        "patient_id": "1",
        "surname": "Иванова",
        "is_active": "0",
    }
    assert save(client, {"language": "en", "theme": "default", **extra}).status_code == 303
    after = account(app, demo["patient"].id)
    for name in ("email", "phone", "verification_status", "patient_id", "surname", "is_active"):
        assert getattr(after, name) == getattr(before, name), name
    assert after.locale == "en"


def test_the_language_switch_and_display_settings_save_to_the_account_when_signed_in(app, demo, login):
    client = login(demo["patient"])
    token = csrf_token(client, "/cards")
    response = client.post("/settings/language", data={"csrf_token": token, "language": "en", "next": "/cards"})
    assert response.status_code == 303 and account(app, demo["patient"].id).locale == "en"
    client.post("/settings/display", data={"csrf_token": token, "language": "ru", "theme": "large-text"})
    saved = account(app, demo["patient"].id)
    assert (saved.locale, saved.theme) == ("ru", "large-text")


def test_an_anonymous_language_switch_only_sets_the_cookie(app, demo):
    client = app.test_client()
    token = csrf_token(client, "/")
    response = client.post("/settings/language", data={"csrf_token": token, "language": "en", "next": "/"})
    assert response.status_code == 303 and "lang=en" in response.headers["Set-Cookie"]
    assert account(app, demo["patient"].id).locale is None
