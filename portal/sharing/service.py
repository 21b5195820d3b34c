"""Guardianship: a parent asks to open a child's card with a document; a registrar checks it and
approves (the card opens to the parent until the child turns 15) or refuses with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import uploads
from portal.access.policy import birthday, guardian_age_limit, today
from portal.audit import service as audit
from portal.auth.models import Account
from portal.auth.service import now, tell
from portal.database import db, write_transaction
from portal.identifiers import snils_digits
from portal.record.models import Patient
from portal.sharing.models import AccessGrant, Guardianship, GuardianshipRequest


class Refused(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class ChildDetails:
    surname: str
    name: str
    patronymic: str | None
    birth_date: date
    sex: str
    snils: str
    basis: str


def request(guardian: Account, child: ChildDetails, document: uploads.CheckedFile) -> GuardianshipRequest:
    if guardian.verification_status != "verified":
        raise Refused("snils", _("Confirm your own identity first"))
    if today() >= birthday(child.birth_date, guardian_age_limit()):
        raise Refused("birth_date", _("A child of %(age)s or older manages their own card", age=guardian_age_limit()))
    key = uploads.store(document.data, f"guardianship:{guardian.id}")
    try:
        with write_transaction():
            row = GuardianshipRequest(
                guardian_id=guardian.id,
                child_surname=child.surname.strip(),
                child_name=child.name.strip(),
                child_patronymic=(child.patronymic or "").strip() or None,
                child_birth_date=child.birth_date,
                child_sex=child.sex,
                child_snils=snils_digits(child.snils),
                basis=child.basis.strip(),
                document_key=key,
                document_filename=document.filename,
                document_type=document.content_type,
            )
            db.session.add(row)
            db.session.flush()
            audit.record(
                "guardianship.requested",
                actor_id=guardian.id,
                actor_role="self",
                object_type="guardianship_request",
                object_id=row.id,
            )
            return row
    except BaseException:
        uploads.remove(key)
        raise


def children_of(guardian_id: int) -> tuple[list[tuple[Guardianship, Patient]], list[GuardianshipRequest]]:
    links = [
        (g, p)
        for g, p in db.session.execute(
            select(Guardianship, Patient)
            .join(Patient, Patient.id == Guardianship.child_id)
            .where(Guardianship.guardian_id == guardian_id, Guardianship.ended_at.is_(None))
            .order_by(Patient.birth_date)
        )
    ]
    pending = list(
        db.session.scalars(
            select(GuardianshipRequest)
            .where(GuardianshipRequest.guardian_id == guardian_id)
            .order_by(GuardianshipRequest.id.desc())
            .limit(10)
        )
    )
    return links, pending


def queue() -> list[tuple[GuardianshipRequest, Account]]:
    return [
        (r, a)
        for r, a in db.session.execute(
            select(GuardianshipRequest, Account)
            .join(Account, Account.id == GuardianshipRequest.guardian_id)
            .where(GuardianshipRequest.decided_at.is_(None))
            .order_by(GuardianshipRequest.id)
            .limit(50)
        )
    ]


class NotAllowed(Exception):
    """A registrar never decides their own request."""


def decide(request_id: int, registrar: Account, approve: bool, reason: str | None = None) -> GuardianshipRequest:
    with write_transaction():
        row = db.session.get(GuardianshipRequest, request_id)
        if row is None or row.decided_at is not None:
            raise LookupError(request_id)
        if row.guardian_id == registrar.id:
            raise NotAllowed
        guardian = db.session.get(Account, row.guardian_id)
        row.decided_at, row.decided_by_id = now(), registrar.id
        row.decision, row.reason = ("approved" if approve else "rejected"), reason
        patient_id = None
        if approve:
            child = db.session.scalar(select(Patient).where(Patient.snils == row.child_snils))
            if child is not None and child.birth_date != row.child_birth_date:
                raise Refused("reason", _("The card with this SNILS has another date of birth: refuse with a reason"))
            if child is None:
                child = Patient(
                    surname=row.child_surname,
                    name=row.child_name,
                    patronymic=row.child_patronymic,
                    birth_date=row.child_birth_date,
                    sex=row.child_sex,
                    snils=row.child_snils,
                )
                db.session.add(child)
                db.session.flush()
            db.session.add(
                Guardianship(
                    guardian_id=guardian.id,
                    child_id=child.id,
                    basis=row.basis,
                    verified_at=now(),
                    verified_by_id=registrar.id,
                    started_on=today(),
                )
            )
            patient_id = child.id
        audit.record(
            f"guardianship.{row.decision}",
            actor_id=registrar.id,
            actor_role="registrar",
            patient_id=patient_id,
            object_type="guardianship_request",
            object_id=row.id,
            reason=reason,
        )
        if approve:
            tell(
                guardian,
                "security_alert",
                _l("Medkarta security notice"),
                _l(
                    "A registrar has confirmed you as a child's legal representative. The child's card is now "
                    "among your cards."
                ),
            )
        else:
            tell(
                guardian,
                "guardianship",
                _l("Your request was not confirmed"),
                _l(
                    "A registrar could not confirm you as the child's legal representative. The reason is shown "
                    "in Medkarta."
                ),
            )
        return row


# -- trusted persons: the owner sees and revokes grants (adding them arrives with the record) ------


def grants_of(owner: Account) -> list[tuple[AccessGrant, Account]]:
    if owner.patient_id is None:
        return []
    return [
        (grant, grantee)
        for grant, grantee in db.session.execute(
            select(AccessGrant, Account)
            .join(Account, Account.id == AccessGrant.grantee_id)
            .where(
                AccessGrant.patient_id == owner.patient_id,
                AccessGrant.revoked_at.is_(None),
                AccessGrant.expires_on >= today(),
            )
            .order_by(AccessGrant.expires_on)
        )
    ]


def revoke_grant(owner: Account, grant_id: int) -> bool:
    """End a grant now: the trusted person sees nothing from their next request. Both are told."""
    with write_transaction():
        grant = db.session.get(AccessGrant, grant_id)
        if (
            grant is None
            or owner.patient_id is None
            or grant.patient_id != owner.patient_id
            or grant.revoked_at is not None
        ):
            return False
        grant.revoked_at = now()
        grantee = db.session.get(Account, grant.grantee_id)
        audit.record(
            "grant.revoked",
            actor_id=owner.id,
            actor_role="self",
            patient_id=grant.patient_id,
            object_type="access_grant",
            object_id=grant.id,
        )
        tell(
            owner,
            "security_alert",
            _l("Medkarta security notice"),
            _l("You ended the access of %(name)s to your card.", name=grantee.full_name),
        )
        tell(
            grantee,
            "grant",
            _l("Access to a card has ended"),
            _l("%(name)s has ended your access to their medical card.", name=owner.full_name),
        )
        return True


MAX_ACTIVE_GRANTS = 5


def grant(owner: Account, grantee_id: int, sections: set[str], level: str, expires_on: date) -> AccessGrant:
    """Share named sections of the owner's card with a trusted person until a date.

    At most five grants are active at once; the grantee must be a verified account other than the
    owner; both are told and the grant is audited. (The page that calls this, with a one-time
    code, comes with the record's sharing screens.)"""
    from portal.access.policy import SECTIONS

    if owner.patient_id is None or owner.verification_status != "verified":
        raise Refused("grantee", _("Confirm your own identity first"))
    if level not in ("view", "add"):
        raise Refused("level", _("Choose view or add"))
    shareable = set(SECTIONS) - {"summary", "access_log"}
    if not sections or not sections <= shareable:
        raise Refused("sections", _("Choose at least one section"))
    if expires_on <= today():
        raise Refused("expires_on", _("The end date must be in the future"))
    with write_transaction():
        grantee = db.session.get(Account, grantee_id)
        if grantee is None or grantee.id == owner.id or grantee.verification_status != "verified":
            raise Refused("grantee", _("This person cannot be given access: they need a confirmed account"))
        active = db.session.scalar(
            select(func.count())
            .select_from(AccessGrant)
            .where(
                AccessGrant.patient_id == owner.patient_id,
                AccessGrant.revoked_at.is_(None),
                AccessGrant.expires_on >= today(),
            )
        )
        if active >= MAX_ACTIVE_GRANTS:
            raise Refused("grantee", _("You can share your card with at most 5 people at once"))
        row = AccessGrant(
            patient_id=owner.patient_id,
            grantee_id=grantee.id,
            granted_by_id=owner.id,
            sections=",".join(sorted(sections)),
            level=level,
            expires_on=expires_on,
        )
        db.session.add(row)
        db.session.flush()
        audit.record(
            "grant.created",
            actor_id=owner.id,
            actor_role="self",
            patient_id=owner.patient_id,
            object_type="access_grant",
            object_id=row.id,
            reason=f"{level} until {expires_on.isoformat()}",
        )
        tell(
            owner,
            "security_alert",
            _l("Medkarta security notice"),
            _l("You gave %(name)s access to your card.", name=grantee.full_name),
        )
        tell(
            grantee,
            "grant",
            _l("You have access to a card"),
            _l(
                "%(name)s has shared parts of their medical card with you. It is among your cards in Medkarta.",
                name=owner.full_name,
            ),
        )
        return row
