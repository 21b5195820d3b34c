"""Channels deliver outbox messages. E-mail over SMTP and SMS through an HTTP gateway (`sms.py`) are
built in; a plugin can add another channel, or replace the SMS one, through the
``notification_channels`` hook."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app


@dataclass(frozen=True)
class Outgoing:
    """What a channel gets: never a database row, so a plugin cannot change the outbox."""

    id: int
    kind: str
    recipient: str
    subject: str
    body: str


class Channel:
    """A way to reach a person. ``send`` raises on failure; the outbox keeps the message."""

    name = ""

    def available(self) -> bool:
        return True

    def send(self, message: Outgoing) -> None:
        raise NotImplementedError


class EmailChannel(Channel):
    name = "email"

    def available(self) -> bool:
        return bool(current_app.config["SMTP_HOST"])

    def send(self, message: Outgoing) -> None:
        config = current_app.config
        email = EmailMessage()
        email["From"] = config["MAIL_FROM"]
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain="medkarta")
        email.set_content(message.body)
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USERNAME"]:
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(email)
