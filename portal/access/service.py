"""Break-glass access and the list of cards an account can open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.access.models import CareRelationship, EmergencyAccess
from portal.access.policy import birthday, care_current, guardian_age_limit, is_child, today
from portal.audit import service as audit
from portal.auth import service as auth
from portal.auth.models import Account
from portal.auth.service import now, security_alert
from portal.database import db, write_transaction
from portal.identifiers import snils_digits
from portal.record.models import Patient
from portal.sharing.models import AccessGrant, Guardianship


class EmergencyRefused(Exception):
    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def start_emergency(account: Account, snils: str, reason: str, password: str) -> int:
    """Open a card for a limited time with a reason; fresh authentication first. Returns the
    patient id. The patient is told."""
    # Counted with the account's other password checks and audited: no unlimited guessing here.
    if not auth.check_password(account.id, password, "access.emergency"):
        raise EmergencyRefused("password", *auth.password_error(account.id))
    organisations = [
        m.organisation_id for m in account.memberships if m.ended_at is None and m.role in ("doctor", "nurse")
    ]
    if not organisations:
        raise EmergencyRefused("snils", _("Only doctors and nurses can open a card in an emergency"))
    with write_transaction():
        patient = db.session.scalar(select(Patient).where(Patient.snils == snils_digits(snils)))
        if patient is None:
            raise EmergencyRefused("snils", _("No card with this SNILS"))
        started = now()
        minutes = current_app.config["EMERGENCY_ACCESS_MINUTES"]
        db.session.add(
            EmergencyAccess(
                practitioner_id=account.id,
                patient_id=patient.id,
                organisation_id=organisations[0],
                reason=reason.strip(),
                started_at=started,
                expires_at=started + timedelta(minutes=minutes),
            )
        )
        audit.record(
            "access.emergency",
            actor_id=account.id,
            actor_role="emergency",
            patient_id=patient.id,
            organisation_id=organisations[0],
            reason=reason.strip(),
        )
        owner = db.session.scalar(select(Account).where(Account.patient_id == patient.id))
        if owner is not None:
            security_alert(
                owner,
                _l("A clinician opened your card in an emergency. See who and why on the page “Who opened my card”."),
            )
        return patient.id


@dataclass(frozen=True)
class CardLink:
    patient: Patient
    basis: str  # self, guardian, trusted, clinician


def children_of(account: Account, *, closed: bool = False) -> list[Patient]:
    """The children under the age limit this account is the verified guardian of, youngest last:
    those with open cards, or (``closed=True``) those whose card an opt-out closed. One query."""
    return [child for _guardian, child in _children([account.id], closed)]


def _children(guardian_ids: list[int], closed: bool) -> list[tuple[int, Patient]]:
    """(guardian id, child) for the verified guardianships of these accounts over children still
    under the age limit, with open (or closed) cards. One query."""
    limit = guardian_age_limit()
    rows = db.session.execute(
        select(Guardianship.guardian_id, Patient)
        .join(Patient, Patient.id == Guardianship.child_id)
        .where(
            Guardianship.guardian_id.in_(guardian_ids),
            Guardianship.verified_at.is_not(None),
            Guardianship.ended_at.is_(None),
            Patient.closed_at.is_not(None) if closed else Patient.closed_at.is_(None),
        )
        .order_by(Guardianship.guardian_id, Patient.birth_date, Patient.id)
    ).all()
    return [(guardian, child) for guardian, child in rows if today() < birthday(child.birth_date, limit)]


def card_holders(patient_id: int) -> list[int]:
    """The accounts that hold this card as its owner or as a guardian (verified, active, the
    child under the age limit): whom the record's news is for. Two queries."""
    patient = db.session.get(Patient, patient_id)
    child = patient is not None and is_child(patient, today())
    # A child's own account holds the card from the birthday it opens to them, not before.
    holders = (
        set()
        if child
        else set(
            db.session.scalars(
                select(Account.id).where(
                    Account.patient_id == patient_id,
                    Account.is_active.is_(True),
                    Account.verification_status == "verified",
                )
            )
        )
    )
    if child:
        holders |= set(
            db.session.scalars(
                select(Guardianship.guardian_id)
                .join(Account, Account.id == Guardianship.guardian_id)
                .where(
                    Guardianship.child_id == patient_id,
                    Guardianship.verified_at.is_not(None),
                    Guardianship.ended_at.is_(None),
                    Account.is_active.is_(True),
                    Account.verification_status == "verified",
                )
            )
        )
    return sorted(holders)


def owner_and_guardian_cards(account_ids: list[int]) -> list[tuple[int, Patient]]:
    """(account id, card) for every open card these accounts hold as its owner or as a guardian,
    as ``cards_for`` lists them with the bases self and guardian: three queries for the lot, for
    jobs that act for many accounts at once."""
    verified = list(
        db.session.scalars(
            select(Account.id).where(
                Account.id.in_(account_ids), Account.is_active.is_(True), Account.verification_status == "verified"
            )
        )
    )
    own = db.session.execute(
        select(Account.id, Patient)
        .join(Patient, Patient.id == Account.patient_id)
        .where(Account.id.in_(verified), Patient.closed_at.is_(None))
        .order_by(Account.id)
    ).all()
    own = [(account_id, patient) for account_id, patient in own if not is_child(patient, today())]
    return own + _children(verified, closed=False)


def own_card_opens_on(account: Account) -> date | None:
    """For a child below the age of medical consent with an account of their own: the birthday
    their card opens to them (and their guardian's access ends). None for anyone else."""
    if not account.patient_id or account.verification_status != "verified":
        return None
    own = db.session.get(Patient, account.patient_id)
    if own is None or not is_child(own, today()):
        return None
    return birthday(own.birth_date, guardian_age_limit())


def cards_for(account: Account) -> list[CardLink]:
    """The cards this account may open, in the order a switcher shows them: own, children, shared,
    patients. Four queries whatever the number of cards."""
    links: list[CardLink] = []
    if account.patient_id and account.verification_status == "verified":
        own = db.session.get(Patient, account.patient_id)
        # An opted-out card is closed to portal viewing; a child's opens on the birthday.
        if own.closed_at is None and not is_child(own, today()):
            links.append(CardLink(own, "self"))
    if account.verification_status != "verified":
        return links
    links += [CardLink(child, "guardian") for child in children_of(account)]
    for patient in db.session.scalars(
        select(Patient)
        .join(AccessGrant, AccessGrant.patient_id == Patient.id)
        .where(
            AccessGrant.grantee_id == account.id,
            AccessGrant.revoked_at.is_(None),
            AccessGrant.expires_on >= today(),
            Patient.closed_at.is_(None),
        )
        .order_by(Patient.surname, Patient.name)
    ):
        links.append(CardLink(patient, "trusted"))
    clinical = [m.organisation_id for m in account.memberships if m.ended_at is None and m.role in ("doctor", "nurse")]
    if clinical:
        for patient in db.session.scalars(
            select(Patient)
            .where(
                Patient.id.in_(
                    select(CareRelationship.patient_id).where(
                        CareRelationship.practitioner_id == account.id,
                        care_current(),
                        CareRelationship.organisation_id.in_(clinical),
                    )
                ),
                Patient.closed_at.is_(None),
            )
            .order_by(Patient.surname, Patient.name)
        ):
            links.append(CardLink(patient, "clinician"))
    return links
