"""Access control: the only place that decides who may see what.

Every endpoint declares its requirement with one of the decorators below; ``tests/test_routes.py``
fails the build for a route that does not. ``policy.py`` answers the medical-data question
("may this actor do this to this patient's section?"); the decorators here answer "who is
asking, and have they finished signing in?".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

F = TypeVar("F", bound=Callable)

REQUIREMENT = "_portal_access"

PUBLIC = "public"
SIGNED_IN = "signed in"
SIGNED_IN_WITHOUT_CONSENT = "signed in, consent not needed"
SECOND_FACTOR_PENDING = "password accepted, second factor pending"
ENROLLING = "enrolling a phone or second factor"


def requirement(view: Callable) -> str | None:
    return getattr(view, REQUIREMENT, None)


def public(view: F) -> F:
    """Reviewed and public: the view shows no personal or medical data."""
    setattr(view, REQUIREMENT, PUBLIC)
    return view


def is_public(view: Callable) -> bool:
    return requirement(view) == PUBLIC


def _page_redirect(target: str, htmx_status: int) -> Response:
    """303 to ``target``; an htmx request gets HX-Redirect instead, so the whole page goes there
    rather than a fragment being swapped in."""
    if getattr(request, "htmx", False):
        response = Response("", htmx_status)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def to_sign_in() -> Response:
    """Send an anonymous or half-signed-in visitor to sign in; htmx gets a full-page redirect."""
    target = url_for("auth.sign_in", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    return _page_redirect(target, 401)


def _guard(kind: str, check: Callable[[], Response | None]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args, **kwargs):
            refused = check()
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        setattr(wrapper, REQUIREMENT, kind)
        return wrapper  # type: ignore[return-value]

    return decorator


def _session(stages: tuple[str, ...]):
    from portal.auth.sessions import current

    found = current()
    if found is None or found.session.stage not in stages:
        return None
    g.account = found.account
    return found


def _need_complete(consent: bool) -> Response | None:
    from portal.auth.service import needs_enrolment

    found = _session(("complete",))
    if found is None:
        if _session(("enrol",)) is not None:
            return redirect(url_for("auth.enrol"), code=303)
        return to_sign_in()
    if needs_enrolment(found.account):
        return redirect(url_for("auth.enrol"), code=303)
    # The consent came with the session (one query; consent.service.account_has_consent's answer).
    if consent and not found.account.is_staff and found.consent != "given":
        return redirect(url_for("consent.show"), code=303)
    return None


def signed_in(view: F) -> F:
    """Password and second factor done, enrolment finished, and (for a citizen with a card)
    consent to processing given."""
    return _guard(SIGNED_IN, lambda: _need_complete(consent=True))(view)


def signed_in_without_consent(view: F) -> F:
    """As ``signed_in``, for the pages a citizen reaches before consenting: consent, profile,
    security, sessions, identity verification and sign-out."""
    return _guard(SIGNED_IN_WITHOUT_CONSENT, lambda: _need_complete(consent=False))(view)


def second_factor_pending(view: F) -> F:
    """Only between a correct password and the second factor."""
    return _guard(SECOND_FACTOR_PENDING, lambda: None if _session(("password",)) else to_sign_in())(view)


def enrolling(view: F) -> F:
    """Confirming the phone and choosing a second factor: after the password, before the card."""
    return _guard(ENROLLING, lambda: None if _session(("enrol", "complete")) else to_sign_in())(view)


def staff(*roles: str) -> Callable[[F], F]:
    """A fully signed-in staff member holding one of ``roles``; anyone else gets 404."""

    def check() -> Response | None:
        refused = _need_complete(consent=False)
        if refused is not None:
            return refused
        if not (g.account.roles & set(roles)):
            abort(404)
        return None

    return _guard(f"staff: {', '.join(roles)}", check)


def confirm_password_first(cancel: str) -> Response | None:
    """Step-up authentication for the operations SECURITY.md check 20 names that have no
    confirmation of their own (an export of the whole card): when the password was entered longer
    ago than FRESH_AUTH_MINUTES, send the person to enter it again and come back here. Call it after
    the policy has allowed the operation, so that a stranger still gets 404, not a password form.
    ``cancel`` is where «Отмена» on that form leads."""
    from portal.auth.service import is_fresh
    from portal.auth.sessions import current

    found = current()
    if found is not None and is_fresh(found):
        return None
    return _page_redirect(url_for("auth.reauthenticate", next=request.full_path.rstrip("?"), cancel=cancel), 204)


def _card_reader() -> Response | None:
    refused = _need_complete(consent=True)
    if refused is None:
        from portal.auth.sessions import current
        from portal.database import keep_loaded

        # The account and session just checked are what the card's decision uses: its write
        # transaction (the audit event) need not read them again.
        keep_loaded(g.account, *g.account.memberships, current().session)
    return refused


def card(view: F) -> F:
    """A view of one patient's card (``patient_id`` in the URL). The view must call
    ``policy.require`` for the section it shows; anyone the policy refuses gets 404."""
    return _guard("card (policy.require)", _card_reader)(view)
