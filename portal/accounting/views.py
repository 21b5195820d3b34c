"""The accountant's pages: the report of an organisation's paid services (a GET form: its address
can be bookmarked) and its two CSV files. Every route is a staff route of the accountant; another
organisation's report or file is 404."""

from __future__ import annotations

from flask import Blueprint, abort, g, request, url_for
from flask_babel import gettext as _

from portal import clock, uploads
from portal.access import confirm_password_first, staff
from portal.accounting import service, tables
from portal.accounting.forms import GROUP_LABELS, PAYER_LABELS, ReportForm
from portal.accounting.service import AGE_GROUPS, ReportQuery
from portal.extensions import limiter
from portal.rendering import render

bp = Blueprint("accounting", __name__, url_prefix="/accounting", template_folder="templates")
# Making a file costs more than showing a page (SECURITY.md check 48), as for a card's export.
DOWNLOAD_LIMIT = "10/minute;60/hour"
CSV = "text/csv"  # Werkzeug adds «; charset=utf-8»


def _form() -> ReportForm:
    """The report's form from the address; a first visit (no arguments) gets this month so far."""
    if not request.args:
        return ReportForm.defaults(*service.default_period(clock.today()))
    return ReportForm(request.args)


def _page(form: ReportForm, organisation, mine: list, report: service.Report | None, status: int):
    return render(
        "accounting/report.html",
        form=form,
        organisation=organisation,
        others=[o for o in mine if o.id != organisation.id],
        report=report,
        table=tables.page_table(report) if report else None,
        group_label=GROUP_LABELS[report.query.group] if report else None,
        payer_label=PAYER_LABELS[report.query.payer] if report else None,
        args=form.args(),
        age_labels=[tables.AGE_LABELS[key] for key in AGE_GROUPS],
        status=status,
    )


def _report_page(organisation_id: int | None):
    """The report of the organisation asked for (by default the accountant's first by name); a form
    with errors comes back with them and what was typed (400); another organisation is 404."""
    mine = service.organisations(g.account)
    if organisation_id is None:
        if not mine:
            abort(404)
        organisation_id = mine[0].id
    form = _form()
    if not form.validate():
        organisation = next((o for o in mine if o.id == organisation_id), None)
        if organisation is None:
            abort(404)
        return _page(form, organisation, mine, None, 400)
    try:
        found = service.report(g.account, form.query(organisation_id))
    except LookupError:
        abort(404)
    return _page(form, found.organisation, mine, found, 200)


@bp.get("")
@bp.get("/<int:organisation_id>")
@staff("accountant")
def report(organisation_id: int | None = None):
    return _report_page(organisation_id)


def _valid_query(organisation_id: int) -> ReportQuery | None:
    form = ReportForm(request.args)
    return form.query(organisation_id) if form.validate() else None


def _filename(kind: str, organisation, query: ReportQuery) -> tuple[str, str]:
    """The file's name (the organisation and the period in it) and its ASCII fallback."""
    period = f"{query.since.isoformat()}_{query.until.isoformat()}"
    name = " ".join(organisation.name.translate(str.maketrans("", "", '\\/:*?"<>|')).split())
    return f"{kind} {name} {period}.csv", f"{organisation.oid}-{period}.csv"


@bp.get("/<int:organisation_id>/report.csv")
@staff("accountant")
@limiter.limit(DOWNLOAD_LIMIT)
def report_csv(organisation_id: int):
    query = _valid_query(organisation_id)
    if query is None:
        return _report_page(organisation_id)
    try:
        found = service.report(g.account, query, "accounting.report_exported")
    except LookupError:
        abort(404)
    name, fallback = _filename(_("Paid services"), found.organisation, query)
    return uploads.download(tables.report_csv(found), name, CSV, fallback=f"paid-services-{fallback}")


@bp.get("/<int:organisation_id>/services.csv")
@staff("accountant")
@limiter.limit(DOWNLOAD_LIMIT)
def services_csv(organisation_id: int):
    """Every paid service with the patient's name: personal data of many people leaves the portal,
    so once the policy allows it, the password again if it was entered too long ago."""
    query = _valid_query(organisation_id)
    if query is None:
        return _report_page(organisation_id)
    try:
        service.require(g.account, organisation_id, "accounting.services_exported")
        confirm = confirm_password_first(cancel=url_for("accounting.report", organisation_id=organisation_id))
        if confirm is not None:
            return confirm
        organisation, found = service.services(g.account, query)
    except LookupError:
        abort(404)
    name, fallback = _filename(_("Services rendered"), organisation, query)
    return uploads.download(tables.services_csv(found), name, CSV, fallback=f"services-{fallback}")
