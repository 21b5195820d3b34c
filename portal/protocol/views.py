"""The visit protocol's pages, reached from the doctor's day: the form (GET and POST on one
address: save the draft, add a diagnosis row, search a code without JavaScript, ask to sign), the
autosave endpoint htmx posts to, and signing after the confirmation. The doctor of the
appointment only; anyone else, 404."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import format_time
from flask_babel import gettext as _

from portal import clock
from portal.access import staff
from portal.mkb10 import search as book
from portal.protocol import service
from portal.protocol.forms import ProtocolForm, typed_of
from portal.protocol.service import KINDS, MAX_ROWS, TEXTS, VERIFICATIONS, Row
from portal.rendering import render, wants_fragment

bp = Blueprint("protocol", __name__, template_folder="templates")

TEMPLATE = "protocol/edit.html"


def _opened(appointment_id: int) -> service.Opened:
    try:
        return service.open_protocol(g.account, appointment_id)
    except LookupError:
        abort(404)


def _page(opened: service.Opened, form: ProtocolForm, rows: list[Row], *, status: int = 200, **more):
    return render(TEMPLATE, status=status, **_context(opened, form, rows, **more))


def _action() -> str:
    """The button pressed: «action» (save, add, sign), or a row's search («search-N») or choice
    («pick-N», the code as its value) without JavaScript."""
    for name, value in request.form.items():
        if name.startswith("search-"):
            return name
        if name.startswith("pick-"):
            return f"{name}:{value}"
    return request.form.get("action", "save")


@bp.route("/doctor/appointments/<int:appointment_id>/protocol", methods=["GET", "POST"])
@staff("doctor")
def edit(appointment_id: int):
    opened = _opened(appointment_id)
    form = ProtocolForm()
    if opened.draft is not None and opened.draft.signed_at is not None:
        return _page(opened, form, [], signed=True, done=request.args.get("done"))
    if request.method == "GET":
        typed = service.Typed.of(opened.draft)
        form.fill(typed, opened.version)
        return _page(opened, form, typed.rows, saved=request.args.get("done"))
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(opened, form, typed_of(form, request.form).rows, status=400)
    typed = typed_of(form, request.form)
    action = _action()
    added = None
    if action == "add":
        if len(typed.rows) < MAX_ROWS:
            typed.rows.append(Row(kind="concomitant"))
            added = len(typed.rows) - 1
        if wants_fragment():
            return render(TEMPLATE, fragment="diagnoses", **_context(opened, form, typed.rows, added=added))
        return _page(opened, form, typed.rows, added=added)
    if action.startswith("search-") or action.startswith("pick-"):
        return _row_search(opened, form, typed, action)
    if action == "sign":
        errors, _diagnoses = service.check(typed)
        if errors:
            return _page(opened, form, typed.rows, errors=errors, status=400)
    try:
        version = service.save_draft(g.account, appointment_id, typed, form.typed_version())
    except LookupError:
        abort(404)
    except service.AlreadySigned:
        return redirect(url_for("protocol.edit", appointment_id=appointment_id), code=303)
    except service.Stale as stale:
        form.version.data = str(stale.version)  # the next save keeps what is typed, knowingly
        return _page(opened, form, typed.rows, stale=stale, status=409)
    if action == "sign":
        form.version.data = str(version)
        return render(
            "protocol/confirm.html",
            opened=opened,
            appointment=opened.appointment,
            patient=opened.patient,
            typed=typed,
            version=version,
            kinds=KINDS,
            verifications=VERIFICATIONS,
            form=form,
        )
    return redirect(url_for("protocol.edit", appointment_id=appointment_id, done="saved"), code=303)


def _context(opened, form, rows, **more) -> dict:
    return {
        "opened": opened,
        "appointment": opened.appointment,
        "patient": opened.patient,
        "form": form,
        "rows": rows,
        "kinds": KINDS,
        "verifications": VERIFICATIONS,
        "texts": TEXTS,
        "errors": more.pop("errors", {}),
        "found": more.pop("found", {}),
        "added": more.pop("added", None),
        "max_rows": MAX_ROWS,
        "back_url": url_for("workspace.doctor_day", date=clock.local_date(opened.appointment.starts_at).isoformat()),
        **more,
    }


def _row_search(opened, form, typed: service.Typed, action: str):
    """Without JavaScript: a row's search lists the matches to choose from; a choice fills the row."""
    name, _sep, rest = action.partition("-")
    if name == "search":
        index = int(rest) if rest.isdigit() else -1
        if not 0 <= index < len(typed.rows):
            abort(400)
        row = typed.rows[index]
        row.code = ""
        found = book.search(row.text, limit=10, usable_only=True) if book.clean(row.text) else None
        return _page(opened, form, typed.rows, found={index: found} if found is not None else {}, focus=index)
    index_text, _sep, code = rest.partition(":")
    index = int(index_text) if index_text.isdigit() else -1
    chosen = book.find(code)
    if not 0 <= index < len(typed.rows) or chosen is None:
        abort(400)
    typed.rows[index].code, typed.rows[index].text = chosen.code, f"{chosen.code} {chosen.title}"
    return _page(opened, form, typed.rows, focus=index)


@bp.post("/doctor/appointments/<int:appointment_id>/protocol/draft")
@staff("doctor")
def draft(appointment_id: int):
    """The autosave (htmx, every 20 s and on leaving a field): the draft's state, or a refusal
    from a stale tab with the way to compare. Without htmx: the form's «Сохранить черновик»."""
    form = ProtocolForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return render("protocol/_status.html", problem=_("The draft is too long to keep: shorten a field."))
    typed = typed_of(form, request.form)
    try:
        version = service.save_draft(g.account, appointment_id, typed, form.typed_version())
    except LookupError:
        abort(404)
    except service.AlreadySigned:
        return render("protocol/_status.html", problem=_("The protocol is already signed."))
    except service.Stale:
        return render(
            "protocol/_status.html",
            stale=True,
            problem=_("The draft was changed in another tab. What you typed here is not saved yet."),
        )
    if not wants_fragment():
        return redirect(url_for("protocol.edit", appointment_id=appointment_id, done="saved"), code=303)
    if version == form.typed_version():
        return "", 204
    return render("protocol/_status.html", version=version, saved_at=format_time(clock.now(), "short"))


@bp.post("/doctor/appointments/<int:appointment_id>/protocol/sign")
@staff("doctor")
def sign(appointment_id: int):
    form = ProtocolForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.sign(g.account, appointment_id, form.typed_version())
    except LookupError:
        abort(404)
    except service.AlreadySigned:
        opened = _opened(appointment_id)
        return render(
            "protocol/refused.html",
            opened=opened,
            message=_("This protocol is already signed (in another tab or window). Nothing was signed twice."),
            status=409,
        )
    except service.Stale:
        opened = _opened(appointment_id)
        typed = service.Typed.of(opened.draft)
        form.fill(typed, opened.version)
        return _page(opened, form, typed.rows, changed=True, status=409)
    except service.Invalid as invalid:
        opened = _opened(appointment_id)
        typed = service.Typed.of(opened.draft)
        form.fill(typed, opened.version)
        return _page(opened, form, typed.rows, errors=invalid.errors, status=400)
    return redirect(url_for("protocol.edit", appointment_id=appointment_id, done="signed"), code=303)
