"""Opting out of the electronic record («отказ от ЭМК»).

The patient (or the legal representative of a child under 15) applies with a reason; a registrar
approves or refuses with a reason, never for their own card. Approval closes the card: the access
policy then refuses everyone (``Patient.closed_at``), consent to processing is withdrawn and the
grants to trusted persons end. Nothing is deleted: the record stays in the archive and the audit
chain still verifies. Giving consent again reopens the card (``consent.service.give``).
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import events
from portal.access import policy
from portal.access import service as access
from portal.audit import service as audit
from portal.auth.models import Account
from portal.auth.service import now
from portal.consent import service as consent
from portal.consent.models import OptOutRequest
from portal.consent.service import has_consent
from portal.database import db, work_queue, write_transaction
from portal.notify import inbox
from portal.record.models import Patient, RequestEvent

KIND = "opt_out"  # RequestEvent.request_kind


class Refused(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class NotAllowed(Exception):
    """A registrar never decides an application for their own card or their own application."""


def cards_to_close(account: Account) -> list[access.CardLink]:
    """The cards this account may apply to close: their own, and their children's under 15."""
    return [link for link in access.cards_for(account) if link.basis in ("self", "guardian")]


def _may_apply(account: Account, patient_id: int) -> policy.Decision:
    decision = policy.decide(account, "read", db.session.get(Patient, patient_id), "summary")
    if not decision.allowed or decision.basis not in ("self", "guardian"):
        raise Refused("card", _("Choose your own card or the card of your child under 15"))
    return decision


def apply(account: Account, patient_id: int, reason: str) -> OptOutRequest:
    with write_transaction():
        account = db.session.get(Account, account.id)
        decision = _may_apply(account, patient_id)
        waiting = db.session.scalar(
            select(OptOutRequest.id).where(OptOutRequest.patient_id == patient_id, OptOutRequest.status == "registered")
        )
        if waiting is not None:
            raise Refused("card", _("An application for this card is already being considered"))
        row = OptOutRequest(
            patient_id=patient_id,
            requested_by_id=account.id,
            reason=reason.strip(),
            status="registered",
            created_at=now(),
        )
        db.session.add(row)
        db.session.flush()
        row.number = f"О-{now().year}-{row.id:06d}"
        db.session.add(
            RequestEvent(request_kind=KIND, request_id=row.id, status="registered", actor_id=account.id, at=now())
        )
        audit.record(
            "opt_out.requested",
            actor_id=account.id,
            actor_role=decision.basis,
            patient_id=patient_id,
            object_type="opt_out_request",
            object_id=row.id,
        )
        _tell(row)
        return row


def _tell(row: OptOutRequest) -> None:
    # The inbox's words for the statuses: approved reads as done (the card is closed).
    status = {"registered": "registered", "approved": "done", "refused": "refused"}[row.status]
    params = {"number": row.number, "status": status}
    if row.refusal_reason:
        params["note"] = row.refusal_reason
    inbox.post(
        row.requested_by_id,
        "request_status",
        patient_id=row.patient_id,
        params=params,
        url=url_for("consent.opt_out_status", request_id=row.id),
    )


def applications_of(account: Account) -> list[tuple[OptOutRequest, Patient]]:
    return [
        (row, patient)
        for row, patient in db.session.execute(
            select(OptOutRequest, Patient)
            .join(Patient, Patient.id == OptOutRequest.patient_id)
            .where(OptOutRequest.requested_by_id == account.id)
            .order_by(OptOutRequest.id.desc())
            .limit(20)
        )
    ]


def application(account: Account, request_id: int) -> tuple[OptOutRequest, Patient, list[RequestEvent]] | None:
    """The applicant's own application with its timeline; None for anyone else's (answered 404).
    It stays visible after the card is closed: it is the applicant's, not the card's."""
    row = db.session.get(OptOutRequest, request_id)
    if row is None or row.requested_by_id != account.id:
        return None
    events = list(
        db.session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_kind == KIND, RequestEvent.request_id == row.id)
            .order_by(RequestEvent.id)
        )
    )
    return row, db.session.get(Patient, row.patient_id), events


# -- the registrar's side ------------------------------------------------------------------------


def queue() -> tuple[list[tuple[OptOutRequest, Patient, Account]], int]:
    """Applications waiting, oldest first, and how many wait in all. «Отказ от ЭМК» is decided for
    the region's record as a whole, not by the clinic the patient is attached to: any registrar
    but a party to it decides."""
    query = (
        select(OptOutRequest, Patient, Account)
        .join(Patient, Patient.id == OptOutRequest.patient_id)
        .join(Account, Account.id == OptOutRequest.requested_by_id)
        .where(OptOutRequest.status == "registered")
        .order_by(OptOutRequest.id)
    )
    return work_queue(query, scalars=False)


def for_registrar(request_id: int) -> tuple[OptOutRequest, Patient, Account] | None:
    row = db.session.get(OptOutRequest, request_id)
    if row is None:
        return None
    return row, db.session.get(Patient, row.patient_id), db.session.get(Account, row.requested_by_id)


def is_own(row: OptOutRequest, registrar: Account) -> bool:
    """Separation of duties, as the access policy defines it: their own card or request, or a child's."""
    from portal.access import policy

    return policy.is_party(registrar, row.patient_id, row.requested_by_id)


def decide(request_id: int, registrar: Account, approve: bool, reason: str | None = None) -> OptOutRequest:
    from portal.sharing import service as sharing
    from portal.sharing.models import AccessGrant

    with write_transaction():
        registrar = db.session.get(Account, registrar.id)
        row = db.session.get(OptOutRequest, request_id)
        if row is None or row.status != "registered":
            raise LookupError(request_id)
        if is_own(row, registrar):
            raise NotAllowed
        row.decided_at, row.decided_by_id = now(), registrar.id
        row.status = "approved" if approve else "refused"
        row.refusal_reason = None if approve else reason
        if approve:
            patient = db.session.get(Patient, row.patient_id)
            patient.closed_at = now()
            if has_consent(patient.id):
                consent.record(
                    patient.id,
                    row.requested_by_id,
                    "revoked",
                    actor_id=registrar.id,
                    actor_role="registrar",
                    reason=f"opt-out {row.number} approved",
                )
            for grant in db.session.scalars(
                select(AccessGrant).where(AccessGrant.patient_id == patient.id, AccessGrant.revoked_at.is_(None))
            ):
                sharing.end_grant(grant, registrar, "registrar", f"opt-out {row.number} approved")
            events.publish(events.CardClosed(patient_id=patient.id, opt_out_request_id=row.id))
        db.session.add(
            RequestEvent(
                request_kind=KIND, request_id=row.id, status=row.status, note=reason, actor_id=registrar.id, at=now()
            )
        )
        audit.record(
            f"opt_out.{row.status}",
            actor_id=registrar.id,
            actor_role="registrar",
            patient_id=row.patient_id,
            object_type="opt_out_request",
            object_id=row.id,
            reason=reason,
        )
        _tell(row)
        return row


def own_card_closed(account: Account) -> bool:
    patient = db.session.get(Patient, account.patient_id) if account.patient_id else None
    return patient is not None and patient.closed_at is not None


def cards_to_reopen(account: Account) -> list[Patient]:
    """Children's cards closed by an opt-out that this guardian may open again (their own card
    opens from the consent page)."""
    if account.verification_status != "verified":
        return []
    return access.children_of(account, closed=True)


def rejoin(account: Account, patient_id: int, ip: str | None) -> Patient:
    """A guardian gives consent again for a child whose card an opt-out closed: the card opens
    with everything in it. LookupError for anyone the policy refuses (the page answers 404)."""
    with write_transaction():
        account = db.session.get(Account, account.id)
        patient = db.session.get(Patient, patient_id)
        decision = policy.decide_rejoin(account, patient)
        if not decision.allowed or decision.basis != "guardian":
            raise LookupError(patient_id)
        consent.record(
            patient.id,
            account.id,
            "given",
            actor_id=account.id,
            actor_role="guardian",
            ip=ip,
            reason="given again by the legal representative after an opt-out",
        )
        _reopen(patient, account, "guardian")
        return patient


def _reopen(patient: Patient, account: Account, role: str) -> None:
    patient.closed_at = None
    audit.record(
        "opt_out.rejoined",
        actor_id=account.id,
        actor_role=role,
        patient_id=patient.id,
        object_type="patient",
        object_id=patient.id,
        reason="consent given again",
    )


def reopen_if_closed(account: Account) -> None:
    """Consent given again after an approved opt-out: the card opens again. Call inside the
    consent's write transaction."""
    patient = db.session.get(Patient, account.patient_id) if account.patient_id else None
    if patient is None or patient.closed_at is None:
        return
    _reopen(patient, account, "self")
