"""The outbox: queue a message inside the action's transaction, deliver it after commit.

Messages carry no medical data: they say that something happened and where to look.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from portal.database import after_commit, db, write_transaction
from portal.notify.channels import Channel, EmailChannel, Outgoing
from portal.notify.models import OutboxMessage

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def channels() -> dict[str, Channel]:
    found: dict[str, Channel] = {"email": EmailChannel()}
    host = current_app.extensions["portal.plugins"]
    for channel in host.collect("notification_channels"):
        found[channel.name] = channel
    return found


def available_channels() -> set[str]:
    return {name for name, channel in channels().items() if channel.available()}


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
    after_commit(deliver_pending)
    return message


def deliver_pending(limit: int = 50) -> int:
    """Send what is waiting on channels that can send now; return how many went out."""
    available = {name: c for name, c in channels().items() if c.available()}
    if not available:
        return 0
    pending = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.attempts < MAX_ATTEMPTS,
                OutboxMessage.channel.in_(available),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    outgoing = [(m.id, m.channel, Outgoing(m.id, m.kind, m.recipient, m.subject, m.body)) for m in pending]
    sent = 0
    for message_id, channel_name, message in outgoing:
        error = None
        try:
            available[channel_name].send(message)
        except Exception as exc:  # a channel failure must not fail the user's action
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("outbox message %s via %s failed: %s", message_id, channel_name, error)
        with write_transaction():
            row = db.session.get(OutboxMessage, message_id)
            row.attempts += 1
            row.error = error
            if error is None:
                row.sent_at = datetime.now(UTC)
                sent += 1
    return sent
