"""The outbox: queue a message inside the action's transaction, deliver it after commit.

Messages carry no medical data: they say that something happened and where to look.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal.database import after_commit, db, write_transaction
from portal.notify.channels import Channel, EmailChannel, Outgoing
from portal.notify.models import OutboxMessage
from portal.notify.sms import SmsGatewayChannel

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# One-time codes are valid this long (auth.service.CODE_MINUTES); an older one is not worth sending.
CODE_LIFETIME = timedelta(minutes=10)


def channels() -> dict[str, Channel]:
    found: dict[str, Channel] = {"email": EmailChannel(), "sms": SmsGatewayChannel()}
    host = current_app.extensions["portal.plugins"]
    for channel in host.collect("notification_channels"):
        found[channel.name] = channel
    return found


def available_channels() -> set[str]:
    return {name for name, channel in channels().items() if channel.available()}


def sms_reachable() -> bool:
    """Whether a code sent by SMS can arrive: an SMS channel works here, or the demo shows every
    message on its outbox page."""
    return "sms" in available_channels() or bool(current_app.config.get("DEMO_MODE"))


def code_channel(wanted: str) -> str:
    """The channel a one-time code really goes by: SMS only when it can arrive, else e-mail, so
    nobody is asked for a code that can never come."""
    return "email" if wanted == "sms" and not sms_reachable() else wanted


def queue(*, account_id: int | None, channel: str, kind: str, recipient: str, subject: str, body: str) -> OutboxMessage:
    """Add a message to the outbox in the current write transaction; it goes out after commit."""
    message = OutboxMessage(
        account_id=account_id,
        channel=channel,
        kind=kind,
        recipient=recipient,
        subject=subject,
        body=body,
        created_at=datetime.now(UTC),
        attempts=0,
    )
    db.session.add(message)
    db.session.info.setdefault(QUEUED, []).append(message)
    after_commit(_deliver_queued)
    return message


QUEUED = "portal.outbox_queued"


def _deliver_queued() -> None:
    """After commit, send what this transaction queued, and only that: a gateway that is down then
    costs one attempt to the action that queued the message, never a retry of everyone else's.
    Retries are the ``deliver-outbox`` command's job."""
    ids = [m.id for m in db.session.info.pop(QUEUED, []) if m.id is not None]
    if ids:
        deliver_pending(only=ids)


def retry_due(message: OutboxMessage, at: datetime) -> bool:
    """A failed message is tried again after 1, 2, 4, 8 … minutes (counted from its creation), so
    a provider that is down is not hammered; a one-time code is not sent once it has expired."""
    created = message.created_at if message.created_at.tzinfo else message.created_at.replace(tzinfo=UTC)
    if message.kind.startswith("code_") and at - created > CODE_LIFETIME:
        return False
    return at >= created + timedelta(minutes=2**message.attempts - 1)


def deliver_pending(limit: int = 50, only: list[int] | None = None, due_only: bool = True) -> int:
    """Send what is waiting on channels that can send now (``only``: just these messages, now;
    otherwise every message whose retry is due, or every waiting one without ``due_only``);
    return how many went out."""
    available = {name: c for name, c in channels().items() if c.available()}
    if not available:
        return 0
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.attempts < MAX_ATTEMPTS,
            OutboxMessage.channel.in_(available),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if only is not None:
        pending = list(db.session.scalars(query.where(OutboxMessage.id.in_(only))))
    else:
        at = datetime.now(UTC)
        pending = [m for m in db.session.scalars(query.limit(None)) if not due_only or retry_due(m, at)][:limit]
    outgoing = [(m.id, m.channel, Outgoing(m.id, m.kind, m.recipient, m.subject, m.body)) for m in pending]
    sent = 0
    for message_id, channel_name, message in outgoing:
        error = None
        try:
            available[channel_name].send(message)
        except Exception as exc:  # a channel failure must not fail the user's action
            error = f"{type(exc).__name__}: {exc}"[:500]
            # The log names the failure's kind only: a mail server's error text can quote the address.
            log.warning("outbox message %s via %s failed: %s", message_id, channel_name, type(exc).__name__)
        with write_transaction():
            row = db.session.get(OutboxMessage, message_id)
            row.attempts += 1
            row.error = error
            if error is None:
                row.sent_at = datetime.now(UTC)
                sent += 1
    return sent
