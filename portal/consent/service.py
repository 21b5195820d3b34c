"""Consent to processing: the current text, giving, revoking, the history. Without consent only the
patient sees their card; revoking blocks every other party on their next request.

A citizen may consent before a registrar has linked their account to a card; that consent carries
over to the card when it is linked (recorded as an event of the card).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Select, and_, bindparam, or_, select

from portal import database, events
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


def _latest(condition) -> ConsentEvent | None:
    return db.session.scalar(select(ConsentEvent).where(condition).order_by(ConsentEvent.id.desc()).limit(1))


def has_consent(patient_id: int) -> bool:
    """Whether the card's owner (or a child's guardian) has consented: what other parties need."""
    return db.session.scalar(_latest_action(True), {"patient": patient_id}) == "given"


def _subject(account) -> object:
    if account.patient_id is not None:
        return ConsentEvent.patient_id == account.patient_id
    return and_(ConsentEvent.account_id == account.id, ConsentEvent.patient_id.is_(None))


@cache
def _latest_action(by_patient: bool) -> Select:
    """The action of the latest consent event of a card (``patient``) or of an account without a
    card (``account``), built once per process (immutable) and run with the value."""
    condition = (
        ConsentEvent.patient_id == bindparam("patient")
        if by_patient
        else and_(ConsentEvent.account_id == bindparam("account"), ConsentEvent.patient_id.is_(None))
    )
    return select(ConsentEvent.action).where(condition).order_by(ConsentEvent.id.desc()).limit(1)


def account_has_consent(account) -> bool:
    """Whether this account's own consent (its card's, or its own before a card is linked) is given:
    what a signed-in page checks on every request."""
    if account.patient_id is not None:
        action = database.scalar(_latest_action(True), {"patient": account.patient_id})
    else:
        action = database.scalar(_latest_action(False), {"account": account.id})
    return action == "given"


def history(account) -> list[ConsentEvent]:
    condition = _subject(account)
    if account.patient_id is not None:  # include what was given before the card was linked
        condition = or_(condition, and_(ConsentEvent.account_id == account.id, ConsentEvent.patient_id.is_(None)))
    return list(db.session.scalars(select(ConsentEvent).where(condition).order_by(ConsentEvent.id.desc())))


def record(
    patient_id: int | None,
    account_id: int,
    action: str,
    *,
    actor_id: int,
    actor_role: str,
    ip: str | None = None,
    version: str = CURRENT_VERSION,
    reason: str | None = None,
) -> None:
    """One consent event (given or revoked) and its audit record, in the caller's write transaction.
    ``account_id`` is whose consent it is (the patient, or the guardian for a child); the actor is
    who made the change (the same person, or a registrar approving an opt-out)."""
    db.session.add(
        ConsentEvent(
            patient_id=patient_id,
            account_id=account_id,
            action=action,
            text_version=version,
            ip=ip,
            created_at=datetime.now(UTC),
        )
    )
    audit.record(
        f"consent.{action}",
        actor_id=actor_id,
        actor_role=actor_role,
        patient_id=patient_id,
        object_type="consent",
        object_id=version,
        reason=reason,
    )
    if action == "revoked":
        events.publish(events.ConsentRevoked(patient_id=patient_id, account_id=account_id))


def _change(account, action: str, ip: str | None) -> bool:
    from portal.access import policy
    from portal.record.models import Patient

    with write_transaction():
        # A child below the age of medical consent neither gives nor withdraws it: the guardian does.
        own = db.session.get(Patient, account.patient_id) if account.patient_id is not None else None
        if own is not None and not policy.decide_consent(account, own).allowed:
            return False
        current = _latest(_subject(account))
        if (current is not None and current.action == action) or (current is None and action == "revoked"):
            return False  # nothing changes: a repeated click records nothing
        record(account.patient_id, account.id, action, actor_id=account.id, actor_role="self", ip=ip)
        if action == "given":
            from portal.consent.opt_out import reopen_if_closed

            reopen_if_closed(account)  # joining again after an approved opt-out
        return True


def give(account, ip: str | None) -> bool:
    return _change(account, "given", ip)


def revoke(account, ip: str | None) -> bool:
    return _change(account, "revoked", ip)


def carry_over(account, patient_id: int) -> None:
    """When a registrar links the account to a card: consent given before applies to the card.
    Call inside the linking transaction."""
    before = _latest(and_(ConsentEvent.account_id == account.id, ConsentEvent.patient_id.is_(None)))
    if before is None or before.action != "given" or _latest(ConsentEvent.patient_id == patient_id) is not None:
        return
    record(
        patient_id,
        account.id,
        "given",
        actor_id=account.id,
        actor_role="self",
        ip=before.ip,
        version=before.text_version,
        reason="given before the card was linked",
    )


# -- a guardian's consent for a child's card ---------------------------------------------------------


def child_card(account, patient_id: int):
    """The child's card whose consent this guardian manages, or AccessDenied (answered 404 and
    audited) for anyone the policy refuses."""
    from portal.access import policy
    from portal.record.models import Patient

    patient = db.session.get(Patient, patient_id)
    decision = policy.decide_consent(account, patient)
    if not decision.allowed or decision.basis != "guardian":
        raise policy.AccessDenied(decision, account.id, patient_id, "read", "summary")
    return patient


def card_history(patient_id: int) -> list[ConsentEvent]:
    """The consent events of a card, newest first."""
    return list(
        db.session.scalars(
            select(ConsentEvent).where(ConsentEvent.patient_id == patient_id).order_by(ConsentEvent.id.desc())
        )
    )


def change_for_child(account, patient_id: int, action: str, ip: str | None) -> bool:
    """A guardian gives or withdraws the consent for a child's card, with the same effect as the
    patient's own: without it only the card's holders see it. Audited with the role "guardian";
    a repeated click records nothing. AccessDenied for anyone the policy refuses."""
    with write_transaction():
        child_card(account, patient_id)
        current = _latest(ConsentEvent.patient_id == patient_id)
        if (current is not None and current.action == action) or (current is None and action == "revoked"):
            return False
        record(patient_id, account.id, action, actor_id=account.id, actor_role="guardian", ip=ip)
        return True
