"""The organisation admin's staff work: who works here, invitations by e-mail, roles and
suspension. ``policy.decide_staff_admin`` decides who may; ``portal.clinic.service`` holds the
rules of roles (separation of duties). Every change is audited, and the person is told by e-mail.

An invitation is a single-use link with a random token, of which only a hash is kept; it works
for ``INVITATION_HOURS``. The invitee sets a password (a new account, with the e-mail the link
proved), or signs in to the account that already has that e-mail, and accepts: the account, its
roles and the spent invitation are written together or not at all. A staff account then sets up
an authenticator app before any staff page opens (``auth.service.needs_enrolment``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from portal.access import policy
from portal.audit import service as audit
from portal.auth import passwords
from portal.auth import service as auth
from portal.auth.models import STAFF_ROLES, Account, StaffMembership
from portal.clinic import service as roles
from portal.database import db, write_transaction
from portal.directory.models import Department, Organisation, Practitioner
from portal.directory.specialties import by_code
from portal.identifiers import normalise_email, snils_digits
from portal.notify import service as notify
from portal.orgadmin.models import StaffInvitation

ROLE_LABELS = {
    "registrar": _l("registrar"),
    "doctor": _l("doctor"),
    "nurse": _l("nurse"),
    "org_admin": _l("organisation admin"),
    "auditor": _l("auditor"),
    "accountant": _l("accountant"),
}


def role_names(keys: list[str]) -> str:
    """Roles in words, in STAFF_ROLES order, in the current language."""
    return ", ".join(str(ROLE_LABELS[r]) for r in STAFF_ROLES if r in keys)


# -- who works here --------------------------------------------------------------------------------


def organisations_of(account: Account) -> list[Organisation]:
    """The organisations this account is an admin of, by name."""
    ids = sorted(policy.admin_organisations(account))
    if not ids:
        return []
    return list(db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)))


def organisation_for(account: Account, organisation_id: int) -> Organisation:
    """The organisation, if this account manages its staff; LookupError (404) otherwise."""
    if not policy.decide_staff_admin(account, organisation_id).allowed:
        raise LookupError(organisation_id)
    return db.session.get(Organisation, organisation_id)


@dataclass
class Member:
    account: Account
    roles: list[str]  # current ones, or the suspended ones
    suspended: bool


def members(organisation_id: int, account_id: int | None = None) -> list[Member]:
    """The people holding a role here now or suspended, by name: one statement."""
    query = (
        select(StaffMembership, Account)
        .join(Account, Account.id == StaffMembership.account_id)
        .where(
            StaffMembership.organisation_id == organisation_id,
            or_(StaffMembership.ended_at.is_(None), StaffMembership.suspended_at.is_not(None)),
        )
        .order_by(Account.surname, Account.name, Account.id)
    )
    if account_id is not None:
        query = query.where(StaffMembership.account_id == account_id)
    found: dict[int, Member] = {}
    for membership, account in db.session.execute(query):
        member = found.setdefault(account.id, Member(account, [], False))
        member.roles.append(membership.role)
        member.suspended = member.suspended or membership.suspended_at is not None
    for member in found.values():
        member.roles.sort(key=STAFF_ROLES.index)
    return list(found.values())


def member_of(admin: Account, organisation_id: int, account_id: int) -> Member:
    """One person of the admin's organisation; LookupError (404) for anyone else."""
    organisation_for(admin, organisation_id)
    found = members(organisation_id, account_id)
    if not found:
        raise LookupError(account_id)
    return found[0]


def pending_invitations(organisation_id: int) -> list[StaffInvitation]:
    return list(
        db.session.scalars(
            select(StaffInvitation)
            .where(StaffInvitation.organisation_id == organisation_id, StaffInvitation.status == "pending")
            .order_by(StaffInvitation.created_at.desc(), StaffInvitation.id.desc())
        )
    )


def invitation_of(admin: Account, organisation_id: int, invitation_id: int, lock: bool = False) -> StaffInvitation:
    """An invitation of the admin's organisation; LookupError (404) for another's."""
    organisation_for(admin, organisation_id)
    query = select(StaffInvitation).where(
        StaffInvitation.id == invitation_id, StaffInvitation.organisation_id == organisation_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = db.session.scalar(query)
    if found is None:
        raise LookupError(invitation_id)
    return found


def is_expired(invitation: StaffInvitation) -> bool:
    return invitation.status == "pending" and auth.aware(invitation.expires_at) <= auth.now()


# -- inviting --------------------------------------------------------------------------------------


class Refused(Exception):
    """Nothing changed; ``reason`` is a key of the page's messages, ``field`` the form field."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.field = reason, field


@dataclass(frozen=True)
class NewInvitation:
    surname: str
    name: str
    patronymic: str | None
    email: str
    roles: list[str]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_roles(admin: Account, organisation_id: int, email: str, wanted: list[str]) -> None:
    """The roles may be given to whoever holds ``email`` (an account or nobody yet)."""
    if "auditor" in wanted and len(wanted) > 1:
        raise Refused("auditor", "roles")
    holder = db.session.scalar(select(Account.id).where(Account.email == email))
    try:
        for role in wanted:
            roles.check_role(admin, holder, organisation_id, role)
    except roles.RoleRefused as refused:
        raise Refused(refused.reason, "email" if refused.reason == "self" else "roles") from refused


def _issue(admin: Account, organisation_id: int, data: NewInvitation) -> StaffInvitation:
    """A new pending invitation with a fresh token, and its e-mail; in the caller's transaction."""
    token = secrets.token_urlsafe(32)
    moment = auth.now()
    invitation = StaffInvitation(
        organisation_id=organisation_id,
        email=data.email,
        surname=data.surname.strip(),
        name=data.name.strip(),
        patronymic=(data.patronymic or "").strip() or None,
        roles=",".join(r for r in STAFF_ROLES if r in data.roles),
        token_hash=_token_hash(token),
        invited_by_id=admin.id,
        created_at=moment,
        expires_at=moment + timedelta(hours=current_app.config["INVITATION_HOURS"]),
        status="pending",
    )
    db.session.add(invitation)
    db.session.flush()
    _send_invitation(invitation, token, admin)
    return invitation


def _send_invitation(invitation: StaffInvitation, token: str, admin: Account) -> None:
    link = current_app.config["BASE_URL"].rstrip("/") + url_for("invitation.open_link", token=token)
    holder = db.session.scalar(select(Account).where(Account.email == invitation.email))
    organisation = db.session.get(Organisation, invitation.organisation_id)
    hours = current_app.config["INVITATION_HOURS"]
    with force_locale(auth.locale_of(holder) if holder else current_app.config["LANGUAGES"][0]):
        body = "\n\n".join(
            [
                _("Hello, %(name)s.", name=invitation.name),
                _(
                    "%(admin)s invites you to work in Medkarta for %(organisation)s as: %(roles)s.",
                    admin=admin.full_name,
                    organisation=organisation.name,
                    roles=role_names(invitation.role_list),
                ),
                _("To accept, open this link within %(hours)s hours. It works once:", hours=hours),
                link,
                _(
                    "You will choose a password (or sign in, if you already have a Medkarta account with this "
                    "e-mail) and set up an authenticator app on your phone."
                ),
                _("If you did not expect this invitation, ignore this message."),
            ]
        )
        subject = _("Invitation to work in Medkarta")
    notify.queue(
        account_id=holder.id if holder else None,
        channel="email",
        kind="staff_invitation",
        recipient=invitation.email,
        subject=subject,
        body=body,
    )


def _audit(
    action: str, actor: Account, invitation: StaffInvitation, reason: str | None = None, role: str = "org_admin"
) -> None:
    audit.record(
        action,
        actor_id=actor.id,
        actor_role=role,
        organisation_id=invitation.organisation_id,
        object_type="staff_invitation",
        object_id=invitation.id,
        reason=reason or invitation.roles,
    )


def invite(admin: Account, organisation_id: int, data: NewInvitation) -> StaffInvitation:
    """Invite someone by e-mail; Refused when a rule stops it, LookupError when not this admin's."""
    email = normalise_email(data.email)
    data = NewInvitation(data.surname, data.name, data.patronymic, email, data.roles)
    try:
        with write_transaction():
            organisation_for(admin, organisation_id)
            pending = select(StaffInvitation.id).where(
                StaffInvitation.organisation_id == organisation_id,
                StaffInvitation.email == email,
                StaffInvitation.status == "pending",
            )
            if db.session.scalar(pending) is not None:
                raise Refused("pending", "email")
            _check_roles(admin, organisation_id, email, data.roles)
            invitation = _issue(admin, organisation_id, data)
            _audit("staff.invited", admin, invitation)
            return invitation
    except IntegrityError as clash:  # another admin invited the address at the same moment
        raise Refused("pending", "email") from clash


def _close(invitation: StaffInvitation, status: str, by_id: int) -> None:
    if invitation.status != "pending":
        raise Refused("closed")
    invitation.status, invitation.closed_at, invitation.closed_by_id = status, auth.now(), by_id
    db.session.flush()  # the open-invitation index must see it closed before a new one is added


def resend(admin: Account, organisation_id: int, invitation_id: int) -> StaffInvitation:
    """Send a new link (a new token and a new expiry); the old link stops working."""
    with write_transaction():
        old = invitation_of(admin, organisation_id, invitation_id, lock=True)
        _close(old, "replaced", admin.id)
        data = NewInvitation(old.surname, old.name, old.patronymic, old.email, old.role_list)
        _check_roles(admin, organisation_id, old.email, data.roles)
        invitation = _issue(admin, organisation_id, data)
        _audit("staff.invitation_resent", admin, invitation, f"{invitation.roles}; replaces {old.id}")
        return invitation


def revoke(admin: Account, organisation_id: int, invitation_id: int) -> None:
    with write_transaction():
        invitation = invitation_of(admin, organisation_id, invitation_id, lock=True)
        _close(invitation, "revoked", admin.id)
        _audit("staff.invitation_revoked", admin, invitation)


# -- the invitee's side ----------------------------------------------------------------------------


@dataclass
class Opened:
    """What a link leads to: ``state`` is "pending", "accepted", "expired", "revoked", "replaced"
    or "invalid" (no such link)."""

    state: str
    invitation: StaffInvitation | None = None
    organisation: Organisation | None = None
    has_account: bool = False


def open_invitation(token: str | None, lock: bool = False) -> Opened:
    query = select(StaffInvitation).where(StaffInvitation.token_hash == _token_hash(token or ""))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    invitation = db.session.scalar(query) if token else None
    if invitation is None:
        return Opened("invalid")
    state = "expired" if is_expired(invitation) else invitation.status
    has_account = db.session.scalar(select(Account.id).where(Account.email == invitation.email)) is not None
    return Opened(state, invitation, db.session.get(Organisation, invitation.organisation_id), has_account)


@dataclass(frozen=True)
class NewStaffAccount:
    birth_date: date
    sex: str
    snils: str
    phone: str
    password: str


def _pending(token: str) -> StaffInvitation:
    """The invitation behind ``token``, locked, while it can be accepted; else Refused(state)."""
    opened = open_invitation(token, lock=True)
    if opened.state != "pending":
        raise Refused(opened.state)
    return opened.invitation


def _grant(invitation: StaffInvitation, account: Account) -> None:
    """The invitation's roles, given with the inviting admin's authority (who must still be an
    admin here), under the same rules as any role; then the invitation is spent."""
    inviter = db.session.get(Account, invitation.invited_by_id)
    try:
        for role in invitation.role_list:
            roles.add_role(inviter, account.id, invitation.organisation_id, role)
    except roles.RoleRefused as refused:
        raise Refused(refused.reason) from refused
    invitation.status, invitation.closed_at = "accepted", auth.now()
    invitation.closed_by_id = invitation.account_id = account.id
    _audit("staff.invitation_accepted", account, invitation, role="self")


def accept_with_new_account(
    token: str, data: NewStaffAccount, locale: str, ip: str | None, user_agent: str | None
) -> str:
    """Create the invitee's account with the invitation's name and e-mail (confirmed: the link
    came to it), give its roles and start a session that must set up the second factor first;
    returns the session's cookie token. Refused: the invitation cannot be used ("accepted",
    "expired"…), the e-mail has an account now ("has_account"), the SNILS belongs to another
    account ("snils"), or a rule of roles stops it. Nothing is written then."""
    password_hash = passwords.hash_password(data.password)
    snils = snils_digits(data.snils) or data.snils
    try:
        return _create_account(token, data, snils, password_hash, locale, ip, user_agent)
    except IntegrityError as clash:  # the e-mail or the SNILS was taken at the same moment
        taken = db.session.scalar(select(Account.id).where(Account.snils == snils))
        raise Refused("snils", "snils") if taken else Refused("has_account") from clash


def _create_account(
    token: str, data: NewStaffAccount, snils: str, password_hash: str, locale: str, ip: str | None, ua: str | None
) -> str:
    with write_transaction():
        invitation = _pending(token)
        if db.session.scalar(select(Account.id).where(Account.email == invitation.email)) is not None:
            raise Refused("has_account")
        if db.session.scalar(select(Account.id).where(Account.snils == snils)) is not None:
            raise Refused("snils", "snils")
        details = auth.NewAccount(
            invitation.surname, invitation.name, invitation.patronymic, data.birth_date, data.sex, snils,
            data.phone, invitation.email, "",
        )  # fmt: skip
        account = auth.add_account(details, password_hash, locale, email_confirmed=True)
        audit.record("auth.register", actor_id=account.id, actor_role="self", reason="staff invitation")
        _grant(invitation, account)
        session_token, _row = auth.start_session(account, "enrol", ip, ua)
        return session_token


def accept_as(token: str, account_id: int) -> None:
    """The signed-in invitee accepts with the account that has the invitation's e-mail."""
    with write_transaction():
        invitation = _pending(token)
        account = db.session.get(Account, account_id)
        if account.email != invitation.email:
            raise Refused("other_account")
        _grant(invitation, account)


# -- roles and suspension --------------------------------------------------------------------------

TOLD = {  # what the person is told by e-mail, in their language
    "staff_role_given": _l("In %(organisation)s you were given the role: %(role)s."),
    "staff_role_removed": _l("In %(organisation)s your role was removed: %(role)s."),
    "staff_suspended": _l(
        "Your work in %(organisation)s is suspended by its admin, and your sessions were ended. If you think "
        "this is a mistake, talk to the organisation's admin."
    ),
    "staff_reactivated": _l("Your work in %(organisation)s is resumed: your roles there are open again."),
}


def _tell(account: Account, kind: str, organisation: Organisation, role: str | None = None) -> None:
    """An e-mail to the person about their work here: no medical data, as every message."""
    with force_locale(auth.locale_of(account)):
        what = str(TOLD[kind]) % {"organisation": organisation.name, "role": str(ROLE_LABELS.get(role, ""))}
        body = "\n\n".join([_("Hello, %(name)s.", name=account.name), what])
        subject = _("Your work in Medkarta")
    auth.tell(account, kind, subject, body)


def _change(admin: Account, organisation_id: int, account_id: int, kind: str, rule, *args) -> None:
    """Apply a rule of ``portal.clinic.service`` to a person of the admin's organisation and tell
    them, in one transaction; Refused (nothing changed) when the rule says no."""
    with write_transaction():
        organisation = organisation_for(admin, organisation_id)
        member_of(admin, organisation_id, account_id)
        try:
            rule(admin, account_id, organisation_id, *args)
        except roles.RoleRefused as refused:
            raise Refused(refused.reason, "role") from refused
        if kind == "staff_suspended":
            auth.end_other_sessions(account_id, None, "suspended")
        _tell(db.session.get(Account, account_id), kind, organisation, *args)


def give_role(admin: Account, organisation_id: int, account_id: int, role: str) -> None:
    _change(admin, organisation_id, account_id, "staff_role_given", roles.add_role, role)


def remove_role(admin: Account, organisation_id: int, account_id: int, role: str) -> None:
    _change(admin, organisation_id, account_id, "staff_role_removed", roles.end_role, role)


def suspend(admin: Account, organisation_id: int, account_id: int) -> None:
    """Suspend the person's work here: their roles here close and all their sessions end (they may
    sign in again, and go on working in another organisation)."""
    _change(admin, organisation_id, account_id, "staff_suspended", roles.suspend_roles)


def reactivate(admin: Account, organisation_id: int, account_id: int) -> None:
    _change(admin, organisation_id, account_id, "staff_reactivated", roles.reactivate_roles)


# -- the directory: a clinician's entry ------------------------------------------------------------

CLINICAL_ROLES = ("doctor", "nurse")
NURSE_SPECIALTY = "медицинская сестра"  # as the record names a nurse; not in the doctors' nomenclature


@dataclass(frozen=True)
class DirectoryEntry:
    specialty_code: str  # a code of the nomenclature, or "nurse"
    position: str
    registration_number: str
    department_id: int | None


def directory_entry(account_id: int) -> Practitioner | None:
    """The person's entry in the directory (the record names them by it), if they have one."""
    return db.session.scalar(select(Practitioner).where(Practitioner.account_id == account_id))


def departments_of(organisation_id: int) -> list[Department]:
    return list(
        db.session.scalars(
            select(Department).where(Department.organisation_id == organisation_id).order_by(Department.name)
        )
    )


def add_to_directory(admin: Account, organisation_id: int, account_id: int, entry: DirectoryEntry) -> Practitioner:
    """List a doctor or nurse of the admin's organisation in the directory, so that schedules,
    bookings and the record can name them (an invited clinician has roles but no entry until now).
    Refused: no clinical role here ("not_clinical"), work here suspended ("suspended"), an entry
    already made, here or in another organisation ("listed"), a nurse's title for a doctor or a
    doctor's specialty for a nurse only ("specialty"). Audited; nothing is written when refused."""
    with write_transaction():
        organisation_for(admin, organisation_id)
        member = member_of(admin, organisation_id, account_id)
        if member.suspended:
            raise Refused("suspended")
        clinical = [role for role in member.roles if role in CLINICAL_ROLES]
        if not clinical:
            raise Refused("not_clinical")
        nurse = entry.specialty_code == "nurse"
        if (nurse and "nurse" not in clinical) or (not nurse and "doctor" not in clinical):
            raise Refused("specialty", "specialty_code")
        specialty = None if nurse else by_code().get(entry.specialty_code)
        if not nurse and specialty is None:
            raise Refused("specialty", "specialty_code")
        if entry.department_id is not None and entry.department_id not in {
            d.id for d in departments_of(organisation_id)
        }:
            raise LookupError(entry.department_id)  # another organisation's department: 404
        if directory_entry(account_id) is not None:
            raise Refused("listed")
        person = member.account
        practitioner = Practitioner(
            surname=person.surname,
            name=person.name,
            patronymic=person.patronymic,
            specialty=NURSE_SPECIALTY if nurse else specialty.doctor,
            specialty_code=None if nurse else specialty.code,
            position=entry.position,
            registration_number=entry.registration_number,
            organisation_id=organisation_id,
            department_id=entry.department_id,
            account_id=person.id,
        )
        db.session.add(practitioner)
        try:
            db.session.flush()
        except IntegrityError as clash:  # listed by another admin at the same moment
            raise Refused("listed") from clash
        audit.record(
            "staff.directory_entry",
            actor_id=admin.id,
            actor_role="org_admin",
            organisation_id=organisation_id,
            object_type="practitioner",
            object_id=practitioner.id,
            reason=practitioner.specialty,
        )
        return practitioner
