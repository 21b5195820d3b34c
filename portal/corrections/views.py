"""«Сообщить об ошибке» pages: the citizen's report form, list and request page under the card;
the registrar's queue and decision page under /clinic/corrections."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _

from portal import uploads
from portal.access import card, staff
from portal.clinic.forms import RejectForm
from portal.corrections import authoring, service
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
        entry_link=service.entry_url(patient_id, row.section, row.entry_id) if entry else None,
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
    return render(
        "corrections/queue.html", rows=rows, total=total, labels=LABELS, statuses=service.STATUSES,
        routes=ROUTES[False], as_author=False,
    )  # fmt: skip


# The registrar's pages and the author's (a doctor deciding the reports about the entries they
# wrote) are one page with two sets of addresses.
ROUTES = {
    False: {
        "queue": "corrections.queue",
        "decision": "corrections.decision",
        "file": "corrections.file",
        "review": "corrections.review",
        "correct": "corrections.correct",
        "reject": "corrections.reject",
    },
    True: {
        "queue": "corrections.author_queue",
        "decision": "corrections.author_decision",
        "file": "corrections.author_file",
        "review": "corrections.author_review",
        "correct": "corrections.author_report_correct",
        "reject": "corrections.author_reject",
    },
}


def _decision_page(request_id: int, correct_form=None, reject_form=None, status: int = 200, as_author: bool = False):
    try:
        view = service.open_for_registrar(g.account, request_id, as_author)
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
        routes=ROUTES[as_author],
        as_author=as_author,
        status=status,
    )


@bp.get("/clinic/corrections/<int:request_id>")
@staff("registrar")
def decision(request_id: int):
    return _decision_page(request_id)


@bp.get("/clinic/corrections/<int:request_id>/files/<int:file_id>")
@staff("registrar")
def file(request_id: int, file_id: int):
    return _file(request_id, file_id, as_author=False)


def _file(request_id: int, file_id: int, as_author: bool):
    try:
        data, found = service.load_file(request_id, file_id, g.account, as_author)
    except (LookupError, service.NotAllowed):
        abort(404)
    return uploads.download(data, found.filename, found.content_type)


@bp.post("/clinic/corrections/<int:request_id>/review")
@staff("registrar")
def review(request_id: int):
    return _review(request_id, as_author=False)


def _review(request_id: int, as_author: bool):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.take_into_review(request_id, g.account, as_author)
    except (LookupError, service.NotAllowed):
        abort(404)
    return redirect(url_for(ROUTES[as_author]["decision"], request_id=request_id), code=303)


@bp.post("/clinic/corrections/<int:request_id>/correct")
@staff("registrar")
def correct(request_id: int):
    return _correct(request_id, as_author=False)


def _correct(request_id: int, as_author: bool):
    form = CorrectForm()
    section = service.section_of(request_id)
    if section is None:
        abort(404)
    spec = service.CORRECTABLE[section]
    form.field.choices = choices([(f.name, f.label) for f in spec.fields])
    if form.validate_on_submit():
        try:
            service.correct(request_id, g.account, form.field.data, form.value.data, form.note.data, as_author)
        except (LookupError, service.NotAllowed):
            abort(404)
        except service.Refused as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            return redirect(url_for(ROUTES[as_author]["queue"], done="corrected"), code=303)
    return _decision_page(request_id, correct_form=form, status=400, as_author=as_author)


@bp.post("/clinic/corrections/<int:request_id>/reject")
@staff("registrar")
def reject(request_id: int):
    return _reject(request_id, as_author=False)


def _reject(request_id: int, as_author: bool):
    form = RejectForm()
    if form.validate_on_submit():
        try:
            service.reject(request_id, g.account, form.reason.data, as_author)
        except (LookupError, service.NotAllowed):
            abort(404)
        except service.Refused as refused:
            form.reason.errors = [refused.message]
        else:
            return redirect(url_for(ROUTES[as_author]["queue"], done="rejected"), code=303)
    return _decision_page(request_id, reject_form=form, status=400, as_author=as_author)


# -- the author: a doctor's entries and the reports about them -------------------------------------
AUTHOR_SECTION = "<any(visits, diagnoses, prescriptions, results):section>"


@bp.get("/doctor/corrections")
@staff("doctor")
def author_queue():
    rows, total = service.author_queue(g.account)
    return render(
        "corrections/queue.html", rows=rows, total=total, labels=LABELS, statuses=service.STATUSES,
        routes=ROUTES[True], as_author=True,
    )  # fmt: skip


@bp.get("/doctor/corrections/<int:request_id>")
@staff("doctor")
def author_decision(request_id: int):
    return _decision_page(request_id, as_author=True)


@bp.get("/doctor/corrections/<int:request_id>/files/<int:file_id>")
@staff("doctor")
def author_file(request_id: int, file_id: int):
    return _file(request_id, file_id, as_author=True)


@bp.post("/doctor/corrections/<int:request_id>/review")
@staff("doctor")
def author_review(request_id: int):
    return _review(request_id, as_author=True)


@bp.post("/doctor/corrections/<int:request_id>/correct")
@staff("doctor")
def author_report_correct(request_id: int):
    return _correct(request_id, as_author=True)


@bp.post("/doctor/corrections/<int:request_id>/reject")
@staff("doctor")
def author_reject(request_id: int):
    return _reject(request_id, as_author=True)


@bp.get("/doctor/entries")
@staff("doctor")
def author_entries():
    from portal.audit.service import audited_read

    page = request.args.get("page", "1")
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 10_000:
        abort(400)
    with audited_read():
        rows, more = authoring.my_entries(g.account, int(page))
    return render(
        "corrections/my_entries.html", rows=rows, page_number=int(page), more=more, labels=LABELS,
        done=request.args.get("done"),
    )  # fmt: skip


@bp.route(f"/doctor/entries/{AUTHOR_SECTION}/<int:entry_id>/correct", methods=["GET", "POST"])
@staff("doctor")
def author_correct(section: str, entry_id: int):
    """The author corrects their signed entry: every changed field a new version, with a reason."""
    entry, patient = authoring.open_entry(g.account, section, entry_id)
    form = authoring_form(section)(formdata=request.form if request.method == "POST" else None)
    errors: dict[str, str] = {}
    current = authoring.stamp(section, entry)
    if request.method == "GET":
        for f in authoring.fields(section):
            form[f.name].data = authoring.typed_value(f, getattr(entry, f.name))
        form.stamp.data = current
    elif form.validate_on_submit():
        typed = {f.name: form[f.name].data or "" for f in authoring.fields(section)}
        try:
            authoring.correct(g.account, section, entry_id, typed, form.note.data or "", form.stamp.data or "")
        except authoring.Invalid as invalid:
            errors = invalid.errors
        else:
            return redirect(url_for("corrections.author_entries", done="corrected"), code=303)
    else:
        abort(400)  # a form without its CSRF token
    stale = "stamp" in errors and form.stamp.data != current
    if errors:
        db.session.expire_all()
        entry, patient = authoring.open_entry(g.account, section, entry_id)
        form.stamp.data = authoring.stamp(section, entry)  # the next try is against the values shown
        for name, message in errors.items():
            if name in form and name != "stamp":
                form[name].errors = [message]
    summary = [("#" + name if name != "stamp" else "#current-values", message) for name, message in errors.items()]
    return render(
        "corrections/author_correct.html",
        form=form,
        section=section,
        entry=entry,
        patient=patient,
        fields=authoring.fields(section),
        line=service.describe(section, entry),
        values=service.current_values(section, entry),
        history=service.history(section, entry.id),
        labels=LABELS,
        summary=summary,
        stale=stale,
        failed=bool(errors),
        status=400 if errors else 200,
    )


def authoring_form(section: str):
    """The author's correction form for ``section``: one input per correctable field (a choice as
    a list), the reason and the stamp of the values it was opened with."""
    from flask_babel import lazy_gettext as _l
    from flask_wtf import FlaskForm
    from wtforms import HiddenField, SelectField, StringField, TextAreaField

    attrs: dict = {}
    for f in authoring.fields(section):
        if f.kind == "choice":
            attrs[f.name] = SelectField(f.label, choices=choices(f.choices), validate_choice=False)
        elif f.kind == "text" and f.max_length >= 100:  # a dose, a conclusion: longer than one line at 320 px
            attrs[f.name] = TextAreaField(f.label)
        else:
            attrs[f.name] = StringField(f.label)
    attrs["note"] = TextAreaField(_l("Reason for the correction"))
    attrs["stamp"] = HiddenField()
    return type(f"AuthorCorrection_{section}", (FlaskForm,), attrs)
