"""The auditor's pages (/audit): the organisation's events (a GET search, bookmarkable, with CSV and
JSON exports), the review of its emergency accesses, and the check of the log. Every route is for
an auditor only (``staff("auditor")``) and names the organisation, which ``policy.decide_audit``
decides: another organisation's pages, events, reviews and exports answer 404."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from portal import clock, uploads
from portal.access import staff
from portal.auditor import chain, export, reviews
from portal.auditor import service as auditing
from portal.auditor.forms import EventSearch, ReviewForm
from portal.auditor.kinds import BASES, OUTCOMES, ROLES, action_label
from portal.extensions import limiter
from portal.identifiers import snils_digits
from portal.paging import page_key
from portal.record.sections import LABELS
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("auditor", __name__, url_prefix="/audit", template_folder="templates")

NOBODY = _l("Nobody on this organisation's staff has this name or login")
WORDS = {
    "bases": BASES,
    "outcomes": OUTCOMES,
    "roles": ROLES,
    "sections": LABELS,
    "action_label": action_label,
}


def _organisation(organisation_id: int):
    try:
        return auditing.organisation_for(g.account, organisation_id)
    except LookupError:
        abort(404)


def _workspace(template: str, organisation, *, status: int = 200, **context):
    """A page of the workspace: its organisation, and how many emergency accesses wait."""
    return render(
        template,
        organisation=organisation,
        pending=auditing.pending_reviews(organisation.id),
        status=status,
        **WORDS,
        **context,
    )


@bp.get("")
@staff("auditor")
def choose():
    """The organisations this auditor audits: with one, straight to its events."""
    organisations = auditing.organisations_of(g.account)
    if len(organisations) == 1:
        return redirect(url_for("auditor.events", organisation_id=organisations[0].id), code=303)
    if not organisations:
        abort(404)
    return render("auditor/choose.html", organisations=organisations)


def _criteria(organisation_id: int, form: EventSearch) -> auditing.Criteria | None:
    """The search the form asks for, or None when it has errors (a person nobody in the
    organisation is called is one, on its field)."""
    if not form.validate():
        return None
    person = (form.person.data or "").strip()
    people = auditing.staff_matching(organisation_id, person) if person else None
    if people == ():
        form.person.errors = [str(NOBODY)]
        return None
    return auditing.Criteria(
        person_ids=people,
        snils=snils_digits(form.snils.data) if form.snils.data else None,
        kind=form.action.data or None,
        since=form.since_date(),
        until=form.until_date(),
    )


def _described(form: EventSearch) -> str:
    """The search in the audit event's reason: the filters as typed (the SNILS is the event's
    patient)."""
    filters = {name: value for name, value in form.filters().items() if name != "snils"}
    return "; ".join(f"{name}={value}" for name, value in sorted(filters.items())) or "everything"


@bp.get("/<int:organisation_id>")
@staff("auditor")
def events(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = EventSearch(request.args)
    criteria = _criteria(organisation.id, form)
    found = None
    if criteria is not None:
        if criteria.snils:
            auditing.record_search(g.account, organisation.id, "audit.searched", criteria, _described(form))
        found = auditing.search(organisation.id, criteria, form.before.data)
    return _workspace(
        "auditor/events.html",
        organisation,
        form=form,
        found=found,
        filters=form.filters(),
        status=200 if criteria is not None else 400,
    )


@bp.get("/<int:organisation_id>/events.<any(csv, json):extension>")
@staff("auditor")
@limiter.limit("30/hour")
def export_events(organisation_id: int, extension: str):
    """The search's events as a file, streamed; the export is audited first."""
    organisation = _organisation(organisation_id)
    form = EventSearch(request.args)
    criteria = _criteria(organisation.id, form)
    if criteria is None:
        return _workspace("auditor/events.html", organisation, form=form, found=None, filters={}, status=400)
    auditing.record_search(g.account, organisation.id, "audit.exported", criteria, f"{extension}; {_described(form)}")
    lines = auditing.every_line(organisation.id, criteria)
    since = criteria.since.isoformat() if criteria.since else None
    until = criteria.until.isoformat() if criteria.until else None
    name = export.filename(organisation.oid, since, until, extension)
    if extension == "csv":
        body, mimetype = export.csv_stream(lines), "text/csv; charset=utf-8"
    else:
        head = {
            "organisation": {"id": organisation.id, "oid": organisation.oid, "name": organisation.name},
            "filters": form.filters(),
            "exported_at": clock.now().isoformat(),
        }
        body, mimetype = export.json_stream(head, lines), "application/json"
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return uploads.download(export.streamed(app, body), name, mimetype)  # type: ignore[arg-type] (streamed)


# -- emergency accesses ---------------------------------------------------------------------------


@bp.get("/<int:organisation_id>/emergencies")
@staff("auditor")
def emergencies(organisation_id: int):
    organisation = _organisation(organisation_id)
    found = reviews.queue(organisation.id, page_key("before"))
    return _workspace("auditor/emergencies.html", organisation, queue=found, done=request.args.get("done"))


def _emergency_page(organisation, access_id: int, form: ReviewForm | None = None, status: int = 200, taken=False):
    try:
        access = reviews.one(organisation.id, access_id)
    except LookupError:
        abort(404)
    return _workspace(
        "auditor/emergency.html",
        organisation,
        access=access,
        form=form or ReviewForm(),
        taken=taken,
        status=status,
    )


# One rule for the page and its form: a GET rule and a POST rule on the same path made Werkzeug
# answer 405 rather than 404 to a POST whose id no row can have (tests/test_ids_and_page_keys.py).
@bp.route("/<int:organisation_id>/emergencies/<int:access_id>", methods=["GET", "POST"])
@staff("auditor")
def emergency(organisation_id: int, access_id: int):
    if request.method == "POST":
        return _decide(organisation_id, access_id)
    return _emergency_page(_organisation(organisation_id), access_id)


def _decide(organisation_id: int, access_id: int):
    organisation = _organisation(organisation_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _emergency_page(organisation, access_id, form, status=400)
    try:
        reviews.decide(g.account, organisation.id, access_id, form.decision.data, form.note.data)
    except LookupError:
        abort(404)
    except reviews.AlreadyDecided:
        return _emergency_page(organisation, access_id, form, status=409, taken=True)
    return redirect(url_for("auditor.emergencies", organisation_id=organisation.id, done=form.decision.data), code=303)


# -- the check of the log -------------------------------------------------------------------------


@bp.route("/<int:organisation_id>/check", methods=["GET", "POST"])
@staff("auditor")
@limiter.limit("10/hour", methods=["POST"])
def check(organisation_id: int):
    if request.method == "POST":
        return _run_check(organisation_id)
    organisation = _organisation(organisation_id)
    return _workspace(
        "auditor/check.html",
        organisation,
        last=chain.last_run(organisation.id),
        running=chain.running(organisation.id),
        confirm=ConfirmForm(),
        done=request.args.get("done") == "1",
    )


def _run_check(organisation_id: int):
    """Ask for a run (a background job: the check reads the whole log); the page then polls."""
    organisation = _organisation(organisation_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    chain.request_check(g.account, organisation.id)
    return redirect(url_for("auditor.check", organisation_id=organisation.id), code=303)


@bp.get("/<int:organisation_id>/check/status")
@staff("auditor")
@limiter.limit("90/minute")
def check_status(organisation_id: int):
    """What the check's page polls while a run is going: 204 until it has finished, then the
    fragment that says so, with the way to its result."""
    organisation = _organisation(organisation_id)
    if chain.running(organisation.id):
        return Response(status=204)
    response = render("auditor/_check_state.html", organisation=organisation)
    response.headers["Cache-Control"] = "no-store"
    return response
