"""Consent to processing: the current text, giving, revoking, the history. Without consent only the
patient sees their card; revoking blocks every other party on their next request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from portal.audit import service as audit
from portal.consent.models import ConsentEvent
from portal.database import db, write_transaction

CURRENT_VERSION = "v1"
TEXTS = Path(__file__).resolve().parent / "texts"


def text(locale: str, version: str = CURRENT_VERSION) -> str:
    path = TEXTS / f"{version}.{locale}.txt"
    if not path.exists():
        path = TEXTS / f"{version}.ru.txt"
    return path.read_text(encoding="utf-8")


def latest(patient_id: int) -> ConsentEvent | None:
    return db.session.scalar(
        select(ConsentEvent).where(ConsentEvent.patient_id == patient_id).order_by(ConsentEvent.id.desc()).limit(1)
    )


def has_consent(patient_id: int) -> bool:
    event = latest(patient_id)
    return event is not None and event.action == "given"


def history(patient_id: int) -> list[ConsentEvent]:
    return list(
        db.session.scalars(
            select(ConsentEvent).where(ConsentEvent.patient_id == patient_id).order_by(ConsentEvent.id.desc())
        )
    )


def _change(account_id: int, patient_id: int, action: str, ip: str | None) -> bool:
    with write_transaction():
        current = latest(patient_id)
        if (current is not None and current.action == action) or (current is None and action == "revoked"):
            return False  # nothing changes: a repeated click records nothing
        db.session.add(
            ConsentEvent(
                patient_id=patient_id,
                account_id=account_id,
                action=action,
                text_version=CURRENT_VERSION,
                ip=ip,
                created_at=datetime.now(UTC),
            )
        )
        audit.record(
            f"consent.{action}",
            actor_id=account_id,
            actor_role="self",
            patient_id=patient_id,
            object_type="consent",
            object_id=CURRENT_VERSION,
        )
        return True


def give(account_id: int, patient_id: int, ip: str | None) -> bool:
    return _change(account_id, patient_id, "given", ip)


def revoke(account_id: int, patient_id: int, ip: str | None) -> bool:
    return _change(account_id, patient_id, "revoked", ip)
