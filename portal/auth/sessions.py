"""Who is asking: the server-side session behind the cookie, loaded once per request.

The cookie (Flask's signed session) carries only a random token; the session row decides. So
signing out, "sign out everywhere", a password change or a disabled account end a copied cookie
too. Flask-Login sees only fully signed-in accounts (password and second factor).
"""

from __future__ import annotations

from flask import Flask, current_app, g, request, session
from flask_login import LoginManager
from werkzeug.wrappers import Response

from portal.auth import service

SESSION_KEY = "sid"
login_manager = LoginManager()


def current() -> service.Current | None:
    """The live session of this request (any stage), or None."""
    if "portal_current" not in g:
        g.portal_current = service.load_session(session.get(SESSION_KEY))
        if g.portal_current is None and SESSION_KEY in session:
            session.pop(SESSION_KEY)
        elif g.portal_current is not None:
            service.touch(g.portal_current)  # activity keeps the session alive
    return g.portal_current


def account_if_signed_in():
    found = current()
    return found.account if found and found.session.stage == "complete" else None


# What a sign-in carries over: the staff invitation link opened before signing in, so that the
# invitee comes back to accept it (it is bound to its e-mail, so a planted one can do nothing).
CARRIED = ("invitation_token",)


def begin(token: str) -> None:
    """Rotate the cookie at sign-in: nothing from before (CSRF token included) survives, but
    ``CARRIED``."""
    carried = {key: session[key] for key in CARRIED if key in session}
    session.clear()
    session.update(carried)
    session[SESSION_KEY] = token
    g.pop("portal_current", None)


def renew(token: str) -> None:
    """Rotate the cookie after a rise in privilege (step-up, emergency access) to the new session
    ``token``: what the session holds stays, the CSRF token does not."""
    kept = {key: value for key, value in session.items() if key not in (SESSION_KEY, "csrf_token")}
    session.clear()
    session.update(kept)
    session[SESSION_KEY] = token
    g.pop("portal_current", None)


def device_cookie_name() -> str:
    return "__Host-device" if current_app.config["SESSION_COOKIE_SECURE"] else "device"


def device_tokens() -> list[str]:
    """The device-cookie tokens this browser carries: one per account it signed in to."""
    raw = request.cookies.get(device_cookie_name(), "")
    return [t for t in raw.split(".") if t][: service.MAX_DEVICES_PER_COOKIE]


def remember_device(response: Response, token: str | None) -> Response:
    """Add a new device token to the browser's device cookie (OWASP's device-cookie pattern): the
    next sign-ins from here are not paused by wrong passwords typed elsewhere."""
    if token:
        tokens = [token] + [t for t in device_tokens() if t != token]
        response.set_cookie(
            device_cookie_name(),
            ".".join(tokens[: service.MAX_DEVICES_PER_COOKIE]),
            max_age=service.DEVICE_DAYS * 24 * 3600,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
            path="/",
        )
    return response


def forget() -> None:
    session.clear()
    g.pop("portal_current", None)


def init_app(app: Flask) -> None:
    # Templates use ``page.user``, not Flask-Login's ``current_user``. And the portal never uses a
    # remember-me cookie (the server session is the session), so Flask-Login's after-request hook,
    # which only looks into the session for one, goes: it marked every response, assets included,
    # as depending on the cookie (``Vary: Cookie``) and opened the session for nothing.
    login_manager.init_app(app, add_context_processor=False)
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    login_manager.request_loader(lambda _request: account_if_signed_in())
    login_manager.user_loader(lambda _id: None)  # never from the cookie alone: see request_loader
    login_manager.session_protection = None  # the server-side session is the protection
