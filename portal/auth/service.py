"""Identity: registration, confirmation, sign-in with a second factor, lock-out, sessions,
recovery and changes of credentials. The only code that touches the identity models.

Every outcome a person could use to learn whether an account exists (registration, sign-in,
recovery) gives the same answer for known and unknown accounts.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pyotp
from flask import current_app, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, case, delete, or_, select, update
from sqlalchemy.orm import joinedload

from portal import crypto
from portal.audit import service as audit
from portal.auth import passwords, tokens
from portal.auth.models import Account, OneTimeCode, RecoveryCode, ServerSession, SignInThrottle, TrustedDevice
from portal.database import db, write_transaction
from portal.identifiers import normalise_email, normalise_phone, snils_digits
from portal.notify import service as notify

MAX_PASSWORD_FAILURES = 5  # wrong passwords per login, per trusted device or per session before a pause
MAX_CODE_FAILURES = 3
LOCK_MINUTES = 15
DEVICE_DAYS = 180  # a browser that signed in stays trusted this long after its last sign-in
MAX_DEVICES_PER_COOKIE = 5  # a family computer may remember a few accounts
CODE_MINUTES = 10
RECOVERY_CODES = 10
TOUCH_EVERY = timedelta(seconds=60)  # how often a request refreshes the session's last-seen time


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time we store is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


# -- messages to the account owner ---------------------------------------------------------------


def tell(account: Account, kind: str, subject: object, body: object, channel: str = "email") -> None:
    """Queue a message to the account owner. Texts may be lazy (``_l``): they are rendered here, in
    the owner's language, whatever the language of the request. Never any medical data."""
    recipient = account.email if channel == "email" else account.phone
    with force_locale(locale_of(account)):
        subject, body = str(subject), str(body)
    notify.queue(account_id=account.id, channel=channel, kind=kind, recipient=recipient, subject=subject, body=body)


def locale_of(account: Account) -> str:
    return account.locale or current_app.config["LANGUAGES"][0]


def security_alert(account: Account, what: object) -> None:
    """Tell the owner about a security event: sign-in, credential change, lock-out, grants.
    ``what`` is lazy text (``_l``), rendered in the owner's language."""
    with force_locale(locale_of(account)):
        subject = _("Medkarta security notice")
        body = "\n\n".join(
            [
                _("Hello, %(name)s.", name=account.name),
                str(what),
                _("Time: %(time)s UTC.", time=now().strftime("%Y-%m-%d %H:%M")),
                _(
                    "If this was not you, sign in and change your password, then end your other sessions, "
                    "or call the support service."
                ),
            ]
        )
    tell(account, "security_alert", subject, body)


# -- registration and confirmation -----------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    surname: str
    name: str
    patronymic: str | None
    birth_date: date
    sex: str
    snils: str
    phone: str
    email: str
    password: str


def register(data: NewAccount, locale: str) -> None:
    """Create the account and send the confirmation link. When the e-mail or SNILS is taken, the
    owner of the existing account is told instead: the visitor sees the same page either way."""
    email = normalise_email(data.email)
    snils = snils_digits(data.snils) or data.snils
    password_hash = passwords.hash_password(data.password)  # the same work in both branches
    with write_transaction():
        existing = db.session.scalar(select(Account).where(or_(Account.email == email, Account.snils == snils)))
        if existing is not None:
            tell(
                existing,
                "register_duplicate",
                _l("Someone tried to register with your details"),
                _l(
                    "Someone tried to create a Medkarta account with your e-mail or SNILS. If it was you, "
                    "you already have an account: sign in, or restore your password if you forgot it."
                ),
            )
            audit.record("auth.register", actor_id=existing.id, outcome="failure", reason="duplicate details")
            return
        account = add_account(data, password_hash, locale)
        send_email_confirmation(account, email)
        audit.record("auth.register", actor_id=account.id, actor_role="self")


def add_account(data: NewAccount, password_hash: str, locale: str, email_confirmed: bool = False) -> Account:
    """A new account from ``data`` (its password already hashed), added in the caller's write
    transaction; ``email_confirmed`` when a link sent to the address proved it (an invitation)."""
    account = Account(
        email=normalise_email(data.email),
        email_confirmed_at=now() if email_confirmed else None,
        phone=normalise_phone(data.phone) or data.phone,
        password_hash=password_hash,
        surname=data.surname.strip(),
        name=data.name.strip(),
        patronymic=(data.patronymic or "").strip() or None,
        birth_date=data.birth_date,
        sex=data.sex,
        snils=snils_digits(data.snils) or data.snils,
        locale=locale,
        verification_status="unverified",
        is_active=True,
        failed_passwords=0,
        failed_codes=0,
    )
    db.session.add(account)
    db.session.flush()
    return account


def send_email_confirmation(account: Account, email: str) -> None:
    # "c" is the address the account has now: once it changes, every older link is void, so an old
    # link cannot take the account back to an address it has left.
    token = tokens.make("confirm-email", {"a": account.id, "e": email, "c": account.email})
    link = current_app.config["BASE_URL"].rstrip("/") + url_for("auth.confirm_link", token=token)
    with force_locale(locale_of(account)):
        body = "\n\n".join(
            [
                _("Hello, %(name)s.", name=account.name),
                _("Confirm your e-mail for Medkarta by opening this link within 24 hours:"),
                link,
                _("If you did not register, ignore this message."),
            ]
        )
        tell_address(account, email, "confirm_email", _("Confirm your e-mail"), body)


def tell_address(account: Account, email: str, kind: str, subject: str, body: str) -> None:
    notify.queue(account_id=account.id, channel="email", kind=kind, recipient=email, subject=subject, body=body)


def confirm_email(token: str) -> str:
    """Confirm an e-mail from a link: "confirmed", "already" (the link works once) or "invalid"."""
    payload = tokens.read("confirm-email", token)
    if not payload:
        return "invalid"
    with write_transaction():
        account = db.session.get(Account, payload.get("a"))
        if account is None:
            return "invalid"
        if account.email == payload.get("e") and account.email_confirmed_at is not None:
            return "already"
        if account.email != payload.get("c", payload.get("e")):
            return "invalid"  # made before the address last changed
        if account.email != payload.get("e"):
            # A change of e-mail: the new address takes over once it is confirmed.
            taken = db.session.scalar(select(Account.id).where(Account.email == payload.get("e")))
            if taken is not None:
                return "invalid"
            old = account.email
            account.email = payload["e"]
            account.email_confirmed_at = now()
            audit.record("auth.email_changed", actor_id=account.id, actor_role="self")
            with force_locale(locale_of(account)):
                notify.queue(
                    account_id=account.id,
                    channel="email",
                    kind="security_alert",
                    recipient=old,
                    subject=_("Medkarta security notice"),
                    body=_(
                        "The e-mail of your Medkarta account was changed. If this was not you, "
                        "call the support service."
                    ),
                )
            return "confirmed"
        account.email_confirmed_at = now()
        audit.record("auth.email_confirmed", actor_id=account.id, actor_role="self")
        return "confirmed"


# -- one-time codes --------------------------------------------------------------------------------


def send_code(account: Account, purpose: str, bound_to: str, channel: str, recipient: str | None = None) -> str:
    """Send a 6-digit code valid for 10 minutes, bound to one attempt (``bound_to``). A code meant
    for SMS goes to the e-mail when no SMS can be sent (``notify.code_channel``); returns the
    channel it went by."""
    if notify.code_channel(channel) != channel:
        channel, recipient = "email", None
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.account_id == account.id, OneTimeCode.purpose == purpose, OneTimeCode.used_at.is_(None))
        .values(used_at=now())
    )
    db.session.add(
        OneTimeCode(
            account_id=account.id,
            purpose=purpose,
            bound_to=bound_to,
            channel=channel,
            code_hash=crypto.keyed_hash(code, f"otp:{purpose}:{bound_to}"),
            expires_at=now() + timedelta(minutes=CODE_MINUTES),
            attempts=0,
        )
    )
    with force_locale(locale_of(account)):
        text = _("Medkarta code: %(code)s. Do not tell it to anyone, including our staff.", code=code)
        notify.queue(
            account_id=account.id,
            channel=channel,
            kind=f"code_{purpose}",
            recipient=recipient or (account.phone if channel == "sms" else account.email),
            subject=_("Your Medkarta code"),
            body=text,
        )
    return channel


def check_code(account: Account, purpose: str, bound_to: str, code: str) -> bool:
    row = db.session.scalar(
        select(OneTimeCode)
        .where(
            OneTimeCode.account_id == account.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.bound_to == bound_to,
            OneTimeCode.used_at.is_(None),
        )
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        # Locked and read afresh: parallel guesses must not share one count and exceed the cap.
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or aware(row.expires_at) < now() or row.attempts >= MAX_CODE_FAILURES:
        return False
    row.attempts += 1
    if crypto.same(row.code_hash, crypto.keyed_hash(code.strip(), f"otp:{purpose}:{bound_to}")):
        row.used_at = now()
        return True
    return False


# -- sessions --------------------------------------------------------------------------------------


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(account: Account, stage: str, ip: str | None, user_agent: str | None) -> tuple[str, ServerSession]:
    token = secrets.token_urlsafe(32)
    row = ServerSession(
        id=session_id(token),
        account_id=account.id,
        stage=stage,
        created_at=now(),
        last_seen_at=now(),
        authenticated_at=now(),
        ip=ip,
        user_agent=(user_agent or "")[:256],
    )
    db.session.add(row)
    return token, row


def idle_limit(account: Account) -> timedelta:
    minutes = current_app.config["IDLE_MINUTES_STAFF" if account.is_staff else "IDLE_MINUTES_CITIZEN"]
    return timedelta(minutes=minutes)


@dataclass
class Current:
    account: Account
    session: ServerSession
    consent: str | None = None  # the latest consent action of the account's own card (or its own)
    unread: int | None = None  # the account's unread notifications when the session was loaded

    @property
    def expires_at(self) -> datetime:
        return aware(self.session.last_seen_at) + idle_limit(self.account)


@cache
def _session_statement() -> Select:
    """The signed-in session, its account, the account's staff roles, its consent (the latest
    consent action of its card, or its own before a card is linked: what a signed-in page checks)
    and its count of unread notifications (the header's) in one query, built once per process
    (immutable) and run with the session's id."""
    from portal.consent.models import ConsentEvent as C
    from portal.notify.models import unread_of

    def latest(*conditions) -> object:
        return select(C.action).where(*conditions).order_by(C.id.desc()).limit(1).scalar_subquery()

    consent = case(
        (Account.patient_id.is_not(None), latest(C.patient_id == Account.patient_id)),
        else_=latest(C.account_id == Account.id, C.patient_id.is_(None)),
    )
    return (
        select(ServerSession, Account, consent.label("consent"), unread_of(Account.id).label("unread"))
        .outerjoin(Account, Account.id == ServerSession.account_id)
        .options(joinedload(Account.memberships))
        .where(ServerSession.id == bindparam("id"))
    )


def load_session(token: str | None) -> Current | None:
    """The live session behind a cookie's token, or None. Ends sessions that timed out."""
    if not token:
        return None
    # One query: the session row, its account and the account's staff roles.
    found = db.session.execute(_session_statement(), {"id": session_id(token)}).unique().first()
    if found is None or found[0].ended_at is not None:
        return None
    row, account, consent, unread = found
    moment = now()
    reason = None
    if account is None or not account.is_active:
        reason = "disabled"
    elif moment - aware(row.last_seen_at) > idle_limit(account):
        reason = "idle"
    elif moment - aware(row.created_at) > timedelta(hours=current_app.config["SESSION_MAX_HOURS"]):
        reason = "expired"
    if reason:
        with write_transaction():
            row = db.session.get(ServerSession, session_id(token))
            row.ended_at, row.end_reason = moment, reason
        return None
    return Current(account, row, consent, unread)


def touch(current: Current, force: bool = False) -> None:
    """Keep an active session alive (at most one write a minute)."""
    if force or now() - aware(current.session.last_seen_at) > TOUCH_EVERY:
        with write_transaction():
            row = db.session.get(ServerSession, current.session.id)
            row.last_seen_at = now()


def end_session(row_id: str, reason: str, account_id: int | None = None) -> bool:
    with write_transaction():
        row = db.session.get(ServerSession, row_id)
        if row is None or row.ended_at is not None or (account_id is not None and row.account_id != account_id):
            return False
        row.ended_at, row.end_reason = now(), reason
        audit.record("auth.session_ended", actor_id=row.account_id, actor_role="self", reason=reason)
        return True


def end_other_sessions(account_id: int, keep: str | None, reason: str) -> int:
    result = db.session.execute(
        update(ServerSession)
        .where(
            ServerSession.account_id == account_id, ServerSession.ended_at.is_(None), ServerSession.id != (keep or "")
        )
        .values(ended_at=now(), end_reason=reason)
    )
    return result.rowcount or 0


def active_sessions(account_id: int) -> list[ServerSession]:
    return list(
        db.session.scalars(
            select(ServerSession)
            .where(
                ServerSession.account_id == account_id,
                ServerSession.ended_at.is_(None),
                ServerSession.stage == "complete",
            )
            .order_by(ServerSession.last_seen_at.desc())
        )
    )


def rotate_session(current: Current, stage: str | None = None) -> str:
    """Give the session a new id (and the caller a new cookie token) on every rise in privilege:
    the second factor, a step-up, emergency access. Call inside a write transaction. The old id
    ends at once, so a cookie copied before the rise opens nothing after it."""
    old = db.session.get(ServerSession, current.session.id)
    token = secrets.token_urlsafe(32)
    moment = now()
    new = ServerSession(
        id=session_id(token),
        account_id=old.account_id,
        stage=stage or old.stage,
        created_at=old.created_at,  # the 12-hour limit counts from the first sign-in
        last_seen_at=moment,
        authenticated_at=old.authenticated_at,
        ip=old.ip,
        user_agent=old.user_agent,
        pending_totp_encrypted=old.pending_totp_encrypted,
    )
    old.ended_at, old.end_reason = moment, "rotated"
    db.session.add(new)
    current.session = new
    return token


# -- sign-in ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    outcome: str  # "ok", "failed", "locked" (paused; see retry_at), "unconfirmed"
    token: str | None = None
    stage: str | None = None
    retry_at: datetime | None = None


def normal_login(login: str) -> str:
    """The login as the account lookup reads it, so "112-233-445 95" and "11223344595" are one."""
    login = login.strip()
    if "@" in login:
        return normalise_email(login)
    return snils_digits(login) or normalise_phone(login) or login.casefold()


def find_account(login: str) -> Account | None:
    login = login.strip()
    if "@" in login:
        return db.session.scalar(select(Account).where(Account.email == normalise_email(login)))
    snils = snils_digits(login)
    if snils:
        return db.session.scalar(select(Account).where(Account.snils == snils))
    phone = normalise_phone(login)
    if phone:
        # Phones are not unique (family members share one), so sign-in by phone needs one owner.
        found = list(db.session.scalars(select(Account).where(Account.phone == phone).limit(2)))
        return found[0] if len(found) == 1 else None
    return None


def is_locked(account: Account) -> bool:
    return account.locked_until is not None and aware(account.locked_until) > now()


def _paused(until: datetime | None) -> bool:
    return until is not None and aware(until) > now()


def _throttle_key(login: str) -> str:
    return crypto.keyed_hash(normal_login(login), "sign-in-throttle")


def _fresh_counter(
    counter: SignInThrottle | TrustedDevice | Account | None, key: str
) -> SignInThrottle | TrustedDevice | Account:
    """A counter read again just before it is counted up. Call it after ``audit.record``: the audit
    chain's head row is locked until commit, so writers of failures take turns and this read sees
    every failure committed before (no count is lost to parallel requests, on PostgreSQL too)."""
    if counter is not None:
        db.session.refresh(counter)
        return counter
    found = db.session.get(SignInThrottle, key, populate_existing=True)
    if found is None:
        found = SignInThrottle(key=key, failures=0)
        db.session.add(found)
    return found


def _count_failure(counter: SignInThrottle | TrustedDevice) -> datetime | None:
    """One more wrong password on this login or device; the end of the pause when it starts one.
    Failures older than LOCK_MINUTES are forgotten."""
    moment = now()
    window = timedelta(minutes=LOCK_MINUTES)
    first = aware(getattr(counter, "first_failure_at", None))
    if isinstance(counter, SignInThrottle) and (first is None or moment - first > window):
        counter.failures, counter.first_failure_at = 0, moment
    counter.failures = (counter.failures or 0) + 1
    if counter.failures >= MAX_PASSWORD_FAILURES:
        counter.failures, counter.locked_until = 0, moment + window
        return counter.locked_until
    return None


def trusted_device(account: Account, device_tokens: list[str]) -> TrustedDevice | None:
    """The device cookie's entry for this account, if the browser signed in to it before."""
    ids = [session_id(t) for t in device_tokens[:MAX_DEVICES_PER_COOKIE] if t]
    if not ids:
        return None
    device = db.session.scalar(
        select(TrustedDevice).where(TrustedDevice.id.in_(ids), TrustedDevice.account_id == account.id).limit(1)
    )
    if device is None or now() - aware(device.last_used_at) > timedelta(days=DEVICE_DAYS):
        return None
    return device


def remember_device(account: Account, device_tokens: list[str]) -> str | None:
    """After a full sign-in: trust this browser for the account. Returns a new device token to add
    to the cookie, or None when the browser was already trusted (its entry is refreshed)."""
    device = trusted_device(account, device_tokens)
    if device is not None:
        device.last_used_at, device.failures, device.locked_until = now(), 0, None
        return None
    token = secrets.token_urlsafe(32)
    db.session.add(
        TrustedDevice(id=session_id(token), account_id=account.id, created_at=now(), last_used_at=now(), failures=0)
    )
    return token


def lock(account: Account, why: str) -> None:
    """Pause sign-in to the account from browsers it has not signed in from. The owner's live
    sessions and trusted devices keep working: a lock must not hand the attacker a denial of service."""
    account.locked_until = now() + timedelta(minutes=LOCK_MINUTES)
    account.failed_passwords = account.failed_codes = 0
    audit.record("auth.locked", actor_id=account.id, reason=why, outcome="failure")
    security_alert(account, LOCK_NOTICE)


LOCK_NOTICE = _l(
    "After several wrong attempts, sign-in to your account from new devices is paused for 15 minutes. "
    "Your open sessions and the devices you signed in from before still work."
)


def first_stage(account: Account) -> str:
    """The stage after a correct password: the existing second factor is always proved first;
    only an account that has none goes straight to set one up."""
    return "enrol" if account.second_factor is None else "password"


def needs_enrolment(account: Account) -> bool:
    if account.second_factor is None:
        return True
    # An unconfirmed phone is confirmed first, where an SMS can confirm it at all.
    if account.phone_confirmed_at is None and notify.sms_reachable():
        return True
    return account.is_staff and account.second_factor != "totp"  # staff must use an authenticator app


def begin_sign_in(
    login: str, password: str, ip: str | None, user_agent: str | None, device_tokens: list[str] | None = None
) -> SignIn:
    """Check the password. On success, a half-authenticated session waits for the second factor.

    Wrong passwords are counted per typed login, known or unknown alike, so that the answers (four
    times "not right", then a 15-minute pause) never tell whether an account exists. A browser that
    signed in to the account before (device cookie) is counted on its own and is not paused by
    what others type."""
    with write_transaction():
        account = find_account(login)
        device = trusted_device(account, device_tokens or []) if account is not None else None
        key = _throttle_key(login)
        counter = device if device is not None else db.session.get(SignInThrottle, key)
        if counter is not None and _paused(counter.locked_until):
            audit.record("auth.sign_in", actor_id=account.id if account else None, outcome="failure", reason="paused")
            return SignIn("locked", retry_at=aware(counter.locked_until))
        right = passwords.verify_password(account.password_hash if account else None, password)
        if account is None or not right or not account.is_active:
            audit.record(
                "auth.sign_in",
                actor_id=account.id if account else None,
                outcome="failure",
                reason="unknown account" if account is None else "wrong password",
            )
            until = _count_failure(_fresh_counter(counter, key))
            if until is None:
                return SignIn("failed")
            if account is not None:
                audit.record("auth.locked", actor_id=account.id, reason="too many wrong passwords", outcome="failure")
                security_alert(account, LOCK_NOTICE)
            return SignIn("locked", retry_at=until)
        if device is None and is_locked(account):
            # Paused after wrong codes or wrong passwords in a session: only a trusted device passes.
            audit.record("auth.sign_in", actor_id=account.id, outcome="failure", reason="locked")
            return SignIn("locked", retry_at=aware(account.locked_until))
        if device is not None:
            device.failures = 0
        if passwords.needs_rehash(account.password_hash):
            account.password_hash = passwords.hash_password(password)
        if account.email_confirmed_at is None:
            send_email_confirmation(account, account.email)
            audit.record("auth.sign_in", actor_id=account.id, outcome="failure", reason="e-mail not confirmed")
            return SignIn("unconfirmed")
        stage = first_stage(account)
        token, row = start_session(account, stage, ip, user_agent)
        if stage == "password" and account.second_factor in ("sms", "email"):
            send_code(account, "sign_in", row.id, account.second_factor)
        audit.record("auth.password_accepted", actor_id=account.id, actor_role="self")
        return SignIn("ok", token, stage)


def resend_sign_in_code(current: Current) -> None:
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        if account.second_factor in ("sms", "email"):
            send_code(account, "sign_in", current.session.id, account.second_factor)


def _totp(account: Account) -> pyotp.TOTP | None:
    if not account.totp_secret_encrypted:
        return None
    secret = crypto.decrypt(account.totp_secret_encrypted, f"totp:{account.id}").decode()
    return pyotp.TOTP(secret)


def _totp_step(totp: pyotp.TOTP | None, code: str, last_step: int | None) -> int | None:
    """The step a code belongs to (the current 30-second step or one either side), or None; a step
    at or before ``last_step`` is refused, so each code works once."""
    code = code.strip().replace(" ", "")
    if totp is None or not code.isdigit():
        return None
    step = int(now().timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):
        if crypto.same(totp.at(candidate * totp.interval), code):
            if last_step is not None and candidate <= last_step:
                return None
            return candidate
    return None


def check_totp(account: Account, code: str) -> bool:
    """A code from the current 30-second step or one either side, never one used before."""
    step = _totp_step(_totp(account), code, account.totp_last_step)
    if step is None:
        return False
    account.totp_last_step = step
    return True


def use_recovery_code(account: Account, code: str) -> bool:
    digest = crypto.keyed_hash(code.strip().upper().replace(" ", ""), f"recovery:{account.id}")
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.account_id == account.id, RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_(None)
        )
    )
    if row is None:
        return False
    row.used_at = now()
    return True


@dataclass(frozen=True)
class Finished:
    outcome: str  # "ok", "wrong" or "locked" (the pending session is then ended)
    token: str | None = None  # the rotated session's cookie token
    stage: str | None = None  # "complete", or "enrol" when a staff member must now set up an app
    device: str | None = None  # a new device-cookie token, when this browser is trusted from now on
    retry_at: datetime | None = None


def finish_sign_in(current: Current, code: str, method: str, device_tokens: list[str] | None = None) -> Finished:
    """Check the second factor. The right code gives the session a new id (a cookie copied after
    the password step opens nothing) and trusts the browser for the next sign-ins."""
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        row = db.session.get(ServerSession, current.session.id)
        device = trusted_device(account, device_tokens or [])
        if row.ended_at is not None or (is_locked(account) and device is None):
            return Finished("locked", retry_at=aware(account.locked_until))
        if method == "recovery":
            right = use_recovery_code(account, code)
        elif account.second_factor == "totp":
            right = check_totp(account, code)
        else:
            right = check_code(account, "sign_in", row.id, code)
        if not right:
            audit.record("auth.second_factor", actor_id=account.id, outcome="failure", reason=method)
            _fresh_counter(account, "")
            account.failed_codes += 1
            if account.failed_codes >= MAX_CODE_FAILURES:
                lock(account, "too many wrong codes")
                row.ended_at, row.end_reason = now(), "locked"  # this attempt is over; others stay
                return Finished("locked", retry_at=aware(account.locked_until))
            return Finished("wrong")
        account.failed_codes = 0
        row.authenticated_at = now()
        stage = "enrol" if needs_enrolment(account) else "complete"
        token = rotate_session(current, stage)
        new_device = remember_device(account, device_tokens or [])
        audit.record("auth.second_factor", actor_id=account.id, actor_role="self", reason=method)
        audit.record("auth.sign_in", actor_id=account.id, actor_role="self")
        security_alert(account, _l("Someone signed in to your account from the address %(ip)s.", ip=row.ip or "?"))
        if method == "recovery":
            security_alert(account, _l("A recovery code was used to sign in."))
        return Finished("ok", token, stage, new_device)


def sign_out(current: Current) -> None:
    end_session(current.session.id, "signed out", current.account.id)


def sign_out_everywhere(current: Current) -> int:
    with write_transaction():
        ended = end_other_sessions(current.account.id, None, "signed out everywhere")
        audit.record("auth.signed_out_everywhere", actor_id=current.account.id, actor_role="self")
        return ended


# -- enrolment: phone and second factor -----------------------------------------------------------


def send_phone_confirmation(current: Current) -> None:
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        send_code(account, "confirm_phone", current.session.id, "sms")


def confirm_phone(current: Current, code: str) -> bool:
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        if not check_code(account, "confirm_phone", current.session.id, code):
            audit.record("auth.phone_confirmed", actor_id=account.id, outcome="failure")
            return False
        account.phone_confirmed_at = now()
        audit.record("auth.phone_confirmed", actor_id=account.id, actor_role="self")
        return True


def changing_factor(current: Current) -> bool:
    """A working second factor is being replaced from a signed-in session: that needs the password."""
    return current.session.stage == "complete" and current.account.second_factor is not None


def choose_factor(current: Current, method: str, password: str | None = None, recovery_code: str | None = None) -> bool:
    """Start setting up ``method`` as the second factor: a new authenticator seed kept in this
    session, or a code sent by SMS or e-mail. Replacing a working factor needs the current password,
    or one of the recovery codes when the password is not given (False when it is wrong; the attempt
    counts toward the account's pause and is audited). The working factor stays until a code from
    the new one is entered."""
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        row = db.session.get(ServerSession, current.session.id)
        if row.stage == "complete" and account.second_factor is not None:
            if password or not recovery_code:
                if _password_ok(account, password or "", "auth.second_factor_change") is None:
                    return False
            elif is_locked(account) or not use_recovery_code(account, recovery_code):
                audit.record("auth.second_factor_change", actor_id=account.id, outcome="failure", reason="recovery")
                _fresh_counter(account, "")
                account.failed_codes += 1
                if account.failed_codes >= MAX_CODE_FAILURES:
                    lock(account, "too many wrong codes in a session")
                return False
            audit.record(
                "auth.second_factor_change",
                actor_id=account.id,
                actor_role="self",
                reason=method if password else f"{method}, with a recovery code",
            )
        if method == "totp":
            secret = pyotp.random_base32()
            row.pending_totp_encrypted = crypto.encrypt(secret.encode(), f"totp:{account.id}")
        else:
            row.pending_totp_encrypted = None
            send_code(account, "enrol", row.id, method)
        return True


def pending_totp_secret(current: Current) -> str | None:
    """The authenticator seed being set up in this session (never the working one), or None."""
    row = db.session.get(ServerSession, current.session.id)
    if row is None or not row.pending_totp_encrypted:
        return None
    return crypto.decrypt(row.pending_totp_encrypted, f"totp:{current.account.id}").decode()


def provisioning_uri(account: Account, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name="Medkarta")


def new_recovery_codes(account: Account) -> list[str]:
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now())
    )
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    codes = []
    for _i in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(
            RecoveryCode(
                account_id=account.id, code_hash=crypto.keyed_hash(raw[:5] + "-" + raw[5:], f"recovery:{account.id}")
            )
        )
    return codes


@dataclass(frozen=True)
class Enrolled:
    codes: list[str]  # the new recovery codes, shown once
    token: str  # the rotated session's cookie token
    device: str | None  # a new device-cookie token, or None


def confirm_second_factor(
    current: Current, method: str, code: str, device_tokens: list[str] | None = None
) -> Enrolled | None:
    """Finish enrolment: the right code from the new factor makes ``method`` the second factor,
    completes the session under a new id and issues new recovery codes; None for a wrong code."""
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        row = db.session.get(ServerSession, current.session.id)
        step = None
        if method == "totp":
            pending = row.pending_totp_encrypted
            seed = crypto.decrypt(pending, f"totp:{account.id}").decode() if pending else None
            step = _totp_step(pyotp.TOTP(seed) if seed else None, code, None)
            right = step is not None
        else:
            right = check_code(account, "enrol", row.id, code)
        if not right:
            audit.record("auth.second_factor_enrolled", actor_id=account.id, outcome="failure", reason=method)
            return None
        changed = account.second_factor is not None
        account.second_factor = method
        if method == "totp":
            account.totp_secret_encrypted, account.totp_last_step = row.pending_totp_encrypted, step
            row.pending_totp_encrypted = None
        else:
            account.totp_secret_encrypted, account.totp_last_step = None, None
        codes = new_recovery_codes(account)
        token = rotate_session(current, "complete")
        audit.record("auth.second_factor_enrolled", actor_id=account.id, actor_role="self", reason=method)
        if changed:
            security_alert(account, _l("The second factor of your account was changed."))
        return Enrolled(codes, token, remember_device(account, device_tokens or []))


# -- recovery and changes -------------------------------------------------------------------------


def _password_fingerprint(account: Account) -> str:
    """Changes with the password and with the e-mail: a link sent to an address the account has
    left dies with the change."""
    return hashlib.sha256(f"{account.password_hash}\n{account.email}".encode()).hexdigest()[:16]


def request_password_reset(email: str) -> None:
    """Send a reset link if the address is known. The visitor sees the same page either way."""
    with write_transaction():
        account = db.session.scalar(select(Account).where(Account.email == normalise_email(email)))
        if account is None or not account.is_active:
            audit.record("auth.reset_requested", outcome="failure", reason="unknown account")
            return
        token = tokens.make("reset-password", {"a": account.id, "p": _password_fingerprint(account)})
        link = current_app.config["BASE_URL"].rstrip("/") + url_for("auth.reset_link", token=token)
        with force_locale(locale_of(account)):
            body = "\n\n".join(
                [
                    _("Hello, %(name)s.", name=account.name),
                    _("To choose a new password, open this link within 30 minutes. It works once:"),
                    link,
                    _("If you did not ask for this, ignore this message: your password stays the same."),
                ]
            )
            tell(account, "reset_password", _("Restore access to Medkarta"), body)
        audit.record("auth.reset_requested", actor_id=account.id)


def reset_target(token: str) -> Account | None:
    """The account a reset link is for, while the link is fresh and the password unchanged."""
    payload = tokens.read("reset-password", token)
    if not payload:
        return None
    account = db.session.get(Account, payload.get("a"))
    if account is None or not account.is_active or _password_fingerprint(account) != payload.get("p"):
        return None
    return account


def reset_password(token: str, new_password: str) -> bool:
    with write_transaction():
        account = reset_target(token)
        if account is None:
            return False
        account.password_hash = passwords.hash_password(new_password)
        account.password_changed_at = now()
        account.failed_passwords, account.failed_codes, account.locked_until = 0, 0, None
        # Whoever holds the mailbox is the owner here: the pause on their own logins ends too.
        logins = [account.email, account.snils, account.phone]
        keys = [crypto.keyed_hash(normal_login(login), "sign-in-throttle") for login in logins if login]
        db.session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))
        end_other_sessions(account.id, None, "password reset")
        audit.record("auth.password_reset", actor_id=account.id, actor_role="self")
        security_alert(
            account,
            _l("The password of your account was changed through the recovery link. All sessions were ended."),
        )
        return True


def _password_ok(account: Account, password: str, action: str) -> Account | None:
    """The account if ``password`` is its current password, typed in a signed-in session (a
    credential change, a step-up, ending all sessions, emergency access); otherwise None.

    These guesses count like wrong passwords at sign-in: after MAX_PASSWORD_FAILURES the account is
    paused (no password is checked in any session, sign-in only from trusted devices) for
    LOCK_MINUTES. Each failure is audited under ``action``."""
    if is_locked(account):
        audit.record(action, actor_id=account.id, outcome="failure", reason="paused")
        return None
    if passwords.verify_password(account.password_hash, password):
        account.failed_passwords = 0
        return account
    audit.record(action, actor_id=account.id, outcome="failure", reason="wrong password")
    _fresh_counter(account, "")
    account.failed_passwords = (account.failed_passwords or 0) + 1
    if account.failed_passwords >= MAX_PASSWORD_FAILURES:
        lock(account, "too many wrong passwords in a session")
    return None


def _reauthenticated(current: Current, password: str, action: str) -> Account | None:
    """The account, re-read under the write lock, if ``password`` is its current password;
    otherwise None, with the failed attempt counted and audited. Changing credentials always asks for it."""
    return _password_ok(db.session.get(Account, current.account.id), password, action)


def check_password(account_id: int, password: str, action: str) -> bool:
    """The current password, asked again in a signed-in session; counted and audited as above."""
    with write_transaction():
        return _password_ok(db.session.get(Account, account_id), password, action) is not None


def password_pause(account_id: int) -> datetime | None:
    """When password checks for the account resume, while it is paused; else None."""
    account = db.session.get(Account, account_id)
    db.session.refresh(account)
    return aware(account.locked_until) if is_locked(account) else None


def is_fresh(current: Current) -> bool:
    """The password was entered in this session within the last FRESH_AUTH_MINUTES minutes."""
    entered = aware(current.session.authenticated_at)
    limit = timedelta(minutes=current_app.config["FRESH_AUTH_MINUTES"])
    return entered is not None and now() - entered <= limit


def minutes_until(moment: datetime | None) -> int:
    """Whole minutes left until ``moment``, rounded up, at least one: what a paused person waits."""
    left = (moment - now()).total_seconds() if moment else 0
    return max(1, math.ceil(left / 60))


def password_error(account_id: int) -> tuple[str, int]:
    """The error for a wrong current password in a signed-in session, and its HTTP status: 429 with
    the precise wait once the guesses have paused the account."""
    until = password_pause(account_id)
    if until is None:
        return _("The password is not right"), 400
    message = ngettext(
        "Too many wrong passwords. Password checks are paused for %(num)d minute; try again then.",
        "Too many wrong passwords. Password checks are paused for %(num)d minutes; try again then.",
        minutes_until(until),
    )
    return message, 429


def reauthenticate(current: Current, password: str) -> str | None:
    """Step-up before a sensitive operation (SECURITY.md check 20): the right password renews the
    session's authentication time under a new session id (returns its cookie token); a wrong one
    is counted and audited and changes nothing (None)."""
    with write_transaction():
        account = _reauthenticated(current, password, "auth.reauthenticated")
        if account is None:
            return None
        row = db.session.get(ServerSession, current.session.id)
        row.authenticated_at = now()
        token = rotate_session(current)
        audit.record("auth.reauthenticated", actor_id=account.id, actor_role="self")
        return token


def elevate(current: Current) -> str:
    """A new session id after a rise in privilege decided elsewhere (emergency access)."""
    with write_transaction():
        return rotate_session(current)


def change_password(current: Current, current_password: str, new_password: str) -> bool:
    with write_transaction():
        account = _reauthenticated(current, current_password, "auth.password_changed")
        if account is None:
            return False
        account.password_hash = passwords.hash_password(new_password)
        account.password_changed_at = now()
        end_other_sessions(account.id, current.session.id, "password changed")
        audit.record("auth.password_changed", actor_id=account.id, actor_role="self")
        security_alert(account, _l("The password of your account was changed. Your other sessions were ended."))
        return True


def change_email(current: Current, current_password: str, new_email: str) -> bool:
    """Send a confirmation link to the new address; it replaces the old one once confirmed."""
    with write_transaction():
        account = _reauthenticated(current, current_password, "auth.email_change_requested")
        if account is None:
            return False
        send_email_confirmation(account, normalise_email(new_email))
        audit.record("auth.email_change_requested", actor_id=account.id, actor_role="self")
        return True


def change_phone(current: Current, current_password: str, new_phone: str) -> bool:
    """Send a code to the new number; it replaces the old one once confirmed. Where no SMS can be
    sent, the number is changed at once (the password proved the owner) and kept unconfirmed."""
    with write_transaction():
        account = _reauthenticated(current, current_password, "auth.phone_change_requested")
        if account is None:
            return False
        phone = normalise_phone(new_phone)
        if not notify.sms_reachable():
            old = account.phone
            account.phone, account.phone_confirmed_at = phone, None
            audit.record("auth.phone_changed", actor_id=account.id, actor_role="self", reason="unconfirmed: no SMS")
            security_alert(account, _l("The phone number of your account was changed from %(old)s.", old=old))
            return True
        send_code(account, f"phone:{phone}", current.session.id, "sms", recipient=phone)
        audit.record("auth.phone_change_requested", actor_id=account.id, actor_role="self")
        return True


def confirm_new_phone(current: Current, new_phone: str, code: str) -> bool:
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        phone = normalise_phone(new_phone)
        if phone is None or not check_code(account, f"phone:{phone}", current.session.id, code):
            return False
        old = account.phone
        account.phone, account.phone_confirmed_at = phone, now()
        audit.record("auth.phone_changed", actor_id=account.id, actor_role="self")
        security_alert(account, _l("The phone number of your account was changed from %(old)s.", old=old))
        return True
