"""Identity verification: the citizen submits passport and OMS details with scans; a registrar
approves (linking the account to the Patient with the same SNILS) or rejects with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import events, uploads
from portal.audit import service as audit
from portal.auth.models import Account, IdentityDocument, VerificationRequest
from portal.auth.service import now, tell
from portal.consent import service as consent
from portal.database import db, write_transaction
from portal.record.models import InsurancePolicy, Patient

DOCUMENT_KINDS = ("passport", "snils", "oms")


@dataclass(frozen=True)
class Submission:
    passport_series: str
    passport_number: str
    issued_on: date
    issued_by: str
    division_code: str
    oms_number: str
    files: dict[str, uploads.CheckedFile]


def submit(account_id: int, data: Submission) -> None:
    """Register the request with its scans. Nothing half-written is kept: each scan is written
    after its row is flushed and removed if the transaction rolls back."""
    with write_transaction():
        account = db.session.get(Account, account_id)
        request = VerificationRequest(
            account_id=account.id,
            passport_series=data.passport_series,
            passport_number=data.passport_number,
            passport_issued_on=data.issued_on,
            passport_issued_by=data.issued_by.strip(),
            passport_division_code=data.division_code,
            oms_number=data.oms_number,
        )
        db.session.add(request)
        db.session.flush()
        for kind, checked in data.files.items():
            key = uploads.new_key()
            db.session.add(
                IdentityDocument(
                    account_id=account.id,
                    request_id=request.id,
                    kind=kind,
                    filename=checked.filename,
                    content_type=checked.content_type,
                    size=len(checked.data),
                    storage_key=key,
                )
            )
            db.session.flush()
            uploads.write(key, checked.data, f"identity:{account.id}")
        account.verification_status, account.verification_reason = "in_review", None
        audit.record("verification.submitted", actor_id=account.id, actor_role="self")


def latest_request(account_id: int) -> VerificationRequest | None:
    return db.session.scalar(
        select(VerificationRequest)
        .where(VerificationRequest.account_id == account_id)
        .order_by(VerificationRequest.id.desc())
        .limit(1)
    )


def queue(after_id: int | None = None, size: int = 20) -> list[tuple[VerificationRequest, Account]]:
    query = (
        select(VerificationRequest, Account)
        .join(Account, Account.id == VerificationRequest.account_id)
        .where(VerificationRequest.decided_at.is_(None))
        .order_by(VerificationRequest.id)
        .limit(size)
    )
    if after_id:
        query = query.where(VerificationRequest.id > after_id)
    return [(r, a) for r, a in db.session.execute(query)]


def documents(request_id: int) -> list[IdentityDocument]:
    return list(
        db.session.scalars(
            select(IdentityDocument).where(IdentityDocument.request_id == request_id).order_by(IdentityDocument.id)
        )
    )


class NotAllowed(Exception):
    """Separation of duties: a registrar never decides their own verification."""


class Refused(Exception):
    """The decision cannot be taken as sent; ``field`` names the form field the message is for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


# What the registrar is warned of: the request's details already belonging to someone else.
CLASHES = {
    "snils": _l("The card with this SNILS is already linked to another account."),
    "oms": _l("This OMS policy number is already on another person's card or confirmed for another account."),
    "passport": _l("This passport is already confirmed for another account."),
}


def clashes(request: VerificationRequest) -> list[str]:
    """Which of the request's SNILS, OMS policy number and passport already belong to another card
    or account (keys of ``CLASHES``): a reused number is a warning sign of a mistake or a fraud.
    Three queries."""
    account = db.session.get(Account, request.account_id)
    own_card = db.session.scalar(select(Patient.id).where(Patient.snils == account.snils))
    others = (VerificationRequest.account_id != account.id) & (VerificationRequest.decision == "approved")
    found = []
    if own_card is not None and db.session.scalar(
        select(Account.id).where(Account.patient_id == own_card, Account.id != account.id).limit(1)
    ):
        found.append("snils")
    on_other_card = select(InsurancePolicy.id).where(InsurancePolicy.number == request.oms_number)
    if own_card is not None:
        on_other_card = on_other_card.where(InsurancePolicy.patient_id != own_card)
    confirmed_for_other = select(VerificationRequest.id).where(
        others, VerificationRequest.oms_number == request.oms_number
    )
    if db.session.scalar(on_other_card.limit(1)) or db.session.scalar(confirmed_for_other.limit(1)):
        found.append("oms")
    if db.session.scalar(
        select(VerificationRequest.id)
        .where(
            others,
            VerificationRequest.passport_series == request.passport_series,
            VerificationRequest.passport_number == request.passport_number,
        )
        .limit(1)
    ):
        found.append("passport")
    return found


def decide(request_id: int, registrar: Account, approve: bool, reason: str | None = None) -> VerificationRequest:
    """Approve (linking the card with the account's SNILS) or reject with ``reason``. Approving a
    request whose details already belong to someone else (``clashes``) needs ``reason``, kept in
    the audit event; a card already linked to another account is never linked twice (Refused)."""
    with write_transaction():
        request = db.session.get(VerificationRequest, request_id, with_for_update=True)
        if request is None or request.decided_at is not None:
            raise LookupError(request_id)
        if request.account_id == registrar.id:
            raise NotAllowed
        account = db.session.get(Account, request.account_id)
        if approve:
            found = clashes(request)
            reason = (reason or "").strip() or None
            if "snils" in found:
                raise Refused("reason", _("The card with this SNILS is linked to another account: refuse the request"))
            if found and reason is None:
                raise Refused("reason", _("Write why you confirm the identity despite the warning"))
            # The audit keeps what was overridden and why; with nothing to override, nothing is kept.
            reason = f"{', '.join(found)} already belong to another card or account: {reason}" if found else None
        request.decided_at, request.decided_by_id = now(), registrar.id
        request.decision, request.reason = ("approved", None) if approve else ("rejected", reason)
        if approve:
            patient = db.session.scalar(select(Patient).where(Patient.snils == account.snils))
            if patient is None:
                patient = Patient(
                    surname=account.surname,
                    name=account.name,
                    patronymic=account.patronymic,
                    birth_date=account.birth_date,
                    sex=account.sex,
                    snils=account.snils,
                )
                db.session.add(patient)
                db.session.flush()
            account.patient_id = patient.id
            consent.carry_over(account, patient.id)
            account.verification_status, account.verification_reason = "verified", None
            events.publish(events.AccountVerified(account_id=account.id, patient_id=patient.id))
        else:
            account.verification_status, account.verification_reason = "rejected", reason
        audit.record(
            f"verification.{request.decision}",
            actor_id=registrar.id,
            actor_role="registrar",
            patient_id=account.patient_id,
            object_type="account",
            object_id=account.id,
            reason=reason,
        )
        if approve:
            tell(
                account,
                "verification",
                _l("Your identity is confirmed"),
                _l(
                    "A registrar has confirmed your identity. Sign in to Medkarta and give your consent "
                    "to open your medical card."
                ),
            )
        else:
            tell(
                account,
                "verification",
                _l("Your identity was not confirmed"),
                _l(
                    "A registrar could not confirm your identity. The reason is shown in Medkarta; "
                    "correct the details and send them again."
                ),
            )
        return request
