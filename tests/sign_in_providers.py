"""Helpers for the sign-in provider tests (test_oidc.py, test_esia.py): people with and without a
card, and a browser that follows a provider's redirects until it comes back to the portal."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import sqlalchemy as sa

from portal.database import db, write_transaction
from tests.conftest import csrf_token

BASE_URL = "http://127.0.0.1:5000"  # the portal's BASE_URL in tests: callbacks are built from it

OIDC_SERVER = Path(__file__).parent / "oidc_provider"
CLIENT_ID, SECRET = "medkarta", "medkarta-oidc-test-secret"
USER = {"sub": "oidc-user-42", "email": "anna@example.org", "email_verified": True, "name": "Anna Belova"}


@contextmanager
def oidc_provider(redirect_uri: str, folder: Path) -> Iterator[str]:
    """panva/oidc-provider under Node on a free port of 127.0.0.1, with one client (``CLIENT_ID``,
    ``SECRET``, ``redirect_uri``) and one user (``USER``): yields its issuer. Skips without Node,
    unless PORTAL_TEST_REQUIRE_NODE is set (CI): then it fails."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("PORTAL_TEST_REQUIRE_NODE"):
            pytest.fail("Node.js is not installed: the OpenID Connect tests need it (make deps installs it)")
        pytest.skip("Node.js is not installed (make deps installs it)")
    if not (OIDC_SERVER / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/oidc_provider has no node_modules: run make install-test (npm ci)")
    log = folder / "oidc-provider.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OIDC_PORT": "0",
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_USER": json.dumps(USER),
    }
    with open(log, "w") as errors:
        server = subprocess.Popen(  # noqa: S603
            [node, "server.js"], cwd=OIDC_SERVER, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            line = server.stdout.readline()
            assert line.startswith("listening "), f"the OpenID provider did not start: {log.read_text()}"
            yield line.split()[1]
        finally:
            server.terminate()
            server.wait(timeout=10)


def make_account(app, snils: str, email: str, *, card: bool = False, factor: str = "email") -> int:
    """A confirmed, unverified account with a second factor (codes by e-mail unless ``factor``);
    with ``card``, a card with the same SNILS that no account is linked to."""
    from portal.auth import passwords, service
    from portal.record.models import Patient

    with app.app_context(), write_transaction():
        account = service.add_account(
            service.NewAccount(
                surname="Белова",
                name="Анна",
                patronymic="Петровна",
                birth_date=date(1985, 3, 14),
                sex="F",
                snils=snils,
                phone="+79001112233",
                email=email,
                password="Correct-Horse-Battery-9",  # noqa: S106
            ),
            passwords.hash_password("Correct-Horse-Battery-9"),
            "ru",
            email_confirmed=True,
        )
        account.second_factor = factor
        account.phone_confirmed_at = datetime.now(UTC)
        if card:
            db.session.add(Patient(surname="Белова", name="Анна", birth_date=date(1985, 3, 14), sex="F", snils=snils))
        return account.id


def account_row(app, account_id: int):
    from portal.auth.models import Account

    with app.app_context():
        found = db.session.get(Account, account_id)
        db.session.expunge_all()
    return found


def card_id(app, snils: str) -> int | None:
    from portal.record.models import Patient

    with app.app_context():
        return db.session.scalar(sa.select(Patient.id).where(Patient.snils == snils))


def signed_in(app, account_id: int):
    """A client of ``app`` with a complete, fresh session of the account (conftest's ``login`` is
    bound to the default app, which has no providers)."""
    from tests.conftest import session_for

    client = app.test_client()
    session_for(app, client, account_id)
    return client


def start(client, provider: str, next_path: str | None = None, page: str = "/auth/sign-in"):
    """Press the provider's button on ``page`` (a POST with the page's CSRF token)."""
    data = {"csrf_token": csrf_token(client, page)}
    if next_path is not None:
        data["next"] = next_path
    return client.post(f"/auth/provider/{provider}/start", data=data)


def to_callback(location: str, browser: requests.Session | None = None) -> str:
    """Follow the provider's redirects (as a browser with its own cookies would) until one points
    back at the portal; return that address's path and query."""
    browser = browser or requests.Session()
    for _hop in range(10):
        if location.startswith(BASE_URL):
            parts = urlsplit(location)
            return f"{parts.path}?{parts.query}"
        answer = browser.get(location, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
        location = urljoin(location, answer.headers["Location"])
    raise AssertionError("the provider never sent the browser back")


def through(client, provider: str, **kwargs):
    """Start a sign-in (or a link) and come back through the provider: the callback's answer."""
    started = start(client, provider, **kwargs)
    assert started.status_code == 303, started.get_data(as_text=True)[:500]
    return client.get(to_callback(started.headers["Location"]))


def last_code(app, email: str) -> str:
    from tests.conftest import outbox

    return re.search(r"\b(\d{6})\b", outbox(app, email)[-1].body).group(1)


def second_factor(app, client, email: str):
    return client.post(
        "/auth/second-factor",
        data={"csrf_token": csrf_token(client, "/auth/second-factor"), "f-code": last_code(app, email), "use": "code"},
    )


def refused_reason(app) -> str:
    """Why the latest provider sign-in was refused, as the audit log keeps it."""
    with app.app_context():
        from portal.audit.models import AuditEvent

        return db.session.scalar(
            sa.select(AuditEvent.reason)
            .where(AuditEvent.action == "auth.provider_sign_in", AuditEvent.outcome == "failure")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
