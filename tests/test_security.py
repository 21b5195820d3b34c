"""The security baseline: headers, CSRF, cookies, caching, compression, redirects, no state
changed by GET, nothing loaded from elsewhere (SECURITY.md section 4, checks 21 and 36-44)."""

from __future__ import annotations

import gzip
import itertools
import re
from http.cookies import SimpleCookie
from pathlib import Path

import brotli
import pytest
import sqlalchemy as sa

from portal.database import db
from portal.demodata.seed import seed_demo
from portal.rendering import safe_next
from tests.conftest import csrf_token
from tests.test_pages import PAGES

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def asset_path(client, name: str) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(rf"(/assets/{name}\.[0-9a-f]{{12}}\.\w+)", html).group(1)


@pytest.mark.parametrize("path,status", [("/", 200), ("/clinics", 200), ("/nowhere", 404), ("/csp-report", 405)])
def test_security_headers_on_pages_and_errors(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    for name, value in REQUIRED.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "X-XSS-Protection" not in response.headers


def test_headers_on_a_500(app_factory):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.everything"])
    response = app.test_client().get("/everything/boom")
    assert response.status_code == 500
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://portal.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_fingerprinted_assets_are_immutable_and_stale_ones_are_gone(client):
    path = asset_path(client, "portal")
    response = client.get(path)
    assert response.status_code == 200
    cache = response.headers["Cache-Control"]
    assert "immutable" in cache and "max-age=31536000" in cache and "public" in cache
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    stale = re.sub(r"\.[0-9a-f]{12}\.", ".000000000000.", path)
    assert client.get(stale).status_code == 404
    assert client.get("/assets/portal.css").status_code == 404


@pytest.mark.parametrize("encoding,decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_responses_are_compressed_for_clients_that_accept_it(client, encoding, decode):
    page = client.get("/accessibility", headers={"Accept-Encoding": encoding})
    assert page.headers["Content-Encoding"] == encoding
    assert b"<!doctype html>" in decode(page.data)
    script = client.get(asset_path(client, "htmx.min"), headers={"Accept-Encoding": encoding})
    assert script.headers["Content-Encoding"] == encoding
    assert len(script.data) < 18_000 and b"htmx" in decode(script.data)


def test_uncompressed_for_clients_that_do_not_accept_it(client):
    page = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in page.headers
    assert page.data.startswith(b"<!doctype html>")


# -- CSRF (checks 36, 38) -------------------------------------------------------------------

UNSAFE_FORMS = {
    "/settings/display": {"theme": "default", "language": "ru"},
    "/settings/language": {"language": "en"},
    "/auth/sign-in": {"login": "a@b.ru", "password": "x"},
}


# The heading of the refusal page (errors/400.html) in the portal's default language, Russian.
REFUSED = "Не удалось обработать запрос"


@pytest.mark.parametrize("path", sorted(UNSAFE_FORMS))
def test_the_htmx_header_carries_the_token(app, path):
    """portal.js sends the page's token in the X-CSRFToken header of every htmx request, with no
    csrf_token field in the form; the server takes it there, and refuses the same request without it."""
    script = (Path(__file__).parent.parent / "portal" / "static" / "portal.js").read_text(encoding="utf-8")
    assert 'headers["X-CSRFToken"] = meta.content' in script
    client = app.test_client()
    token = csrf_token(client)
    refused = client.post(path, data=UNSAFE_FORMS[path], headers={"HX-Request": "true"})
    assert refused.status_code == 400 and REFUSED in refused.get_data(as_text=True)
    htmx = client.post(path, data=UNSAFE_FORMS[path], headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert htmx.status_code in (200, 303, 400)
    assert REFUSED not in htmx.get_data(as_text=True)


def unsafe_paths(app) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"} and rule.endpoint != "web.csp_report":
            options = {name: sorted(getattr(rule._converters[name], "items", ["1"])) for name in rule.arguments}
            for combination in itertools.product(*options.values()):
                paths.append(rule.build(dict(zip(options, combination, strict=True)), append_unknown=False)[1])
    return sorted(paths)


def test_every_unsafe_route_refuses_a_missing_or_foreign_token(app, demo, login):
    """Signed in as the patient, so the check is the token and not the sign-in."""
    owner, stranger = login(demo["patient"]), login(demo["trusted"])
    foreign = csrf_token(stranger, "/auth/security")
    paths = unsafe_paths(app)
    assert len(paths) >= 25
    for path in paths:
        assert owner.post(path, data={}).status_code == 400, path
        assert owner.post(path, data={"csrf_token": foreign}).status_code == 400, path
        assert owner.post(path, data={}, headers={"X-CSRFToken": foreign}).status_code == 400, path


def test_no_route_is_exempt_from_csrf_but_the_reviewed_one(app):
    csrf = app.extensions["csrf"]
    assert csrf._exempt_views == {"portal.web.views.csp_report"}


def test_https_posts_need_a_same_origin_referer(app):
    client = app.test_client()
    base = "https://portal.test"
    page = client.get("/", base_url=base).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "language": "en"}
    assert client.post("/settings/language", data=data, base_url=base).status_code == 400
    ok = client.post("/settings/language", data=data, base_url=base, headers={"Referer": f"{base}/privacy"})
    assert ok.status_code == 303
    other = client.post("/settings/language", data=data, base_url=base, headers={"Referer": "https://evil.test/"})
    assert other.status_code == 400


# -- cookies (check 21) --------------------------------------------------------------------


def cookies_of(response) -> dict[str, str]:
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = SimpleCookie(header)
        found[next(iter(name))] = header
    return found


def test_production_cookies_are_host_prefixed_secure_httponly_and_lax(app_factory):
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    app = app_factory(ENV="production", TESTING=False, TESTING_PLUGINS=[], DATA_KEY=key, AUDIT_SIGNING_KEY=key)
    client = app.test_client()
    base = "https://portal.test"
    page = client.get("/", base_url=base)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    switched = client.post(
        "/settings/display",
        data={"csrf_token": token, "theme": "large-text", "language": "en"},
        base_url=base,
        headers={"Referer": f"{base}/settings/display"},
    )
    assert switched.status_code == 303
    seen = cookies_of(page) | cookies_of(switched)
    assert {"__Host-session", "lang", "theme"} <= set(seen)
    for name, header in seen.items():
        attrs = [a.strip().lower() for a in header.split(";")]
        assert "secure" in attrs and "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs, name
        assert not any(a.startswith("domain=") for a in attrs), name


# -- redirects (check 41) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil",
        "",
        "\t//evil",
        "/\x00x",
    ],
)
def test_next_never_leaves_the_site(post_form, target):
    response = post_form("/settings/language", {"language": "en", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert safe_next(target) == "/"


def test_next_keeps_a_local_path(post_form):
    response = post_form("/settings/language", {"language": "en", "next": "/clinics?q=ok"})
    assert response.headers["Location"] == "/clinics?q=ok"


# -- GET never changes state (check 37) ------------------------------------------------------


def database_fingerprint() -> tuple:
    rows = []
    for table in db.metadata.sorted_tables:
        count = db.session.scalar(sa.select(sa.func.count()).select_from(table))
        last = db.session.execute(sa.select(table).order_by(*table.primary_key.columns).limit(50)).all()
        rows.append((table.name, count, tuple(map(tuple, last))))
    db.session.rollback()
    return tuple(rows)


def test_no_get_route_changes_the_database_or_sets_a_preference(app, client):
    with app.app_context():
        seed_demo()
        before = database_fingerprint()
    gets = sorted(rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments)
    assert len(gets) >= 7
    for path in gets:
        response = client.get(path, query_string={"language": "en", "theme": "high-contrast", "lang": "en"})
        cookies = cookies_of(response)
        assert not ({"lang", "theme"} & set(cookies)), path
    with app.app_context():
        assert database_fingerprint() == before


def test_logout_like_state_changes_are_not_get(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"web.set_language", "web.csp_report"}:
            assert "GET" not in rule.methods


# -- nothing external (check 44) -------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_nothing_is_loaded_from_another_site(client, path):
    html = client.get(path).get_data(as_text=True)
    sources = re.findall(r'<(?:script|img|link|iframe)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        assert source.startswith("/") and not source.startswith("//"), source
    assert "@import" not in html and "fonts.googleapis" not in html


def test_csp_reports_are_accepted_without_a_token_and_logged(client, caplog):
    response = client.post(
        "/csp-report",
        data=b'{"csp-report": {"violated-directive": "script-src"}}',
        content_type="application/csp-report",
    )
    assert response.status_code == 204
    logged = [getattr(r, "fields", {}) for r in caplog.records if r.getMessage() == "CSP violation report"]
    assert logged == [{"reports": [{"directive": "script-src"}]}]
