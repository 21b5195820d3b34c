"""Sign-in providers on the core's side: which providers there are, the links between a provider's
subject and an account, signing in by a link, and verifying an account by a SNILS the provider
vouches for. The routes are in ``provider_views``; docs/sign_in_providers.md tells the whole story.

A subject signs in only to the account it was linked to from a signed-in session (with a fresh
password): a provider's e-mail or SNILS never picks an account by itself, since an account's own
details are typed by whoever registered it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import security
from portal.audit import service as audit
from portal.auth import service
from portal.auth.models import Account, IdentityLink
from portal.consent import service as consent
from portal.database import db, write_transaction
from portal.identifiers import snils_digits
from portal.plugin_api.identity import ExternalIdentity, IdentityProvider
from portal.record.models import Patient


def providers() -> dict[str, IdentityProvider]:
    """The enabled providers by name, in registration order (the core's OpenID Connect ones first)."""
    found: dict[str, IdentityProvider] = {}
    for provider in current_app.extensions["portal.plugins"].collect("identity_providers"):
        found.setdefault(provider.name, provider)
    return found


def allow_forms_to(response: Response, shown: Iterable[IdentityProvider]) -> Response:
    """Let the page's buttons lead to the providers: its CSP ``form-action`` names their origins
    beside 'self' (Chromium checks the redirect after the button's POST against it)."""
    origins = sorted({provider.origin for provider in shown if provider.origin})
    if origins:
        extended = security.CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(origins))
        response.headers["Content-Security-Policy"] = extended
    return response


def links_of(account_id: int) -> dict[str, IdentityLink]:
    rows = db.session.scalars(select(IdentityLink).where(IdentityLink.account_id == account_id))
    return {row.provider: row for row in rows}


@dataclass(frozen=True)
class SignIn:
    outcome: str  # "ok", "unknown" (no account has this subject), "locked"
    token: str | None = None
    stage: str | None = None
    verified: str | None = None  # what ``verify`` said, when the provider vouched for a SNILS


def sign_in(provider: str, identity: ExternalIdentity, ip: str | None, user_agent: str | None) -> SignIn:
    """Sign in to the account linked to the subject. The provider stands for the password only:
    the account's second factor is asked next, as after a password (``service.first_stage``)."""
    with write_transaction():
        link = db.session.scalar(
            select(IdentityLink).where(IdentityLink.provider == provider, IdentityLink.subject == identity.subject)
        )
        account = db.session.get(Account, link.account_id) if link is not None else None
        if account is None or not account.is_active:
            audit.record("auth.provider_sign_in", outcome="failure", reason=f"{provider}: unknown subject")
            return SignIn("unknown")
        if service.is_locked(account):
            audit.record("auth.provider_sign_in", actor_id=account.id, outcome="failure", reason=f"{provider}: paused")
            return SignIn("locked")
        link.last_used_at = service.now()
        verified = verify(account, identity.snils, provider) if identity.snils else None
        stage = service.first_stage(account)
        token, row = service.start_session(account, stage, ip, user_agent)
        if stage == "password" and account.second_factor in ("sms", "email"):
            service.send_code(account, "sign_in", row.id, account.second_factor)
        audit.record("auth.provider_sign_in", actor_id=account.id, actor_role="self", reason=provider)
        return SignIn("ok", token, stage, verified)


@dataclass(frozen=True)
class Linked:
    outcome: str  # "linked", "already" (this account, this subject), "taken" (another account's)
    verified: str | None = None


LINKED_NOTICE = _l("A sign-in service was linked to your Medkarta account: you can now sign in with it.")
UNLINKED_NOTICE = _l("A sign-in service was unlinked from your Medkarta account.")


def link(account_id: int, provider: str, identity: ExternalIdentity) -> Linked:
    """Link the subject to the account (replacing the account's former identity at this provider),
    unless it belongs to another account; then verify by the provider's SNILS, if it gave one."""
    with write_transaction():
        account = db.session.get(Account, account_id)
        existing = db.session.scalar(
            select(IdentityLink).where(IdentityLink.provider == provider, IdentityLink.subject == identity.subject)
        )
        if existing is not None and existing.account_id != account.id:
            audit.record("auth.provider_linked", actor_id=account.id, outcome="failure", reason=f"{provider}: taken")
            return Linked("taken")
        outcome = "already"
        if existing is None:
            former = links_of(account.id).get(provider)
            if former is not None:
                db.session.delete(former)
                db.session.flush()
            db.session.add(IdentityLink(account_id=account.id, provider=provider, subject=identity.subject))
            audit.record("auth.provider_linked", actor_id=account.id, actor_role="self", reason=provider)
            service.security_alert(account, LINKED_NOTICE)
            outcome = "linked"
        verified = verify(account, identity.snils, provider) if identity.snils else None
        return Linked(outcome, verified)


def unlink(account_id: int, provider: str) -> bool:
    with write_transaction():
        row = links_of(account_id).get(provider)
        if row is None:
            return False
        db.session.delete(row)
        account = db.session.get(Account, account_id)
        audit.record("auth.provider_unlinked", actor_id=account.id, actor_role="self", reason=provider)
        service.security_alert(account, UNLINKED_NOTICE)
        return True


def verify(account: Account, snils: str, provider: str) -> str:
    """Verify the account by a SNILS the provider confirmed, as a registrar would (linking the card
    with that SNILS), in the caller's write transaction. Returns "verified", "already", or why not:
    "other_snils" (not the account's own SNILS), "no_card" (no card has it), "card_taken" (the card
    is another account's)."""
    digits = snils_digits(snils)
    if account.verification_status == "verified" and account.patient_id is not None:
        return "already"
    if digits is None or digits != account.snils:
        outcome = "other_snils"
    else:
        card = db.session.scalar(select(Patient).where(Patient.snils == digits))
        if card is None:
            outcome = "no_card"
        elif db.session.scalar(select(Account.id).where(Account.patient_id == card.id, Account.id != account.id)):
            outcome = "card_taken"
        else:
            account.patient_id = card.id
            consent.carry_over(account, card.id)
            account.verification_status, account.verification_reason = "verified", None
            audit.record(
                "verification.approved",
                actor_id=account.id,
                actor_role="self",
                patient_id=card.id,
                object_type="account",
                object_id=account.id,
                reason=f"confirmed by {provider}",
            )
            return "verified"
    audit.record("verification.by_provider", actor_id=account.id, outcome="failure", reason=f"{provider}: {outcome}")
    return outcome
