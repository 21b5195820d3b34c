"""Identity: registration, confirmation, sign-in with a second factor, lock-out, sessions,
recovery and changes of credentials. The only code that touches the identity models.

Every outcome a person could use to learn whether an account exists (registration, sign-in,
recovery) gives the same answer for known and unknown accounts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyotp
from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from portal import crypto
from portal.audit import service as audit
from portal.auth import passwords, tokens
from portal.auth.models import Account, OneTimeCode, RecoveryCode, ServerSession
from portal.database import db, write_transaction
from portal.identifiers import normalise_email, normalise_phone, snils_digits
from portal.notify import service as notify

MAX_PASSWORD_FAILURES = 5
MAX_CODE_FAILURES = 3
LOCK_MINUTES = 15
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
        account = Account(
            email=email,
            phone=normalise_phone(data.phone) or data.phone,
            password_hash=password_hash,
            surname=data.surname.strip(),
            name=data.name.strip(),
            patronymic=(data.patronymic or "").strip() or None,
            birth_date=data.birth_date,
            sex=data.sex,
            snils=snils,
            locale=locale,
            verification_status="unverified",
            is_active=True,
            failed_passwords=0,
            failed_codes=0,
        )
        db.session.add(account)
        db.session.flush()
        send_email_confirmation(account, email)
        audit.record("auth.register", actor_id=account.id, actor_role="self")


def send_email_confirmation(account: Account, email: str) -> None:
    token = tokens.make("confirm-email", {"a": account.id, "e": email})
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


def send_code(account: Account, purpose: str, bound_to: str, channel: str, recipient: str | None = None) -> None:
    """Send a 6-digit code valid for 10 minutes, bound to one attempt (``bound_to``)."""
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

    @property
    def expires_at(self) -> datetime:
        return aware(self.session.last_seen_at) + idle_limit(self.account)


def load_session(token: str | None) -> Current | None:
    """The live session behind a cookie's token, or None. Ends sessions that timed out."""
    if not token:
        return None
    row = db.session.get(ServerSession, session_id(token))
    if row is None or row.ended_at is not None:
        return None
    account = db.session.get(Account, row.account_id)
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
    return Current(account, row)


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


# -- sign-in ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    outcome: str  # "ok", "failed", "locked", "unconfirmed"
    token: str | None = None
    stage: str | None = None


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


def lock(account: Account, why: str) -> None:
    account.locked_until = now() + timedelta(minutes=LOCK_MINUTES)
    account.failed_passwords = account.failed_codes = 0
    end_other_sessions(account.id, None, "locked")
    audit.record("auth.locked", actor_id=account.id, reason=why, outcome="failure")
    security_alert(account, _l("Your account was locked for 15 minutes after several wrong attempts to sign in."))


def needs_enrolment(account: Account) -> bool:
    if account.phone_confirmed_at is None or account.second_factor is None:
        return True
    return account.is_staff and account.second_factor != "totp"  # staff must use an authenticator app


def begin_sign_in(login: str, password: str, ip: str | None, user_agent: str | None) -> SignIn:
    """Check the password. On success, a half-authenticated session waits for the second factor."""
    with write_transaction():
        account = find_account(login)
        right = passwords.verify_password(account.password_hash if account else None, password)
        if account is None:
            audit.record("auth.sign_in", outcome="failure", reason="unknown account")
            return SignIn("failed")
        if is_locked(account):
            audit.record("auth.sign_in", actor_id=account.id, outcome="failure", reason="locked")
            return SignIn("locked")
        if not right or not account.is_active:
            account.failed_passwords += 1
            audit.record("auth.sign_in", actor_id=account.id, outcome="failure", reason="wrong password")
            if account.failed_passwords >= MAX_PASSWORD_FAILURES:
                lock(account, "too many wrong passwords")
                return SignIn("locked")
            return SignIn("failed")
        account.failed_passwords = 0
        if passwords.needs_rehash(account.password_hash):
            account.password_hash = passwords.hash_password(password)
        if account.email_confirmed_at is None:
            send_email_confirmation(account, account.email)
            audit.record("auth.sign_in", actor_id=account.id, outcome="failure", reason="e-mail not confirmed")
            return SignIn("unconfirmed")
        stage = "enrol" if needs_enrolment(account) else "password"
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


def check_totp(account: Account, code: str) -> bool:
    """A code from the current 30-second step or one either side, never one used before."""
    totp = _totp(account)
    code = code.strip().replace(" ", "")
    if totp is None or not code.isdigit():
        return False
    step = int(now().timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):
        if crypto.same(totp.at(candidate * totp.interval), code):
            if account.totp_last_step is not None and candidate <= account.totp_last_step:
                return False  # each code works once
            account.totp_last_step = candidate
            return True
    return False


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


def finish_sign_in(current: Current, code: str, method: str) -> str:
    """Check the second factor: "ok", "wrong" or "locked" (the pending session is then ended)."""
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        row = db.session.get(ServerSession, current.session.id)
        if is_locked(account) or row.ended_at is not None:
            return "locked"
        if method == "recovery":
            right = use_recovery_code(account, code)
        elif account.second_factor == "totp":
            right = check_totp(account, code)
        else:
            right = check_code(account, "sign_in", row.id, code)
        if not right:
            account.failed_codes += 1
            audit.record("auth.second_factor", actor_id=account.id, outcome="failure", reason=method)
            if account.failed_codes >= MAX_CODE_FAILURES:
                lock(account, "too many wrong codes")
                return "locked"
            return "wrong"
        account.failed_codes = 0
        row.stage, row.authenticated_at, row.last_seen_at = "complete", now(), now()
        audit.record("auth.second_factor", actor_id=account.id, actor_role="self", reason=method)
        audit.record("auth.sign_in", actor_id=account.id, actor_role="self")
        security_alert(account, _l("Someone signed in to your account from the address %(ip)s.", ip=row.ip or "?"))
        if method == "recovery":
            security_alert(account, _l("A recovery code was used to sign in."))
        return "ok"


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


def start_totp_enrolment(current: Current) -> str:
    """A fresh secret, stored encrypted; it becomes the second factor once a code from it is entered."""
    secret = pyotp.random_base32()
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        account.totp_secret_encrypted = crypto.encrypt(secret.encode(), f"totp:{account.id}")
        account.totp_last_step = None
    return secret


def pending_totp_secret(account: Account) -> str | None:
    totp = _totp(account)
    return totp.secret if totp else None


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


def confirm_second_factor(current: Current, method: str, code: str) -> list[str] | None:
    """Finish enrolment: the right code makes ``method`` the second factor and completes the
    session; returns the new recovery codes (shown once), or None for a wrong code."""
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        row = db.session.get(ServerSession, current.session.id)
        right = check_totp(account, code) if method == "totp" else check_code(account, "enrol", row.id, code)
        if not right:
            audit.record("auth.second_factor_enrolled", actor_id=account.id, outcome="failure", reason=method)
            return None
        changed = account.second_factor is not None
        account.second_factor = method
        if method != "totp":
            account.totp_secret_encrypted = None
        codes = new_recovery_codes(account)
        row.stage, row.last_seen_at = "complete", now()
        audit.record("auth.second_factor_enrolled", actor_id=account.id, actor_role="self", reason=method)
        if changed:
            security_alert(account, _l("The second factor of your account was changed."))
        return codes


def send_enrolment_code(current: Current, method: str) -> None:
    with write_transaction():
        account = db.session.get(Account, current.account.id)
        send_code(account, "enrol", current.session.id, method)


# -- recovery and changes -------------------------------------------------------------------------


def _password_fingerprint(account: Account) -> str:
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:16]


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
        account.failed_passwords = 0
        end_other_sessions(account.id, None, "password reset")
        audit.record("auth.password_reset", actor_id=account.id, actor_role="self")
        security_alert(
            account,
            _l("The password of your account was changed through the recovery link. All sessions were ended."),
        )
        return True


def _reauthenticated(current: Current, password: str, action: str) -> Account | None:
    """The account, re-read under the write lock, if ``password`` is its current password;
    otherwise None, with the failed attempt audited. Changing credentials always asks for it."""
    account = db.session.get(Account, current.account.id)
    if passwords.verify_password(account.password_hash, password):
        return account
    audit.record(action, actor_id=account.id, outcome="failure", reason="wrong password")
    return None


def is_fresh(current: Current) -> bool:
    """The password was entered in this session within the last FRESH_AUTH_MINUTES minutes."""
    entered = aware(current.session.authenticated_at)
    limit = timedelta(minutes=current_app.config["FRESH_AUTH_MINUTES"])
    return entered is not None and now() - entered <= limit


def reauthenticate(current: Current, password: str) -> bool:
    """Step-up before a sensitive operation (SECURITY.md check 20): the right password renews the
    session's authentication time; a wrong one is audited and changes nothing."""
    with write_transaction():
        account = _reauthenticated(current, password, "auth.reauthenticated")
        if account is None:
            return False
        row = db.session.get(ServerSession, current.session.id)
        row.authenticated_at = current.session.authenticated_at = now()
        audit.record("auth.reauthenticated", actor_id=account.id, actor_role="self")
        return True


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
    with write_transaction():
        account = _reauthenticated(current, current_password, "auth.phone_change_requested")
        if account is None:
            return False
        phone = normalise_phone(new_phone)
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
