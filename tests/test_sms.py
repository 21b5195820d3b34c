"""SMS through the built-in HTTP gateway channel, against a local fake gateway speaking each
provider's API: delivery, a provider's refusal, an HTTP error, a timeout, and the retry through
the outbox."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from portal.config import ConfigError
from portal.database import write_transaction
from portal.notify import service as notify
from tests.conftest import outbox
from tests.test_auth import account_by_email, confirm, confirm_link, post, register, sign_in

PHONE = "+79161234567"


class FakeGateway:
    """A real HTTP server on localhost that answers as the configured provider would."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answer: tuple[int, object] = (200, {})
        self.delay = 0.0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    fields = json.loads(raw)
                else:
                    fields = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                gateway.requests.append(
                    {"path": self.path, "fields": fields, "authorization": self.headers.get("Authorization")}
                )
                if gateway.delay:
                    time.sleep(gateway.delay)
                status, body = gateway.answer
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the timeout under test

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    fake = FakeGateway()
    yield fake
    fake.close()


ACCEPTED = {
    "generic": {"ok": True},
    "smsru": {"status": "OK", "status_code": 100, "sms": {"79161234567": {"status": "OK", "status_code": 100}}},
    "smsc": {"id": 17, "cnt": 1},
    "smsaero": {"success": True, "data": {"id": 17}, "message": None},
}
CREDENTIALS = {"SMS_GATEWAY_LOGIN": "medkarta@example.ru", "SMS_GATEWAY_PASSWORD": "key-123", "SMS_SENDER": "Medkarta"}


def sms_app(app_factory, gateway, provider="smsru", **overrides):
    """The built-in gateway channel alone (no test plugin's channel in front of it)."""
    return app_factory(
        SMS_GATEWAY=provider, SMS_GATEWAY_URL=gateway.url, TESTING_PLUGINS=[], **CREDENTIALS, **overrides
    )


def queue_sms(app, text="Код Медкарты: 123456", kind="security_alert"):
    with app.app_context(), write_transaction():
        notify.queue(account_id=None, channel="sms", kind=kind, recipient=PHONE, subject="", body=text)


@pytest.mark.parametrize(
    ("provider", "number", "text", "extra"),
    [
        ("generic", "to", "text", {"sender": "Medkarta"}),
        ("smsru", "to", "msg", {"api_id": "key-123", "json": "1", "from": "Medkarta"}),
        ("smsc", "phones", "mes", {"login": "medkarta@example.ru", "psw": "key-123", "fmt": "3", "sender": "Medkarta"}),
        ("smsaero", "number", "text", {"sign": "Medkarta"}),
    ],
)
def test_each_provider_gets_the_number_and_the_text_in_its_own_fields(
    app_factory, gateway, provider, number, text, extra
):
    gateway.answer = (200, ACCEPTED[provider])
    app = sms_app(app_factory, gateway, provider)
    queue_sms(app)
    [request] = gateway.requests
    fields = request["fields"]
    assert fields[number] == (PHONE if provider == "generic" else "79161234567")
    assert fields[text] == "Код Медкарты: 123456"
    for key, value in extra.items():
        assert str(fields[key]) == value
    if provider == "smsaero":
        assert request["authorization"] == "Basic bWVka2FydGFAZXhhbXBsZS5ydTprZXktMTIz"  # e-mail:API key
    if provider == "generic":
        assert request["authorization"] == "Bearer key-123"
    [message] = outbox(app)
    assert message.sent_at is not None and message.attempts == 1 and message.error is None


def test_a_phone_code_reaches_the_phone_and_confirms_it(app_factory, gateway):
    """The whole journey with a real gateway: the code the gateway was given is the code that works."""
    gateway.answer = (200, ACCEPTED["smsru"])
    app = sms_app(app_factory, gateway)
    client = app.test_client()
    assert register(client).status_code == 303
    assert confirm(client, confirm_link(app, "anna.solovyova@example.ru")).status_code == 200
    sign_in(client, "anna.solovyova@example.ru")
    assert post(client, "/auth/enrol/phone/send", {}, page="/auth/enrol").status_code == 303
    [request] = gateway.requests
    assert request["fields"]["to"] == "79161234567"
    code = re.search(r"\b(\d{6})\b", request["fields"]["msg"]).group(1)
    response = post(client, "/auth/enrol/phone", {"code": code}, page="/auth/enrol")
    assert response.headers["Location"] == "/auth/enrol/factor"
    assert account_by_email(app, "anna.solovyova@example.ru").phone_confirmed_at is not None
    # With a gateway, the second factor may be a code by SMS.
    assert "SMS" in client.get("/auth/enrol/factor").get_data(as_text=True)


@pytest.mark.parametrize(
    ("provider", "answer", "expected"),
    [
        ("smsru", {"status": "ERROR", "status_code": 201, "status_text": "Не хватает средств на лицевом счету"}, "201"),
        (
            "smsru",
            {
                "status": "OK",
                "sms": {
                    "79161234567": {
                        "status": "ERROR",
                        "status_code": 207,
                        "status_text": "На этот номер нельзя отправлять",
                    }
                },
            },
            "207",
        ),
        ("smsc", {"error": "authorise error", "error_code": 2}, "2 authorise error"),
        ("smsaero", {"success": False, "message": "Validation error."}, "Validation error."),
        ("generic", {"ok": False, "error": "unknown sender"}, "unknown sender"),
    ],
)
def test_a_provider_refusal_keeps_the_message_with_the_reason(app_factory, gateway, provider, answer, expected):
    gateway.answer = (200, answer)
    app = sms_app(app_factory, gateway, provider)
    queue_sms(app)
    [message] = outbox(app)
    assert message.sent_at is None and message.attempts == 1
    assert "refused" in message.error and expected in message.error


def test_the_number_quoted_back_by_a_provider_is_not_kept(app_factory, gateway):
    gateway.answer = (
        200,
        {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер +7 916 123-45-67"},
    )
    app = sms_app(app_factory, gateway)
    queue_sms(app)
    [message] = outbox(app)
    assert "202" in message.error
    assert not re.search(r"\d{3}.?\d{2}.?\d{2}", message.error.replace("202", ""))


def test_an_http_error_is_a_failure_and_the_outbox_tries_again(app_factory, gateway):
    gateway.answer = (502, {"error": "bad gateway"})
    app = sms_app(app_factory, gateway)
    queue_sms(app)
    [message] = outbox(app)
    assert message.sent_at is None and "HTTP 502" in message.error

    gateway.answer = (200, ACCEPTED["smsru"])
    runner = app.test_cli_runner()
    # Too soon: the first retry waits a minute, so a provider that is down is not hammered.
    assert "0 messages sent" in runner.invoke(args=["deliver-outbox"]).output
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1, seconds=5)):
        assert "1 messages sent" in runner.invoke(args=["deliver-outbox"]).output
    [message] = outbox(app)
    assert message.sent_at is not None and message.attempts == 2 and message.error is None
    assert len(gateway.requests) == 2


def test_a_gateway_that_does_not_answer_times_out_and_the_action_still_succeeds(app_factory, gateway):
    gateway.answer = (200, ACCEPTED["smsru"])
    gateway.delay = 3
    app = sms_app(app_factory, gateway, SMS_GATEWAY_TIMEOUT=1)
    started = time.monotonic()
    queue_sms(app)
    assert time.monotonic() - started < 2.5  # the wait is bounded by the timeout, not the gateway
    [message] = outbox(app)
    assert message.sent_at is None and "did not answer within 1 s" in message.error

    gateway.delay = 0
    assert "1 messages sent" in app.test_cli_runner().invoke(args=["deliver-outbox", "--now"]).output
    assert outbox(app)[0].sent_at is not None


def test_an_unreachable_gateway_is_a_failure_kept_in_the_outbox(app_factory, gateway):
    url = gateway.url
    gateway.close()
    app = app_factory(SMS_GATEWAY="generic", SMS_GATEWAY_URL=url, TESTING_PLUGINS=[])
    queue_sms(app)
    [message] = outbox(app)
    assert message.sent_at is None and "unreachable" in message.error


def test_a_failing_gateway_costs_only_the_action_that_queued_the_message(app_factory, gateway):
    """After commit a request sends only its own messages: earlier failures wait for the command."""
    gateway.answer = (500, {})
    app = sms_app(app_factory, gateway)
    queue_sms(app, "первое")
    queue_sms(app, "второе")
    assert [r["fields"]["msg"] for r in gateway.requests] == ["первое", "второе"]


def test_an_expired_code_is_not_retried(app_factory, gateway):
    gateway.answer = (500, {})
    app = sms_app(app_factory, gateway)
    queue_sms(app, "Код Медкарты: 654321", kind="code_sign_in")
    gateway.answer = (200, ACCEPTED["smsru"])
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=11)):
        assert "0 messages sent" in app.test_cli_runner().invoke(args=["deliver-outbox"]).output
    assert len(gateway.requests) == 1


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"SMS_GATEWAY": "megafon"}, "must be one of"),
        ({"SMS_GATEWAY": "generic"}, "PORTAL_SMS_GATEWAY_URL"),
        ({"SMS_GATEWAY": "smsru"}, "PORTAL_SMS_GATEWAY_PASSWORD"),
        ({"SMS_GATEWAY": "smsc", "SMS_GATEWAY_PASSWORD": "x"}, "PORTAL_SMS_GATEWAY_LOGIN"),
        ({"SMS_GATEWAY": "generic", "SMS_GATEWAY_URL": "ftp://gateway"}, "http(s)"),
    ],
)
def test_settings_that_cannot_work_stop_the_start_up(app_factory, settings, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        app_factory(**settings)


# -- without any SMS channel: codes come by e-mail, and the pages say so ---------------------------


def no_sms(app_factory):
    """A portal with no SMS gateway, no SMS plugin and no demo outbox: no SMS can ever arrive. It has a
    mail server (down here, so what it would send stays in the outbox, where the test reads it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    return app_factory(TESTING_PLUGINS=[], SMTP_HOST="127.0.0.1", SMTP_PORT=dead_port)


def test_without_sms_enrolment_keeps_the_phone_unconfirmed_and_offers_e_mail_codes(app_factory):
    app = no_sms(app_factory)
    client = app.test_client()
    assert register(client).status_code == 303
    assert confirm(client, confirm_link(app, "anna.solovyova@example.ru")).status_code == 200
    assert sign_in(client, "anna.solovyova@example.ru").headers["Location"] == "/auth/enrol"
    page = client.get("/auth/enrol").get_data(as_text=True)
    assert "не отправляет SMS" in page and "коды будут приходить на электронную почту" in page
    assert "/auth/enrol/phone/send" not in page  # no button for a code that could never arrive
    assert post(client, "/auth/enrol/phone/send", {}, page="/auth/enrol").status_code == 404
    choices = client.get("/auth/enrol/factor")
    assert choices.status_code == 200
    text = choices.get_data(as_text=True)
    assert 'value="email"' in text and 'value="totp"' in text and 'value="sms"' not in text
    # The e-mail code sets the second factor up; the phone stays as typed, unconfirmed.
    assert post(client, "/auth/enrol/factor", {"method": "email"}).status_code == 303
    code = re.search(r"\d{6}", outbox(app, "anna.solovyova@example.ru")[-1].body).group(0)
    response = post(client, "/auth/enrol/code?method=email", {"code": code}, page="/auth/enrol/code?method=email")
    assert response.headers["Location"] == "/auth/recovery-codes"
    account = account_by_email(app, "anna.solovyova@example.ru")
    assert account.phone == PHONE and account.phone_confirmed_at is None and account.second_factor == "email"
    assert not [m for m in outbox(app) if m.channel == "sms"]


def test_without_sms_a_sign_in_by_sms_code_gets_the_code_by_e_mail_and_is_told(app_factory, demo_factory):
    from portal.demodata.people import DEMO_PASSWORD

    app = no_sms(app_factory)
    people = demo_factory(app)
    patient = people["patient"]  # signs in with a code by SMS
    client = app.test_client()
    assert sign_in(client, patient.email, DEMO_PASSWORD).status_code == 303
    page = client.get("/auth/second-factor").get_data(as_text=True)
    assert "не может отправить SMS" in page and "на вашу электронную почту" in page
    [message] = [m for m in outbox(app) if m.kind == "code_sign_in"]
    assert message.channel == "email" and message.recipient == patient.email
    code = re.search(r"\d{6}", message.body).group(0)
    response = post(client, "/auth/second-factor", {"f-code": code, "use": "code"}, page="/auth/second-factor")
    assert response.status_code == 303 and response.headers["Location"] != "/auth/second-factor"


def test_without_sms_a_new_phone_is_kept_unconfirmed_after_the_password(app_factory, demo_factory):
    from portal.demodata.people import DEMO_PASSWORD
    from tests.conftest import session_for

    app = no_sms(app_factory)
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    response = post(
        client,
        "/auth/security/phone",
        {"ph-current_password": DEMO_PASSWORD, "ph-phone": "+7 903 555-44-33"},
        page="/auth/security",
    )
    assert response.headers["Location"] == "/auth/security?done=phone_unconfirmed"
    assert "не отправляет SMS" in client.get(response.headers["Location"]).get_data(as_text=True)
    account = account_by_email(app, people["patient"].email)
    assert account.phone == "+79035554433" and account.phone_confirmed_at is None
    assert any(m.kind == "security_alert" for m in outbox(app, people["patient"].email))


def test_a_failed_delivery_is_logged_without_the_recipient_or_the_providers_words(app_factory, gateway, caplog):
    gateway.answer = (200, {"status": "ERROR", "status_code": 202, "status_text": "Номер 79161234567 неверен"})
    app = sms_app(app_factory, gateway)
    with caplog.at_level("WARNING", logger="portal.notify.service"):
        queue_sms(app)
    [line] = [r.getMessage() for r in caplog.records if r.name == "portal.notify.service"]
    assert "SmsGatewayError" in line
    assert "79161234567" not in caplog.text and "неверен" not in caplog.text
