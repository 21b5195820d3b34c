"""«Сообщить об ошибке» pages: the citizen's report form, list and request page under the card;
the registrar's queue and decision page under /clinic/corrections."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from portal import uploads
from portal.access import card, staff
from portal.clinic.forms import RejectForm
from portal.corrections import service
from portal.corrections.forms import CorrectForm, ReportForm
from portal.database import db, write_transaction
from portal.documents import service as documents
from portal.forms import choices
from portal.record.sections import LABELS
from portal.record.service import open_section
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("corrections", __name__, template_folder="templates")


@bp.app_template_filter("revision_field")
def revision_field(row) -> str:
    return service.revision_field(row)


@bp.app_template_filter("revision_value")
def revision_value(row, which: str) -> str:
    return service.revision_value(row, which)


def entry_url(patient_id: int, section: str, entry_id: int) -> str | None:
    """The page that shows the entry and its history: its own page, the insurance page for a
    policy, the document's page for a document."""
    if section == "insurance":
        return url_for("record.insurance", patient_id=patient_id)
    if section == "documents":
        return url_for("documents.document", patient_id=patient_id, document_id=entry_id)
    if "record.entry" not in current_app.view_functions:
        return None
    try:
        return url_for("record.entry", patient_id=patient_id, section=section, entry_id=entry_id)
    except (BuildError, ValueError):
        return None


# -- the citizen ---------------------------------------------------------------------------------


@bp.route("/card/<int:patient_id>/<section>/<int:entry_id>/report-error", methods=["GET", "POST"])
@card
def report(patient_id: int, section: str, entry_id: int):
    """Report an error in an entry. Anyone who may read this section of the card may report:
    the patient, a guardian, a trusted person whose grant names the section (and a clinician
    treating the patient). Everyone else gets 404, audited as a denial."""
    if section not in service.CORRECTABLE:
        abort(404)
    with write_transaction():
        view = open_section(g.account, patient_id, section, object_type=section, object_id=entry_id)
        entry = service.readable_entry(g.account, view.decision, section, patient_id, entry_id)
    if entry is None:
        g.pop("card", None)  # a 404 names no card
        abort(404)
    form = ReportForm()
    if request.method == "POST":
        valid = form.validate_on_submit()
        checked = _checked_files(form)
        if valid and checked is not None:
            try:
                row = service.report(g.account, patient_id, section, entry_id, form.description.data, checked)
            except LookupError:
                abort(404)
            except documents.QuotaExceeded as error:  # another upload got in first
                form.files.errors = [str(error)]
            else:
                return redirect(url_for("corrections.detail", patient_id=patient_id, request_id=row.id), code=303)
    failed = any(field.errors for field in form)
    return render(
        "corrections/report.html",
        form=form,
        view=view,
        section=section,
        entry=entry,
        line=service.describe(section, entry),
        labels=LABELS,
        failed=failed,
        status=400 if failed else 200,
    )


def _checked_files(form: ReportForm) -> list[uploads.CheckedFile] | None:
    """The attached files, checked; None (and the message on the field) when one is refused."""
    chosen = form.chosen_files()
    if len(chosen) > service.MAX_FILES:
        form.files.errors = [_("Attach at most %(num)s files", num=service.MAX_FILES)]
        return None
    try:
        documents.check_quota(g.account, adding=len(chosen))  # before any file is decoded
    except documents.QuotaExceeded as error:
        form.files.errors = [str(error)]
        return None
    checked = []
    for storage in chosen:
        try:
            checked.append(uploads.check(storage))
        except uploads.UploadError as error:
            name = storage.filename.replace("\\", "/").rsplit("/", 1)[-1][:120]
            form.files.errors = [f"{name}: {error}"]
            return None
    return checked


@bp.get("/card/<int:patient_id>/corrections")
@card
def index(patient_id: int):
    with write_transaction():
        view = open_section(g.account, patient_id, "summary", object_type="correction_requests")
        found = service.requests_of(patient_id, view.sections, view.decision)
    rows = [
        (
            (row.number, url_for("corrections.detail", patient_id=patient_id, request_id=row.id)),
            str(LABELS[row.section]),
            format_datetime(row.created_at, "short"),
            str(service.STATUSES[row.status]),
        )
        for row in found
    ]
    return render("corrections/index.html", view=view, rows=rows)


@bp.get("/card/<int:patient_id>/corrections/<int:request_id>")
@card
def detail(patient_id: int, request_id: int):
    from portal.corrections.models import CorrectionRequest

    row = db.session.get(CorrectionRequest, request_id)
    if row is None or row.patient_id != patient_id:
        abort(404)
    with write_transaction():
        view = open_section(g.account, patient_id, row.section, object_type="correction_request", object_id=request_id)
        entry = service.readable_entry(g.account, view.decision, row.section, patient_id, row.entry_id)
    return render(
        "corrections/detail.html",
        view=view,
        item=row,
        entry=entry,
        line=service.describe(row.section, entry) if entry else None,
        entry_link=entry_url(patient_id, row.section, row.entry_id) if entry else None,
        events=service.timeline(row.id),
        files=service.files_of(row.id),
        history=service.history(row.section, row.entry_id),
        labels=LABELS,
        statuses=service.STATUSES,
    )


# -- the registrar -------------------------------------------------------------------------------


@bp.get("/clinic/corrections")
@staff("registrar")
def queue():
    rows, total = service.queue(g.account)
    return render("corrections/queue.html", rows=rows, total=total, labels=LABELS, statuses=service.STATUSES)


def _decision_page(request_id: int, correct_form=None, reject_form=None, status: int = 200):
    try:
        view = service.open_for_registrar(g.account, request_id)
    except LookupError:
        abort(404)
    from portal.record.models import Patient

    row, entry, readable = view.row, view.entry, not view.own and not view.withheld
    spec = service.CORRECTABLE[row.section]
    correct_form = correct_form or CorrectForm()
    correct_form.field.choices = choices([("", _("Choose a field"))] + [(f.name, f.label) for f in spec.fields])
    return render(
        "corrections/decision.html",
        item=row,
        patient=db.session.get(Patient, row.patient_id),
        entry=entry,
        line=service.describe(row.section, entry) if entry and readable else None,
        values=service.current_values(row.section, entry) if entry and readable else [],
        fields=spec.fields,
        files=service.files_of(row.id) if readable else [],
        events=service.timeline(row.id),
        own=view.own,
        withheld=view.withheld,
        correct_form=correct_form,
        reject_form=reject_form or RejectForm(),
        review_form=ConfirmForm(),
        labels=LABELS,
        statuses=service.STATUSES,
        failed=status == 400,
        status=status,
    )


@bp.get("/clinic/corrections/<int:request_id>")
@staff("registrar")
def decision(request_id: int):
    return _decision_page(request_id)


@bp.get("/clinic/corrections/<int:request_id>/files/<int:file_id>")
@staff("registrar")
def file(request_id: int, file_id: int):
    try:
        data, found = service.load_file(request_id, file_id, g.account)
    except (LookupError, service.NotAllowed):
        abort(404)
    return uploads.download(data, found.filename, found.content_type)


@bp.post("/clinic/corrections/<int:request_id>/review")
@staff("registrar")
def review(request_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.take_into_review(request_id, g.account)
    except (LookupError, service.NotAllowed):
        abort(404)
    return redirect(url_for("corrections.decision", request_id=request_id), code=303)


@bp.post("/clinic/corrections/<int:request_id>/correct")
@staff("registrar")
def correct(request_id: int):
    form = CorrectForm()
    section = service.section_of(request_id)
    if section is None:
        abort(404)
    spec = service.CORRECTABLE[section]
    form.field.choices = choices([(f.name, f.label) for f in spec.fields])
    if form.validate_on_submit():
        try:
            service.correct(request_id, g.account, form.field.data, form.value.data, form.note.data)
        except (LookupError, service.NotAllowed):
            abort(404)
        except service.Refused as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            return redirect(url_for("corrections.queue", done="corrected"), code=303)
    return _decision_page(request_id, correct_form=form, status=400)


@bp.post("/clinic/corrections/<int:request_id>/reject")
@staff("registrar")
def reject(request_id: int):
    form = RejectForm()
    if form.validate_on_submit():
        try:
            service.reject(request_id, g.account, form.reason.data)
        except (LookupError, service.NotAllowed):
            abort(404)
        except service.Refused as refused:
            form.reason.errors = [refused.message]
        else:
            return redirect(url_for("corrections.queue", done="rejected"), code=303)
    return _decision_page(request_id, reject_form=form, status=400)
