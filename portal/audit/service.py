"""The one audit writer and the chain verifier.

``record()`` adds an event to the caller's write transaction, so the event lands if and only if
the action does. Verification recomputes every hash from the first event.

Every feature writes through this module, so it is a leaf: it imports no feature package (the
access-log page, which reads other features' tables, is ``portal.audit.access_log``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent, AuditHead
from portal.database import db

GENESIS = "0" * 64
FIELDS = (
    "seq",
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


def canonical(event: AuditEvent) -> bytes:
    values = {}
    for name in FIELDS:
        value = getattr(event, name)
        if isinstance(value, datetime):
            if value.tzinfo is None:  # SQLite hands moments back without their zone; they are UTC
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        values[name] = value
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\x00" + canonical(event)).hexdigest()


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def _locked_head(session) -> AuditHead:
    """The chain's head row, locked until commit; created on first use (the migration creates it
    too, but a restored or emptied database may lack it)."""
    query = select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
    head = session.execute(query).scalar_one_or_none()
    if head is None:
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            pass  # another writer created it first; we wait for its lock below
        head = session.execute(query).scalar_one()
    return head


def record(
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
) -> AuditEvent:
    """Append an event to the chain inside the current write transaction."""
    session = db.session()
    if not session.in_transaction():
        raise RuntimeError("audit.record() must run inside write_transaction()")
    head = _locked_head(session)
    event = AuditEvent(
        seq=head.seq + 1,
        created_at=datetime.now(UTC),
        actor_id=actor_id,
        actor_role=actor_role,
        on_behalf_of_id=on_behalf_of_id,
        organisation_id=organisation_id,
        patient_id=patient_id,
        action=action,
        section=section,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        outcome=outcome,
        ip=client_ip(),
        reason=reason,
        prev_hash=head.hash,
    )
    event.hash = chain_hash(head.hash, event)
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    broken_at: int | None = None  # the seq where the chain first breaks
    problem: str = ""


def verify(batch: int = 5000) -> Verdict:
    """Recompute the chain from the first event; name the first broken link."""
    expected_prev, expected_seq, checked, last_id = GENESIS, 1, 0, 0
    while True:
        rows = list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch))
        )
        if not rows:
            break
        for event in rows:
            if event.seq != expected_seq:
                return Verdict(False, checked, expected_seq, f"expected event {expected_seq}, found {event.seq}")
            if event.prev_hash != expected_prev:
                return Verdict(False, checked, event.seq, "does not follow the previous event")
            if chain_hash(event.prev_hash, event) != event.hash:
                return Verdict(False, checked, event.seq, "its contents were changed")
            expected_prev, expected_seq, checked, last_id = event.hash, expected_seq + 1, checked + 1, event.id
        db.session.expunge_all()
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != checked or head.hash != expected_prev):
        return Verdict(
            False,
            checked,
            checked + 1 if head.seq > checked else head.seq,
            f"the log ends at event {checked} but {head.seq} were written",
        )
    return Verdict(True, checked)
