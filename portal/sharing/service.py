"""Guardianship: a parent asks to open a child's card with a document; a registrar checks it and
approves (the card opens to the parent until the child turns 15) or refuses with a reason.

Trusted persons: the owner shares named sections with a verified person until a date, confirmed
with a one-time code; changes and ends the access at any time (see the section below)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import uploads
from portal.access import service as access
from portal.access.policy import birthday, guardian_age_limit, today
from portal.audit import service as audit
from portal.auth.models import Account
from portal.auth.service import check_code, now, security_alert, send_code, tell
from portal.database import db, write_transaction
from portal.identifiers import normalise_email, snils_digits
from portal.notify import inbox
from portal.notify import service as notify
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
    key = uploads.new_key()
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
        # Written once the row is flushed, removed again if the transaction rolls back.
        uploads.write(key, document.data, f"guardianship:{guardian.id}")
        audit.record(
            "guardianship.requested",
            actor_id=guardian.id,
            actor_role="self",
            object_type="guardianship_request",
            object_id=row.id,
        )
        return row


@dataclass(frozen=True)
class ChildCard:
    """A child on «Мои дети»: the card is linked only when the guardian may open it, as the card
    switcher lists it; otherwise the page says what changed and since when."""

    patient: Patient
    opens: bool
    own_since: date | None = None  # the child reached the age limit that day: the card is theirs
    closed: bool = False  # an approved opt-out closed the card


def children_of(guardian: Account) -> tuple[list[ChildCard], list[GuardianshipRequest]]:
    """The guardian's children (every guardianship not ended) and their latest requests."""
    opened = {child.id for child in access.children_of(guardian)}
    limit = guardian_age_limit()
    children = []
    for patient in db.session.scalars(
        select(Patient)
        .join(Guardianship, Guardianship.child_id == Patient.id)
        .where(Guardianship.guardian_id == guardian.id, Guardianship.ended_at.is_(None))
        .order_by(Patient.birth_date)
    ):
        grown = birthday(patient.birth_date, limit)
        children.append(
            ChildCard(
                patient,
                opens=patient.id in opened,
                own_since=grown if grown <= today() else None,
                closed=patient.closed_at is not None,
            )
        )
    pending = list(
        db.session.scalars(
            select(GuardianshipRequest)
            .where(GuardianshipRequest.guardian_id == guardian.id)
            .order_by(GuardianshipRequest.id.desc())
            .limit(10)
        )
    )
    return children, pending


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


# -- trusted persons: the owner adds, changes and ends grants ------------------------------------
#
# Adding or changing a grant is confirmed with a one-time code sent to the owner (fresh
# authentication, SECURITY.md check 20). Until then the pending grant lives in the owner's signed
# session cookie, never in the database: an unconfirmed grant leaves no trace but the code.
#
# Finding the person must not tell a curious owner who uses Medkarta (SECURITY.md check 6): the
# owner types the person's SNILS or e-mail AND their surname, and the person must have a confirmed
# identity. Any mismatch gives one neutral message; only a full match shows the masked name
# («Павлова О. С.») on the confirmation page.

MAX_ACTIVE_GRANTS = 5
MAX_GRANT_DAYS = 365  # a grant ends at most a year from the day it is given or changed
CODE_PURPOSE = "grant"  # OneTimeCode.purpose of the code that confirms a grant or a change


def shareable_sections() -> tuple[str, ...]:
    """The sections an owner may share: everything but the summary (always shown with any
    section) and who opened the card (owner only)."""
    from portal.access.policy import card_sections

    return tuple(s for s in card_sections() if s not in ("summary", "access_log"))


def latest_end_date() -> date:
    return today() + timedelta(days=MAX_GRANT_DAYS)


def masked_name(account: Account) -> str:
    """«Павлова О. С.»: enough for the owner to recognise the person, no more."""
    initials = " ".join(f"{part[0]}." for part in (account.name, account.patronymic) if part)
    return f"{account.surname} {initials}".strip()


def _same_surname(typed: str, actual: str) -> bool:
    def fold(text: str) -> str:
        return " ".join(text.replace("ё", "е").replace("Ё", "Е").split()).casefold()

    return fold(typed) == fold(actual)


@dataclass(frozen=True)
class Terms:
    """What a grant shares: sections, a level and the last day."""

    sections: frozenset[str]
    level: str
    expires_on: date

    def describe(self) -> str:
        """The terms as the audit log keeps them, e.g. ``view until 2027-05-01: results,vaccinations``."""
        return f"{self.level} until {self.expires_on.isoformat()}: {','.join(sorted(self.sections))}"

    @classmethod
    def read(cls, text: str | None) -> Terms | None:
        """The terms back from an audit event's reason (None for any other text)."""
        try:
            head, sections = (text or "").split(": ", 1)
            level, until = head.split(" until ", 1)
            return cls(frozenset(s for s in sections.split(",") if s), level, date.fromisoformat(until))
        except ValueError:
            return None


def check_terms(terms: Terms) -> None:
    if terms.level not in ("view", "add"):
        raise Refused("level", _("Choose view or add"))
    if not terms.sections or not terms.sections <= set(shareable_sections()):
        raise Refused("sections", _("Choose at least one section"))
    if terms.expires_on <= today():
        raise Refused("expires_on", _("The end date must be in the future"))
    if terms.expires_on > latest_end_date():
        raise Refused("expires_on", _("Choose a date at most one year from today"))


def _check_owner(owner: Account) -> None:
    if owner.patient_id is None or owner.verification_status != "verified":
        raise Refused("person", _("Confirm your own identity first"))


def _active_grants(patient_id: int):
    return (
        select(AccessGrant)
        .where(
            AccessGrant.patient_id == patient_id,
            AccessGrant.revoked_at.is_(None),
            AccessGrant.expires_on >= today(),
        )
        .order_by(AccessGrant.expires_on)
    )


def grants_of(owner: Account) -> list[tuple[AccessGrant, Account]]:
    if owner.patient_id is None:
        return []
    query = _active_grants(owner.patient_id).add_columns(Account).join(Account, Account.id == AccessGrant.grantee_id)
    return [(grant, grantee) for grant, grantee in db.session.execute(query)]


def own_grant(owner: Account, grant_id: int) -> tuple[AccessGrant, Account] | None:
    """One of the owner's active grants with its grantee, or None (the caller answers 404)."""
    if owner.patient_id is None:
        return None
    found = db.session.execute(
        _active_grants(owner.patient_id)
        .where(AccessGrant.id == grant_id)
        .add_columns(Account)
        .join(Account, Account.id == AccessGrant.grantee_id)
    ).first()
    return (found[0], found[1]) if found else None


NOT_FOUND = _l(
    "We did not find a person with a confirmed Medkarta account for this SNILS or e-mail and surname. "
    "Check them, or ask the person to confirm their identity in Medkarta first."
)


def find_grantee(owner: Account, who: str, surname: str) -> Account:
    """The verified person the owner means, or Refused with one neutral message for every miss
    (no such account, not verified, disabled or another surname)."""
    _check_owner(owner)
    who = who.strip()
    condition = Account.email == normalise_email(who) if "@" in who else Account.snils == snils_digits(who)
    found = db.session.scalar(select(Account).where(condition))
    if (
        found is None
        or not found.is_active
        or found.verification_status != "verified"
        or not _same_surname(surname, found.surname)
    ):
        raise Refused("person", str(NOT_FOUND))
    if found.id == owner.id:
        raise Refused("person", _("This is your own account: choose someone else"))
    return found


def check_room(owner: Account, grantee: Account) -> None:
    """Before a code is sent for a new grant: the person has no grant yet and one of five is free."""
    active = list(db.session.scalars(_active_grants(owner.patient_id)))
    if any(grant.grantee_id == grantee.id for grant in active):
        raise Refused("person", _("You already share your card with this person: change that access instead"))
    if len(active) >= MAX_ACTIVE_GRANTS:
        raise Refused("person", _("You can share your card with at most 5 people at once"))


@dataclass(frozen=True)
class Pending:
    """A grant or a change waiting for its code; kept in the owner's signed session cookie."""

    owner_id: int
    grantee_id: int
    grantee_name: str  # masked
    terms: Terms
    grant_id: int | None  # None: a new grant
    nonce: str  # the code is bound to it: a code confirms this pending grant and no other
    channel: str

    def to_dict(self) -> dict:
        return {
            "o": self.owner_id,
            "g": self.grantee_id,
            "n": self.grantee_name,
            "s": sorted(self.terms.sections),
            "l": self.terms.level,
            "e": self.terms.expires_on.isoformat(),
            "x": self.grant_id,
            "b": self.nonce,
            "c": self.channel,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Pending | None:
        try:
            terms = Terms(frozenset(data["s"]), data["l"], date.fromisoformat(data["e"]))
            return cls(data["o"], data["g"], data["n"], terms, data["x"], data["b"], data["c"])
        except (KeyError, TypeError, ValueError):
            return None


def code_channel(owner: Account) -> str:
    """E-mail for an owner who signs in with e-mail codes; otherwise the confirmed phone."""
    return "email" if owner.second_factor == "email" else notify.code_channel("sms")


def ask_for_code(owner: Account, grantee: Account, terms: Terms, grant_id: int | None = None) -> Pending:
    """Send the owner a one-time code for this grant or change; return what to keep until then."""
    check_terms(terms)
    pending = Pending(
        owner.id, grantee.id, masked_name(grantee), terms, grant_id, secrets.token_hex(16), code_channel(owner)
    )
    resend_code(owner, pending)
    return pending


def resend_code(owner: Account, pending: Pending) -> None:
    with write_transaction():
        send_code(db.session.get(Account, owner.id), CODE_PURPOSE, pending.nonce, pending.channel)


def confirm(owner: Account, pending: Pending, code: str) -> AccessGrant | None:
    """With the right code, make the grant or the change; None for a wrong or spent code.
    A refusal (Refused) keeps the code unused."""
    if pending.owner_id != owner.id:
        return None
    check_terms(pending.terms)
    with write_transaction():
        owner = db.session.get(Account, owner.id)
        if not check_code(owner, CODE_PURPOSE, pending.nonce, code):
            audit.record(
                "grant.confirmation", actor_id=owner.id, actor_role="self", outcome="failure", reason="wrong code"
            )
            return None
        if pending.grant_id is None:
            return _create(owner, pending.grantee_id, pending.terms)
        return _change(owner, pending.grant_id, pending.terms)


def grant(owner: Account, grantee_id: int, sections: set[str], level: str, expires_on: date) -> AccessGrant:
    """Share named sections of the owner's card with a trusted person until a date (the pages
    confirm it with a code first: see ``confirm``). At most five grants are active at once; the
    grantee must be a verified account other than the owner; both are told; audited."""
    terms = Terms(frozenset(sections), level, expires_on)
    _check_owner(owner)
    check_terms(terms)
    with write_transaction():
        return _create(db.session.get(Account, owner.id), grantee_id, terms)


def _create(owner: Account, grantee_id: int, terms: Terms) -> AccessGrant:
    _check_owner(owner)
    grantee = db.session.get(Account, grantee_id)
    if grantee is None or grantee.id == owner.id or grantee.verification_status != "verified":
        raise Refused("person", _("This person cannot be given access: they need a confirmed account"))
    # The card's row is locked first (FOR UPDATE on PostgreSQL; SQLite writes one at a time), so
    # two confirmations at the same moment cannot both see four grants and make a sixth.
    db.session.execute(select(Patient.id).where(Patient.id == owner.patient_id).with_for_update())
    active = db.session.scalar(select(func.count()).select_from(_active_grants(owner.patient_id).subquery()))
    if active >= MAX_ACTIVE_GRANTS:
        raise Refused("person", _("You can share your card with at most 5 people at once"))
    row = AccessGrant(
        patient_id=owner.patient_id,
        grantee_id=grantee.id,
        granted_by_id=owner.id,
        sections=",".join(sorted(terms.sections)),
        level=terms.level,
        expires_on=terms.expires_on,
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
        reason=terms.describe(),
    )
    security_alert(owner, _l("You gave %(name)s access to your card.", name=grantee.full_name))
    inbox.post(
        grantee.id,
        "grant_received",
        patient_id=owner.patient_id,
        params={"patient": masked_name(owner), "until": terms.expires_on.isoformat()},
        url=url_for("record.card_overview", patient_id=owner.patient_id),
    )  # the inbox also e-mails the grantee, in their language
    return row


def _change(owner: Account, grant_id: int, terms: Terms) -> AccessGrant:
    row = db.session.get(AccessGrant, grant_id)
    if (
        row is None
        or owner.patient_id is None
        or row.patient_id != owner.patient_id
        or row.revoked_at is not None
        or row.expires_on < today()
    ):
        raise Refused("code", _("This access has ended or was changed: start again"))
    row.sections, row.level, row.expires_on = ",".join(sorted(terms.sections)), terms.level, terms.expires_on
    grantee = db.session.get(Account, row.grantee_id)
    audit.record(
        "grant.changed",
        actor_id=owner.id,
        actor_role="self",
        patient_id=owner.patient_id,
        object_type="access_grant",
        object_id=row.id,
        reason=terms.describe(),
    )
    security_alert(owner, _l("You changed the access of %(name)s to your card.", name=grantee.full_name))
    tell(
        grantee,
        "grant",
        _l("Your access to a card has changed"),
        _l("%(name)s has changed what you can see in their medical card.", name=owner.full_name),
    )
    return row


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
        end_grant(grant, owner, "self")
        return True


def end_grant(grant: AccessGrant, actor: Account, role: str, why: str | None = None) -> None:
    """End one grant inside the caller's write transaction: audited, owner and grantee told."""
    grant.revoked_at = now()
    grantee = db.session.get(Account, grant.grantee_id)
    owner = db.session.get(Account, grant.granted_by_id)
    audit.record(
        "grant.revoked",
        actor_id=actor.id,
        actor_role=role,
        patient_id=grant.patient_id,
        object_type="access_grant",
        object_id=grant.id,
        reason=why,
    )
    security_alert(owner, _l("The access of %(name)s to your card has ended.", name=grantee.full_name))
    tell(
        grantee,
        "grant",
        _l("Access to a card has ended"),
        _l("%(name)s has ended your access to their medical card.", name=owner.full_name),
    )
