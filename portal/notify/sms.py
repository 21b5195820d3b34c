"""SMS through an HTTP gateway: one channel, configured for a generic JSON gateway or for one of the
common Russian providers (SMS.ru, SMSC.ru, SMS Aero).

The channel only speaks HTTP; what a provider wants is a small ``Provider`` entry: where to post,
how to put the number and the text in the request, and how to read success from the answer. A
failure raises ``SmsGatewayError``; the outbox keeps the message and ``flask deliver-outbox``
tries again later. Nothing here logs the number or the text.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from portal.notify.channels import Channel, Outgoing


class SmsGatewayError(RuntimeError):
    """The gateway did not take the message: unreachable, timed out, or answered with an error."""


@dataclass(frozen=True)
class GatewaySettings:
    url: str
    login: str
    password: str
    sender: str
    timeout: float


@dataclass(frozen=True)
class Provider:
    """How one provider's HTTP API is called and how its answer says «accepted»."""

    default_url: str
    build: Callable[[GatewaySettings, Outgoing], urllib.request.Request]
    accepted: Callable[[dict], str | None]  # the provider's error text, or None when accepted
    needs_login: bool = False


def _digits(phone: str) -> str:
    """``+79161234567`` → ``79161234567``: the Russian providers want the number without «+»."""
    return "".join(c for c in phone if c.isdigit())


def _form(url: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> urllib.request.Request:
    body = urllib.parse.urlencode({k: v for k, v in fields.items() if v}).encode()
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - http(s) checked at start-up
    request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    return request


def _generic(settings: GatewaySettings, message: Outgoing) -> urllib.request.Request:
    body = json.dumps(
        {"id": message.id, "to": message.recipient, "text": message.body, "sender": settings.sender},
        ensure_ascii=False,
    ).encode()
    request = urllib.request.Request(settings.url, data=body, method="POST")  # noqa: S310 - as above
    request.add_header("Content-Type", "application/json; charset=utf-8")
    if settings.password:
        request.add_header("Authorization", f"Bearer {settings.password}")
    return request


def _generic_accepted(answer: dict) -> str | None:
    # A 2xx answer is acceptance; a gateway may still say otherwise in a JSON body.
    if answer.get("ok") is False or answer.get("error"):
        return str(answer.get("error") or "refused")
    return None


def _smsru(settings: GatewaySettings, message: Outgoing) -> urllib.request.Request:
    # https://sms.ru/api/send: api_id, to, msg, json=1, from
    return _form(
        settings.url,
        {
            "api_id": settings.password,
            "to": _digits(message.recipient),
            "msg": message.body,
            "json": "1",
            "from": settings.sender,
        },
    )


def _smsru_accepted(answer: dict) -> str | None:
    if answer.get("status") != "OK":
        return f"{answer.get('status_code', '?')} {answer.get('status_text', '')}".strip()
    for result in (answer.get("sms") or {}).values():
        if result.get("status") != "OK":
            return f"{result.get('status_code', '?')} {result.get('status_text', '')}".strip()
    return None


def _smsc(settings: GatewaySettings, message: Outgoing) -> urllib.request.Request:
    # https://smsc.ru/api/http/send/sms/: login, psw, phones, mes, fmt=3 (JSON), charset, sender
    return _form(
        settings.url,
        {
            "login": settings.login,
            "psw": settings.password,
            "phones": _digits(message.recipient),
            "mes": message.body,
            "fmt": "3",
            "charset": "utf-8",
            "sender": settings.sender,
            "id": str(message.id),
        },
    )


def _smsc_accepted(answer: dict) -> str | None:
    if "error" in answer or "error_code" in answer:
        return f"{answer.get('error_code', '?')} {answer.get('error', '')}".strip()
    return None if answer.get("id") is not None else "no message id in the answer"


def _smsaero(settings: GatewaySettings, message: Outgoing) -> urllib.request.Request:
    # https://smsaero.ru/integration/documentation/api/: Basic auth (e-mail:API key), number, text, sign
    token = base64.b64encode(f"{settings.login}:{settings.password}".encode()).decode()
    return _form(
        settings.url,
        {"number": _digits(message.recipient), "text": message.body, "sign": settings.sender},
        headers={"Authorization": f"Basic {token}"},
    )


def _smsaero_accepted(answer: dict) -> str | None:
    return None if answer.get("success") is True else str(answer.get("message") or "refused")


PROVIDERS: dict[str, Provider] = {
    "generic": Provider("", _generic, _generic_accepted),
    "smsru": Provider("https://sms.ru/sms/send", _smsru, _smsru_accepted),
    "smsc": Provider("https://smsc.ru/sys/send.php", _smsc, _smsc_accepted, needs_login=True),
    "smsaero": Provider("https://gate.smsaero.ru/v2/sms/send", _smsaero, _smsaero_accepted, needs_login=True),
}


def settings_problem(config) -> str | None:
    """Why the SMS settings cannot work (start-up stops with it), or None."""
    name = config.get("SMS_GATEWAY", "")
    if not name:
        return None
    provider = PROVIDERS.get(name)
    if provider is None:
        return f"PORTAL_SMS_GATEWAY must be one of {', '.join(sorted(PROVIDERS))}, not {name!r}"
    url = config.get("SMS_GATEWAY_URL") or provider.default_url
    if not url.startswith(("https://", "http://")):
        return "PORTAL_SMS_GATEWAY_URL must be the gateway's http(s) address"
    if name != "generic" and not config.get("SMS_GATEWAY_PASSWORD"):
        return f"the {name} gateway needs PORTAL_SMS_GATEWAY_PASSWORD (its API key or password)"
    if provider.needs_login and not config.get("SMS_GATEWAY_LOGIN"):
        return f"the {name} gateway needs PORTAL_SMS_GATEWAY_LOGIN"
    return None


class SmsGatewayChannel(Channel):
    """The built-in SMS channel; available when ``SMS_GATEWAY`` names a provider."""

    name = "sms"

    def available(self) -> bool:
        return current_app.config.get("SMS_GATEWAY", "") in PROVIDERS

    def send(self, message: Outgoing) -> None:
        config = current_app.config
        provider = PROVIDERS[config["SMS_GATEWAY"]]
        settings = GatewaySettings(
            url=config["SMS_GATEWAY_URL"] or provider.default_url,
            login=config["SMS_GATEWAY_LOGIN"],
            password=config["SMS_GATEWAY_PASSWORD"],
            sender=config["SMS_SENDER"],
            timeout=float(config["SMS_GATEWAY_TIMEOUT"]),
        )
        request = provider.build(settings, message)
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout) as response:  # noqa: S310 - http(s) checked at start-up
                raw = response.read(64 * 1024)
        except urllib.error.HTTPError as exc:
            raise SmsGatewayError(f"the gateway answered HTTP {exc.code}") from None
        except TimeoutError:
            raise SmsGatewayError(f"the gateway did not answer within {settings.timeout:g} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise SmsGatewayError(f"the gateway did not answer within {settings.timeout:g} s") from None
            raise SmsGatewayError(f"the gateway is unreachable: {type(reason).__name__}") from None
        try:
            answer = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SmsGatewayError("the gateway's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise SmsGatewayError("the gateway's answer is not a JSON object")
        problem = provider.accepted(answer)
        if problem:
            # The provider's own words, cut short: they name the fault, never the number.
            raise SmsGatewayError(f"the gateway refused the message: {_masked(problem)[:200]}")


def _masked(text: str) -> str:
    """A provider may quote the number back in its error: keep no phone number in the outbox."""
    return re.sub(r"\+?\d[\d ()-]{6,}\d", "…", text)
