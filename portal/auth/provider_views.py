"""The routes every sign-in provider shares: start, callback, and the signed-in page where an account
links and unlinks its providers.

``start`` is a POST (a button, with the CSRF token), so no other site can start a sign-in in the
visitor's name. It keeps one pending flow in the session: the provider, a random ``state``, what the
provider needs again (nonce, PKCE verifier), where to go after (a checked ``next``) and whether it
signs in or links to the signed-in account. The callback takes the flow out of the session before
anything else, so a replayed callback (or a second tab's) finds none.
"""

from __future__ import annotations

import hmac
import time
import uuid

from flask import abort, current_app, redirect, request, session, url_for
from flask_babel import gettext as _

from portal.access import public, signed_in_without_consent
from portal.audit import service as audit
from portal.auth import identity, service, sessions
from portal.database import write_transaction
from portal.extensions import limiter
from portal.plugin_api import Blueprint, ProviderError
from portal.rendering import render, safe_next

bp = Blueprint("providers", __name__, url_prefix="/auth/provider", template_folder="templates")

FLOW_KEY = "provider_flow"
FLOW_SECONDS = 600  # a sign-in left at the provider longer than this starts again

VERIFIED = {
    "verified": lambda label: _(
        "%(provider)s confirmed your identity: your account is verified and linked to your medical card.",
        provider=label,
    ),
    "other_snils": lambda label: _(
        "The SNILS at %(provider)s is not the one of this account, so your identity is not confirmed by it. "
        "Send your documents for verification instead.",
        provider=label,
    ),
    "no_card": lambda label: _(
        "%(provider)s confirmed your SNILS, but no medical card with it is registered yet. "
        "Ask your clinic's registry to register you; then link again or send your documents for verification.",
        provider=label,
    ),
    "card_taken": lambda label: _(
        "The medical card with your SNILS is already linked to another account. "
        "Call the support service or come to your clinic's registry with your passport.",
        provider=label,
    ),
}


def provider_or_404(name: str):
    found = identity.providers().get(name)
    if found is None:
        abort(404)
    return found


def callback_url(name: str) -> str:
    """The address registered at the provider: from BASE_URL, never from the request's Host."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for("providers.callback", name=name)


@bp.post("/<name>/start")
@public  # reviewed: it only sends the visitor to the provider; a signed-in visitor links their own account
@limiter.limit("20/minute")
def start(name: str):
    provider = provider_or_404(name)
    found = sessions.current()
    linking = found is not None and found.session.stage == "complete"
    if linking and not service.is_fresh(found):
        # A new way into the account is a credential change (SECURITY.md check 20).
        return redirect(url_for("auth.reauthenticate", next=url_for("providers.linked")), code=303)
    state = str(uuid.uuid4())  # 122 random bits, in the UUID form ESIA requires of every state
    try:
        authorization = provider.start(callback_url(name), state)
    except ProviderError as error:
        return failure(error.message, f"{name}: {error.reason}")
    session[FLOW_KEY] = {
        "provider": name,
        "state": state,
        "kept": authorization.kept,
        "next": safe_next(request.form.get("next"), url_for("web.home")),
        "account": found.account.id if linking else None,
        "at": int(time.time()),
    }
    return redirect(authorization.url, code=303)


@bp.get("/<name>/callback")
@public  # reviewed: answers only the flow this browser started (its state, kept in its session)
@limiter.limit("20/minute")
def callback(name: str):
    provider = provider_or_404(name)
    flow = session.pop(FLOW_KEY, None)
    state = request.args.get("state", "")
    if (
        not flow
        or flow["provider"] != name
        or not hmac.compare_digest(flow["state"].encode(), state.encode())
        or time.time() - flow["at"] > FLOW_SECONDS
    ):
        return failure(
            _("This sign-in was not started here or has expired. Start again from the sign-in page."),
            f"{name}: no matching flow",
        )
    try:
        person = provider.finish(callback_url(name), request.args.to_dict(), flow["kept"])
    except ProviderError as error:
        return failure(error.message, f"{name}: {error.reason}")
    if flow["account"] is not None:
        return finish_linking(provider, flow["account"], person)
    return finish_sign_in(provider, person, flow["next"])


def finish_sign_in(provider, person, target: str):
    result = identity.sign_in(provider.name, person, request.remote_addr, request.headers.get("User-Agent"))
    if result.outcome == "unknown":
        return render("auth/provider_unknown.html", provider=provider, advice=person.advice)
    if result.outcome == "locked":
        return failure(
            _("Sign-in to this account is paused after several wrong attempts. Try again in 15 minutes."),
            None,
            status=429,
        )
    sessions.begin(result.token)  # a new cookie: nothing from before the sign-in survives
    if result.stage == "enrol":
        return redirect(url_for("auth.enrol"), code=303)
    session["after_sign_in"] = target
    return redirect(url_for("auth.second_factor"), code=303)


def finish_linking(provider, account_id: int, person):
    found = sessions.current()
    if found is None or found.session.stage != "complete" or found.account.id != account_id:
        return failure(_("You are no longer signed in to the account this was for. Sign in and start again."), None)
    result = identity.link(account_id, provider.name, person)
    if result.outcome == "taken":
        return failure(
            _(
                "This %(provider)s identity is already linked to another Medkarta account. "
                "Sign in to that account and unlink it there first.",
                provider=provider.label,
            ),
            None,
            status=409,
        )
    verified = VERIFIED[result.verified](provider.label) if result.verified in VERIFIED else None
    return render(
        "auth/provider_linked.html",
        provider=provider,
        verified=verified,
        advice=None if result.verified in ("verified", "already") else person.advice,
    )


def failure(message: str, reason: str | None, status: int = 400):
    if reason is not None:
        with write_transaction():
            audit.record("auth.provider_sign_in", outcome="failure", reason=reason[:200])
    return render("auth/provider_failed.html", message=message, status=status)


@bp.get("/")
@signed_in_without_consent
def linked():
    found = sessions.current()
    links, providers = identity.links_of(found.account.id), identity.providers().values()
    return identity.allow_forms_to(render("auth/providers.html", providers=providers, links=links), providers)


@bp.post("/<name>/unlink")
@signed_in_without_consent
def unlink(name: str):
    provider_or_404(name)
    found = sessions.current()
    if not identity.unlink(found.account.id, name):
        abort(404)
    return redirect(url_for("providers.linked", unlinked=name), code=303)
