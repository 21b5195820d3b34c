"""Demo mode (PORTAL_DEMO_MODE, refused in production): the one-click sign-in list, the demo
sign-in and the demo accounts' authenticator codes. Imported only by the demo-mode views, and only
when demo mode is on."""

from __future__ import annotations

from sqlalchemy import select

from portal import crypto
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.demodata.people import PEOPLE, email_of
from portal.paging import MAX_ID


def _demo_accounts() -> list[Account]:
    emails = [email_of(p) for p in PEOPLE]
    found = {a.email: a for a in db.session.scalars(select(Account).where(Account.email.in_(emails)))}
    return [found[e] for e in emails if e in found]


def demo_sign_in_list() -> list[dict]:
    labels = {email_of(p): p.role_label for p in PEOPLE}
    return [
        {"id": a.id, "label": f"{a.surname} {a.name[0]}. {a.patronymic[0]}. — {labels[a.email]}"}
        for a in _demo_accounts()
    ]


def demo_session(account_id: int | None, ip: str | None, user_agent: str | None) -> str | None:
    """One click instead of the password, for a demo account only; the second factor still applies
    (its code is on the demo outbox page)."""
    from portal.audit import service as audit
    from portal.auth import service

    with write_transaction():
        account = db.session.get(Account, account_id) if account_id and 0 < account_id <= MAX_ID else None
        if account is None or account.email not in {email_of(p) for p in PEOPLE}:
            return None
        stage = service.first_stage(account)
        token, row = service.start_session(account, stage, ip, user_agent)
        if stage == "password" and account.second_factor in ("sms", "email"):
            service.send_code(account, "sign_in", row.id, account.second_factor)
        audit.record("auth.password_accepted", actor_id=account.id, actor_role="self", reason="demo sign-in")
        return token


def demo_totp_secrets() -> list[tuple[str, str]]:
    out = []
    for account in _demo_accounts():
        if account.second_factor == "totp" and account.totp_secret_encrypted:
            secret = crypto.decrypt(account.totp_secret_encrypted, f"totp:{account.id}").decode()
            out.append((f"{account.surname} {account.name}", secret))
    return out
