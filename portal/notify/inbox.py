"""The citizen's inbox: one call, ``post``, for every event a citizen is told about.

Callers run inside a write transaction; the notification is written in it (so a rolled-back
action tells nobody). The inbox stores the event and its parameters and renders them in the
reader's language when shown.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from portal.database import db
from portal.notify.models import Notification

# The events a citizen can be told about (and choose channels for).
EVENTS = (
    "result_new",
    "prescription_issued",
    "prescription_expiring",
    "certificate_ready",
    "request_status",
    "vaccination_due",
    "checkup_due",
    "grant_received",
)


def post(
    account_id: int,
    event: str,
    *,
    patient_id: int | None = None,
    params: dict | None = None,
    url: str | None = None,
    subject_key: str | None = None,
    remind_at: datetime | None = None,
) -> Notification:
    """Tell ``account_id`` about ``event``. ``params`` are shown in the message (JSON-safe values);
    ``url`` is where the message leads; a ``remind_at`` makes it a reminder that repeats until
    done or dismissed; ``subject_key`` keeps one open reminder per subject."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    note = Notification(
        account_id=account_id,
        patient_id=patient_id,
        event=event,
        params=json.dumps(params or {}, ensure_ascii=False, default=str),
        url=url,
        subject_key=subject_key,
        created_at=datetime.now(UTC),
        remind_at=remind_at,
    )
    db.session.add(note)
    db.session.flush()
    return note
