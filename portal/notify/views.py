from __future__ import annotations

import pyotp
from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import paging
from portal.access import public, signed_in, signed_in_without_consent
from portal.database import db, write_transaction
from portal.notify import inbox
from portal.notify.models import OutboxMessage
from portal.notify.service import available_channels
from portal.rendering import render, safe_next, wants_fragment
from portal.web.forms import ConfirmForm

bp = Blueprint("notify", __name__, template_folder="templates")


@bp.get("/demo/outbox")
@public  # reviewed: 404 unless DEMO_MODE (refused in production); shows only made-up demo people
def outbox():
    if not current_app.config["DEMO_MODE"]:
        abort(404)
    from portal.demodata.demo_mode import demo_totp_secrets

    messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(30)))
    totp = [(label, pyotp.TOTP(secret).now()) for label, secret in demo_totp_secrets()]
    return render("notify/outbox.html", messages=messages, totp=totp)


# -- the inbox -------------------------------------------------------------------------------------
# Nothing changes on GET. Marking read, "done" and "dismiss" are POST forms (htmx-enhanced: the list
# is swapped, the header count updated out of band and the change announced). Opening a message
# is a small POST form too: it marks the message read and answers 303 to where it leads, so one
# click does both, without JavaScript and without a GET that changes state.


def _before() -> int | None:
    return paging.page_key("before")


@bp.before_request
def _page_key_first() -> None:
    """A damaged page key is refused (400) before a message is marked, not after."""
    _before()


def _inbox_page(announce: str | None = None, focus: int | None = None):
    before = _before()
    reminders = inbox.open_reminders(g.account.id) if before is None else []
    notes, older = inbox.page_of(g.account.id, before)
    return render(
        "notify/inbox.html",
        fragment="inbox",
        reminders=reminders,
        notes=notes,
        older=older,
        before=before,
        announce=announce,
        focus=focus,
        oob=wants_fragment(),
    )


def _after_change(done: str, focus: int | None = None):
    """htmx: the list again, with the change announced. Without JavaScript: back to the list."""
    if wants_fragment():
        return _inbox_page(str(DONE[done]), focus)
    return redirect(url_for("notify.inbox", before=_before(), done=done), code=303)


def _own(notification_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    note = inbox.owned(g.account.id, notification_id)
    if note is None:
        abort(404)
    return note


DONE = {
    "read": _l("Marked as read."),
    "all": _l("All notifications are marked as read."),
    "done": _l("Marked as done. We will not remind you again."),
    "dismissed": _l("We will not remind you again."),
}


@bp.get("/notifications", endpoint="inbox")
@signed_in
def inbox_page():
    done = DONE.get(request.args.get("done", ""))
    return _inbox_page(str(done) if done else None)


@bp.post("/notifications/<int:notification_id>/read")
@signed_in
def mark_read(notification_id: int):
    with write_transaction():
        inbox.mark_read(_own(notification_id))
    return _after_change("read", notification_id)


@bp.post("/notifications/read-all")
@signed_in
def mark_all_read():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    with write_transaction():
        inbox.mark_all_read(g.account.id)
    return _after_change("all")


@bp.post("/notifications/<int:notification_id>/open")
@signed_in
def open_notification(notification_id: int):
    with write_transaction():
        note = _own(notification_id)
        inbox.mark_read(note)
    return redirect(safe_next(note.url, url_for("notify.inbox")), code=303)


@bp.post("/notifications/<int:notification_id>/<any(done, dismissed):how>")
@signed_in
def close_reminder(notification_id: int, how: str):
    with write_transaction():
        note = _own(notification_id)
        if note.remind_at is None:
            abort(404)
        inbox.close_reminder(note, how)
    return _after_change(how)


# -- preferences -----------------------------------------------------------------------------------


@bp.route("/notifications/settings", methods=["GET", "POST"])
@signed_in_without_consent
def settings():
    sms_available = "sms" in available_channels()
    offered = ("portal", "email", "sms") if sms_available else ("portal", "email")
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        enabled = {
            (event, channel) for event in inbox.EVENTS for channel in offered if request.form.get(f"{event}-{channel}")
        }
        with write_transaction():
            inbox.save_preferences(g.account.id, enabled, offered)
        return redirect(url_for("notify.settings", saved=1), code=303)
    return render(
        "notify/settings.html",
        chosen=inbox.preferences(g.account.id),
        events=inbox.EVENT_LABELS,
        sms_available=sms_available,
    )
