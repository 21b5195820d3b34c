"""Every public page and error page: in the layout, in both languages, with its landmarks."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from portal.demodata.seed import seed_demo

PAGES = ["/", "/auth/sign-in", "/accessibility", "/privacy", "/clinics", "/settings/display", "/hotline/"]


class Outline(HTMLParser):
    """Collects what the layout promises: landmarks, headings, the live region, the skip link."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_page_has_the_accessible_layout(client, path, lang):
    client.set_cookie("lang", lang)
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = outline(html)
    assert page.all("html", lang=lang)
    assert len(page.all("h1")) == 1
    assert len(page.all("main", id="main")) == 1
    assert page.all("header") and page.all("footer")
    assert len(page.all("nav")) >= 2 and all(n.get("aria-label") for n in page.all("nav"))
    first_link = next(a for t, a in page.tags if t == "a")
    assert first_link.get("href") == "#main" and first_link.get("class") == "skip-link"
    assert len([a for _, a in page.tags if a.get("aria-live")]) == 1
    assert page.all("meta", name="htmx-config")
    assert not re.search(r"<script(?![^>]*\ssrc=)", html), "inline script"
    assert " style=" not in html, "inline style"


@pytest.mark.parametrize("path", ["/accessibility", "/privacy", "/clinics", "/settings/display"])
def test_inner_pages_have_breadcrumbs(client, path):
    page = outline(client.get(path).get_data(as_text=True))
    crumbs = page.all("nav", **{"class": "breadcrumbs"})
    assert crumbs and crumbs[0].get("aria-label")
    assert page.all("li", **{"aria-current": "page"})


def test_home_explains_what_the_card_is_who_can_use_it_and_how_to_start(client):
    client.set_cookie("lang", "ru")
    html = client.get("/").get_data(as_text=True)
    for text in ("Кто может пользоваться", "Как начать", "СНИЛС", "Войти"):
        assert text in html


def test_home_shows_the_directory_card_with_the_number_of_organisations(client, app):
    with app.app_context():
        seed_demo()
    client.set_cookie("lang", "ru")
    html = client.get("/").get_data(as_text=True)
    assert "41 медицинская организация" in html


def test_sign_in_entry_point_validates_and_never_echoes_the_password(post_form, client):
    client.set_cookie("lang", "ru")
    empty = post_form("/auth/sign-in", {"login": "", "password": ""})
    assert empty.status_code == 400
    html = empty.get_data(as_text=True)
    assert 'id="error-summary"' in html and 'href="#login"' in html and 'href="#password"' in html
    assert 'aria-describedby="login-hint login-error"' in html and 'aria-invalid="true"' in html
    assert html.startswith("<!doctype html>") and "<title>Ошибка:" in html
    wrong = post_form("/auth/sign-in", {"login": "ivanova@example.ru", "password": "Секрет-Пароль-1"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    assert 'value="ivanova@example.ru"' in text  # what the user typed comes back
    assert "Секрет-Пароль-1" not in text


def test_sign_in_fields_have_autocomplete(client):
    page = outline(client.get("/auth/sign-in").get_data(as_text=True))
    assert page.all("input", id="login")[0]["autocomplete"] == "username"
    assert page.all("input", id="password")[0]["autocomplete"] == "current-password"


@pytest.mark.parametrize("lang,title", [("ru", "Страница не найдена"), ("en", "Page not found")])
def test_404_page_in_the_layout(client, lang, title):
    client.set_cookie("lang", lang)
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html and 'class="skip-link"' in html


def test_405_page_with_allow_header(client):
    response = client.get("/csp-report")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "<h1>" in response.get_data(as_text=True)


def test_400_page_for_a_missing_csrf_token(client):
    client.set_cookie("lang", "en")
    response = client.post("/settings/display", data={"theme": "default", "language": "ru"})
    assert response.status_code == 400
    assert "The request could not be understood" in response.get_data(as_text=True)


def test_413_page_for_a_too_large_body(app_factory):
    app = app_factory(MAX_UPLOAD_MB=1)
    client = app.test_client()
    client.set_cookie("lang", "ru")
    response = client.post("/auth/sign-in", data={"login": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Файл слишком большой" in response.get_data(as_text=True) or "5 МБ" in response.get_data(as_text=True)


def test_429_page_after_too_many_sign_in_attempts(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True)
    client = app.test_client()
    from tests.conftest import csrf_token

    token = csrf_token(client, "/auth/sign-in")
    statuses = [
        client.post("/auth/sign-in", data={"csrf_token": token, "login": "a@b.ru", "password": "x"}).status_code
        for _ in range(11)
    ]
    # Four wrong passwords, then the sign-in form pauses this login (its own 429), then the rate
    # limiter answers the eleventh attempt with its page.
    assert statuses[:4] == [400] * 4 and statuses[4:] == [429] * 7
    client.set_cookie("lang", "en")
    again = client.post("/auth/sign-in", data={"csrf_token": token, "login": "a@b.ru", "password": "x"})
    assert "Too many attempts" in again.get_data(as_text=True)
    # Another login from the same address is still allowed: the limit is per account too.
    other = client.post("/auth/sign-in", data={"csrf_token": token, "login": "c@d.ru", "password": "x"})
    assert other.status_code == 400


def test_500_page_has_a_correlation_id_and_no_traceback(app_factory, caplog):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.everything"])
    client = app.test_client()
    client.set_cookie("lang", "en")
    response = client.get("/everything/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    request_id = response.headers["X-Request-ID"]
    assert f"reference: {request_id}" in html
    assert "Traceback" not in html and "secret internal detail" not in html
    assert request_id in caplog.text and "secret internal detail 7f3a" in caplog.text


def test_403_page_in_the_layout(app_factory):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.everything"])
    client = app.test_client()
    client.set_cookie("lang", "ru")
    response = client.get("/everything/forbidden")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "<h1>Это действие вам недоступно</h1>" in html and 'class="skip-link"' in html
