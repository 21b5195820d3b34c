"""The one audit writer.

``record()`` inserts an event in the caller's write transaction, so the event lands if and only if
the action does. It touches no other row and takes no lock of its own: readers of cards never queue
behind each other. The sealer (``portal.audit.sealer``) later puts the event into the Merkle tree
and signs a tree head; ``portal.audit.verify`` checks both.

Every feature writes through this module, so it is a leaf: it imports no feature package (the
access-log page, which reads other features' tables, is ``portal.audit.access_log``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import has_request_context, request
from sqlalchemy import insert

from portal.audit.merkle import leaf_hash
from portal.audit.models import AuditEvent
from portal.database import db, in_write_transaction, write_transaction

# The fields an event's leaf hash covers, its id included: an event moved to another id, or
# another event's content under this id, no longer matches its leaf.
FIELDS = (
    "id",
    "created_at",
    "actor_id",
    "actor_role",
    "on_behalf_of_id",
    "organisation_id",
    "patient_id",
    "action",
    "section",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "reason",
)


def canonical(event) -> bytes:
    """The bytes a leaf hashes: the event's fields as compact JSON with sorted keys, UTF-8, the
    time in UTC to the microsecond. ``event`` is an AuditEvent or a row with the same names."""
    values = {}
    for name in FIELDS:
        value = getattr(event, name)
        if isinstance(value, datetime):
            if value.tzinfo is None:  # SQLite hands moments back without their zone; they are UTC
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        values[name] = value
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_leaf_hash(event) -> bytes:
    return leaf_hash(canonical(event))


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def event(
    action: str,
    *,
    actor_id: int | None = None,
    actor_role: str = "anonymous",
    patient_id: int | None = None,
    section: str | None = None,
    object_type: str | None = None,
    object_id: object = None,
    outcome: str = "success",
    reason: str | None = None,
    on_behalf_of_id: int | None = None,
    organisation_id: int | None = None,
) -> dict:
    """An event's column values, stamped now and with the client's address: what ``record`` and
    ``record_many`` insert."""
    return {
        "created_at": datetime.now(UTC),
        "actor_id": actor_id,
        "actor_role": actor_role,
        "on_behalf_of_id": on_behalf_of_id,
        "organisation_id": organisation_id,
        "patient_id": patient_id,
        "action": action,
        "section": section,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "outcome": outcome,
        "ip": client_ip(),
        "reason": reason,
    }


# One INSERT statement, built once: no object for the unit of work to track and flush.
_INSERT = insert(AuditEvent.__table__)


PENDING = "portal.audit.pending"  # the events of an ``audited_read`` block, in session.info


def _transaction():
    session = db.session()
    if not session.in_transaction():
        raise RuntimeError("audit.record() must run inside write_transaction()")
    return session


def record(action: str, **fields) -> AuditEvent:
    """Insert an event inside the current write transaction; nothing else is read or written.
    ``fields`` are ``event``'s. Returns the event as written (with its id; not attached to the
    session)."""
    if _pending() is not None:
        raise RuntimeError("audit.record() inside audited_read(): use record_many, or write_transaction()")
    values = event(action, **fields)
    inserted = _transaction().execute(_INSERT, values)
    return AuditEvent(id=inserted.inserted_primary_key[0], **values)


def record_many(events: list[dict]) -> None:
    """Insert several events (``event``'s values) in one statement, in the current write
    transaction: one page that reads several sections writes one event per section. Inside
    ``audited_read`` (and no write transaction) they are kept for the block's end."""
    if not events:
        return
    pending = _pending()
    if pending is not None and not in_write_transaction():
        pending.extend(events)
        return
    _transaction().execute(_INSERT, events)


def _pending() -> list[dict] | None:
    return db.session().info.get(PENDING)


@contextmanager
def audited_read() -> Iterator[None]:
    """A page's reads of a card and their audit events, for a page that changes nothing else.

    The block reads in an ordinary transaction (a snapshot, no write lock); the events it records
    (``record_many``, which ``policy.record_access`` and ``open_section`` use) are inserted
    together, in one statement and one short write transaction, when the block ends, before the
    caller shows anything. If the block raises (a refusal, a 404) no event of it is written, as
    when a write transaction rolls back; if the insert fails, the page fails and shows nothing.
    ``write_transaction`` would hold SQLite's single write lock for every query of the page: card
    readers in two workers then waited on each other (the busy handler sleeps at least 1 ms)."""
    session = db.session()
    if _pending() is not None:  # nested: the outer block writes them
        yield
        return
    events: list[dict] = []
    session.info[PENDING] = events
    try:
        yield
    finally:
        session.info.pop(PENDING, None)
    if events:
        with write_transaction(session, reread=False):
            session.execute(_INSERT, events)
