"""Sign in as the demo patient and find the pages the benchmark measures, the way a person would:
through the demo sign-in, the code from the demo outbox, and the links on the pages.

The same steps run over HTTP against gunicorn (``HttpClient``, the standard library's
``http.client`` with a cookie jar) and in-process against the Flask test client (``FlaskClient``,
for counting SQL statements), so the two see the same pages with the same session.
"""

from __future__ import annotations

import html
import http.client
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DEMO_BUTTON = re.compile(r'<button[^>]*name="account" value="(\d+)"[^>]*>([^<]+)</button>')
CODE = re.compile(r'<pre class="message-body">[^<]*?\b(\d{6})\b')


@dataclass
class Answer:
    status: int
    location: str | None
    text: str


class SignInFailed(RuntimeError):
    pass


class HttpClient:
    """GET and form POST over one keep-alive connection, keeping cookies like a browser."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def _send(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        sent = {"Accept-Language": "ru", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        self.conn.request(method, path, body=body, headers=sent)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel["expires"].startswith("Thu, 01 Jan 1970"):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(response.status, response.headers.get("Location"), data.decode("utf-8", "replace"))

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self._send("GET", path, headers=headers)

    def post(self, path: str, form: dict) -> Answer:
        body = urlencode(form).encode()
        return self._send("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def raw(self, path: str, accept_encoding: str) -> bytes:
        """The body of ``path`` as sent with this ``Accept-Encoding``, not decoded."""
        self.conn.request("GET", path, headers={"Cookie": self.cookie_header(), "Accept-Encoding": accept_encoding})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        return data

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


class FlaskClient:
    """The same interface over Flask's test client (in-process, for counting statements)."""

    def __init__(self, test_client) -> None:
        self.client = test_client

    def _answer(self, response) -> Answer:
        return Answer(response.status_code, response.headers.get("Location"), response.get_data(as_text=True))

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self._answer(self.client.get(path, headers={"Accept-Language": "ru", **(headers or {})}))

    def post(self, path: str, form: dict) -> Answer:
        return self._answer(self.client.post(path, data=form, headers={"Accept-Language": "ru"}))


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in_demo_patient(client) -> None:
    """Demo sign-in as the demo patient (PORTAL_DEMO_MODE), then the SMS code from the demo outbox."""
    from portal.demodata.people import PEOPLE

    surname = next(p.surname for p in PEOPLE if p.key == "patient")
    page = client.get("/auth/sign-in")
    buttons = [(account, label) for account, label in DEMO_BUTTON.findall(page.text) if surname in html.unescape(label)]
    if page.status != 200 or not buttons:
        raise SignInFailed(
            "no demo sign-in for the demo patient on /auth/sign-in: is PORTAL_DEMO_MODE on and the demo seeded?"
        )
    answer = client.post(
        "/auth/demo-sign-in", {"csrf_token": CSRF.search(page.text).group(1), "account": buttons[0][0]}
    )
    if answer.status != 303:
        raise SignInFailed(f"demo sign-in answered {answer.status}")
    outbox = client.get("/demo/outbox")
    code = CODE.search(outbox.text)
    if not code:
        raise SignInFailed("no code in the demo outbox")
    form = client.get("/auth/second-factor")
    answer = client.post(
        "/auth/second-factor", {"csrf_token": CSRF.search(form.text).group(1), "f-code": code.group(1)}
    )
    if answer.status != 303:
        raise SignInFailed(f"the second factor answered {answer.status}")
    home = client.get(_path(answer.location or "/"))
    if home.status != 200:
        raise SignInFailed(f"the page after sign-in answered {home.status}")


def first_link(client, page: str, pattern: str) -> str:
    answer = client.get(page)
    if answer.status != 200:
        raise RuntimeError(f"GET {page}: {answer.status}")
    match = re.search(r'href="(' + pattern + r')"', answer.text)
    if not match:
        raise RuntimeError(f"no link matching {pattern} on {page}")
    return html.unescape(match.group(1))
