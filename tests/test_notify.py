"""Notifications over a real SMTP server on localhost: what arrives, what waits, what is retried."""

from __future__ import annotations

import email
import re
import socket
import time
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import csrf_token, outbox
from tests.test_auth import FORM, register


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def wait_for(inbox: Inbox, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(inbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_confirmation_email_arrives_over_smtp(app_factory, smtp):
    controller, inbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, BASE_URL="https://medkarta.example")
    client = app.test_client()
    assert register(client).status_code == 303
    wait_for(inbox, 1)
    [message] = inbox.messages
    assert message["To"] == "anna.solovyova@example.ru"
    assert message["Subject"] == "Подтвердите электронную почту"
    assert "Медкарта" in message["From"]
    body = message.get_content()
    assert re.search(r"https://medkarta\.example/auth/confirm/\S+", body)
    assert "Анна" in body and FORM["password"] not in body
    assert outbox(app)[-1].sent_at is not None


def test_a_mail_server_that_is_down_loses_nothing_and_the_action_still_succeeds(app_factory, smtp):
    controller, inbox = smtp
    dead_port = free_port()
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=dead_port)
    assert register(app.test_client()).status_code == 303
    [waiting] = outbox(app)
    assert waiting.sent_at is None and waiting.attempts == 1 and "Connection" in waiting.error
    app.config["SMTP_PORT"] = controller.port  # the server is back
    result = app.test_cli_runner().invoke(args=["deliver-outbox", "--now"])
    assert "1 messages sent" in result.output
    wait_for(inbox, 1)
    assert len(inbox.messages) == 1 and outbox(app)[-1].sent_at is not None


def test_without_a_mail_server_messages_wait_in_the_outbox(app):
    assert register(app.test_client()).status_code == 303
    [waiting] = outbox(app)
    assert waiting.sent_at is None and waiting.attempts == 0


def test_the_demo_outbox_is_only_in_demo_mode(app_factory, demo_factory):
    plain = app_factory()
    assert plain.test_client().get("/demo/outbox").status_code == 404
    demo_app = app_factory(DEMO_MODE=True)
    demo_factory(demo_app)
    client = demo_app.test_client()
    register(client)
    client.set_cookie("lang", "ru")
    page = client.get("/demo/outbox").get_data(as_text=True)
    assert "Подтвердите электронную почту" in page
    assert "Соколов Дмитрий" in page  # the demo staff's current authenticator codes
    assert re.search(r"Соколов Дмитрий: <code>\d{6}</code>", page)


def test_demo_sign_in_lists_the_accounts_and_still_asks_for_the_code(app_factory, demo_factory):
    app = app_factory(DEMO_MODE=True)
    people = demo_factory(app)
    client = app.test_client()
    page = client.get("/auth/sign-in").get_data(as_text=True)
    from portal.demodata.people import PEOPLE

    assert page.count('name="account"') == len(PEOPLE)  # every demo person, the accountant included
    token = csrf_token(client, "/auth/sign-in")
    response = client.post("/auth/demo-sign-in", data={"csrf_token": token, "account": people["patient"].id})
    assert response.headers["Location"] == "/auth/second-factor"
    code = re.search(r"\d{6}", outbox(app, people["patient"].phone)[-1].body).group(0)
    done = client.post(
        "/auth/second-factor",
        data={"csrf_token": csrf_token(client, "/auth/second-factor"), "f-code": code, "use": "code"},
    )
    assert done.status_code == 303 and client.get("/cards").status_code == 200


def test_demo_sign_in_is_refused_outside_demo_mode(app, demo):
    client = app.test_client()
    token = csrf_token(client, "/auth/sign-in")
    assert (
        client.post("/auth/demo-sign-in", data={"csrf_token": token, "account": demo["patient"].id}).status_code == 404
    )
