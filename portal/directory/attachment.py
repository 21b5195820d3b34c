"""Changing the clinic a card is attached to («прикрепление»): the citizen applies for their own
card, or a guardian for a child's (``policy.decide_attachment_change``); the registrar of the new
clinic decides; the applicant, the patient's own account (a child's, when it has one) and both
clinics are told.

The rule of the OMS law (326-ФЗ art. 16 part 2 item 1): a citizen chooses their clinic at most
once a year, except when they move. Counted here from the last approved application: one
approved less than a year ago refuses a new one unless the citizen says they moved. The
database keeps one pending application per card (a partial unique index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.access import policy
from portal.audit import service as audit
from portal.auth.models import Account, StaffMembership
from portal.database import db, write_transaction
from portal.directory.models import AttachmentApplication, Organisation
from portal.directory.service import MEDICAL, attached_organisation
from portal.notify import inbox
from portal.notify import service as notify
from portal.record.models import ClinicAttachment, Patient

# Kinds of organisation a citizen attaches to for primary care.
ATTACHABLE = ("polyclinic", "children_polyclinic", "hospital", "dental")
PAGE_SIZE = 50


class Refused(Exception):
    """The application breaks a rule; ``field`` is the form field the message belongs to."""

    def __init__(self, field: str, message) -> None:
        super().__init__(str(message))
        self.field, self.message = field, message


class NotAllowed(Exception):
    """The account may not decide this application (answered 404)."""


def number_of(application: AttachmentApplication) -> str:
    return f"П-{clock.local_date(application.created_at).year}-{application.id:06d}"


def attachable_organisations() -> list[tuple[int, str, str]]:
    """(id, name, address) of every organisation one may be attached to, by name."""
    rows = db.session.execute(
        select(Organisation.id, Organisation.name, Organisation.address)
        .where(MEDICAL, Organisation.kind.in_(ATTACHABLE))
        .order_by(Organisation.name, Organisation.id)
    )
    return [tuple(row) for row in rows]


def history(patient_id: int) -> list[AttachmentApplication]:
    return list(
        db.session.scalars(
            select(AttachmentApplication)
            .where(AttachmentApplication.patient_id == patient_id)
            .order_by(AttachmentApplication.created_at.desc(), AttachmentApplication.id.desc())
            .limit(20)
        )
    )


def next_change_allowed(patient_id: int, today: date) -> date | None:
    """The first day a change is allowed without a move, or None when it is allowed now."""
    last = db.session.scalar(
        select(AttachmentApplication.decided_at)
        .where(
            AttachmentApplication.patient_id == patient_id,
            AttachmentApplication.status == "approved",
            AttachmentApplication.moved.is_(False),
        )
        .order_by(AttachmentApplication.decided_at.desc())
        .limit(1)
    )
    if last is None:
        return None
    allowed = _a_year_after(clock.local_date(last))
    return allowed if allowed > today else None


def _a_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def apply(
    account: Account, to_organisation_id: int, reason: str, moved: bool, patient_id: int | None = None
) -> AttachmentApplication:
    """The citizen applies to attach a card to another clinic: their own (``patient_id`` None), or
    a child's as its guardian (``policy.decide_attachment_change``; AccessDenied, 404, otherwise)."""
    if patient_id is None and account.patient_id is None:
        raise LookupError("the account has no verified card")
    patient_id = patient_id or account.patient_id
    with write_transaction():
        decision, _patient = policy.require_attachment_change(account, patient_id)
        organisation = db.session.scalar(
            select(Organisation).where(
                Organisation.id == to_organisation_id, MEDICAL, Organisation.kind.in_(ATTACHABLE)
            )
        )
        if organisation is None:
            raise Refused("organisation", _l("Choose a clinic from the list"))
        current = attached_organisation(patient_id)
        if current == organisation.id:
            raise Refused("organisation", _l("You are already attached to this clinic: choose another one"))
        pending = db.session.scalar(
            select(AttachmentApplication.id).where(
                AttachmentApplication.patient_id == patient_id, AttachmentApplication.status == "pending"
            )
        )
        if pending is not None:
            raise Refused(
                "organisation",
                _l("You already have an application waiting for a decision: wait for it before applying again"),
            )
        if not moved:
            allowed = next_change_allowed(patient_id, clock.today())
            if allowed is not None:
                raise Refused(
                    "moved",
                    _l(
                        "You changed your clinic less than a year ago. Without a move you may change it "
                        "again from %(date)s; if you moved, tick “I moved”",
                        date=_format(allowed),
                    ),
                )
        application = AttachmentApplication(
            patient_id=patient_id,
            applicant_id=account.id,
            from_organisation_id=current,
            to_organisation_id=organisation.id,
            reason=reason,
            moved=moved,
            status="pending",
            created_at=clock.now(),
        )
        db.session.add(application)
        try:
            db.session.flush()
        except IntegrityError as exc:  # a second pending application, sent at the same moment
            raise Refused(
                "organisation",
                _l("You already have an application waiting for a decision: wait for it before applying again"),
            ) from exc
        audit.record(
            "attachment.applied",
            actor_id=account.id,
            actor_role=decision.basis,
            patient_id=patient_id,
            organisation_id=organisation.id,
            object_type="attachment_application",
            object_id=application.id,
        )
        return application


def _format(day: date) -> str:
    from portal.formatting import format_date

    return format_date(day, "long")


# -- the registrar's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    application: AttachmentApplication
    patient: Patient


def queue(account: Account) -> list[QueueRow]:
    """Pending applications to this registrar's clinics, oldest first (one statement)."""
    organisations = sorted(policy.registrar_organisations(account))
    rows = db.session.execute(
        select(AttachmentApplication, Patient)
        .join(Patient, Patient.id == AttachmentApplication.patient_id)
        .where(
            AttachmentApplication.to_organisation_id.in_(organisations),
            AttachmentApplication.status == "pending",
        )
        .order_by(AttachmentApplication.created_at, AttachmentApplication.id)
        .limit(PAGE_SIZE)
    )
    return [QueueRow(a, p) for a, p in rows]


def for_registrar(account: Account, application_id: int) -> tuple[AttachmentApplication, Patient, policy.Decision]:
    """The application, its card and the policy's decision; LookupError when the account may not
    even see it (another clinic's, or no such application)."""
    application = db.session.get(AttachmentApplication, application_id)
    if application is None:
        raise LookupError(application_id)
    decision = policy.decide_attachment_application(
        account, application.to_organisation_id, application.patient_id, application.applicant_id
    )
    if not decision.allowed and not decision.conflict:
        raise LookupError(application_id)
    return application, db.session.get(Patient, application.patient_id), decision


def decide(application_id: int, account: Account, approve: bool, reason: str | None = None) -> AttachmentApplication:
    """The registrar of the new clinic approves (the attachment moves today) or refuses (with a
    reason). The citizen and the registrars of both clinics are told. Audited."""
    moment = clock.now()
    today = clock.today()
    with write_transaction():
        application = db.session.get(AttachmentApplication, application_id)
        if application is None:
            raise LookupError(application_id)
        decision = policy.decide_attachment_application(
            account, application.to_organisation_id, application.patient_id, application.applicant_id
        )
        if not decision.allowed:
            audit.record(
                "attachment.decided",
                actor_id=account.id,
                actor_role="registrar",
                patient_id=application.patient_id,
                object_type="attachment_application",
                object_id=application.id,
                outcome="denied",
                reason=decision.reason,
            )
            raise NotAllowed(decision.reason)
        if application.status != "pending":
            raise Refused("reason", _l("This application is already decided"))
        application.status = "approved" if approve else "refused"
        application.decision_reason = None if approve else reason
        application.decided_by_id = account.id
        application.decided_at = moment
        if approve:
            current = db.session.scalars(
                select(ClinicAttachment).where(policy.attached_now(application.patient_id, today))
            )
            for attachment in current:
                attachment.until = max(attachment.since, today - timedelta(days=1))
            db.session.add(
                ClinicAttachment(
                    patient_id=application.patient_id, organisation_id=application.to_organisation_id, since=today
                )
            )
        audit.record(
            "attachment.decided",
            actor_id=account.id,
            actor_role="registrar",
            patient_id=application.patient_id,
            organisation_id=application.to_organisation_id,
            object_type="attachment_application",
            object_id=application.id,
            reason=application.status if approve else f"refused: {reason}",
        )
        _tell(application, moment)
        return application


def _tell(application: AttachmentApplication, moment: datetime) -> None:
    """The citizen through the inbox (and their channels); the registrars of both clinics by
    e-mail, saying only that an application was decided and its number."""
    to = db.session.get(Organisation, application.to_organisation_id)
    number = number_of(application)
    if application.status == "approved":
        note = f"Вы прикреплены к {to.name} с {_format(clock.local_date(moment))}."
        note_en = f"You are attached to {to.name} from {clock.local_date(moment).isoformat()}."
    else:
        note = f"Заявление отклонено: {application.decision_reason}"
        note_en = f"The application is refused: {application.decision_reason}"
    # The applicant, and the patient's own account when it is another (a child's, a guardian applied).
    readers = {application.applicant_id}
    readers.update(db.session.scalars(select(Account.id).where(Account.patient_id == application.patient_id)))
    for account_id in sorted(readers):
        inbox.post(
            account_id,
            "request_status",
            patient_id=application.patient_id,
            params={"number": number, "status": application.status, "note": note, "note_en": note_en},
        )
    organisations = [application.to_organisation_id]
    if application.from_organisation_id:
        organisations.append(application.from_organisation_id)
    registrars = db.session.execute(
        select(Account.id, Account.email)
        .join(StaffMembership, StaffMembership.account_id == Account.id)
        .where(
            StaffMembership.organisation_id.in_(organisations),
            StaffMembership.role == "registrar",
            StaffMembership.ended_at.is_(None),
            Account.is_active.is_(True),
        )
        .distinct()
    )
    verdict = "одобрено" if application.status == "approved" else "отклонено"
    for account_id, email in registrars:
        notify.queue(
            account_id=account_id,
            channel="email",
            kind="attachment_decided",
            recipient=email,
            subject=f"Медкарта: заявление о прикреплении № {number} {verdict}",
            body=f"Заявление о прикреплении № {number} к «{to.name}» {verdict}.\n\n"
            "Подробности — в разделе «Прикрепление» портала.",
        )
