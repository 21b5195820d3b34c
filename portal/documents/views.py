"""«Мои документы»: the card's documents, the citizen's uploads among them."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for

from portal import uploads
from portal.access import card
from portal.auth.forms import parse_date
from portal.documents import service
from portal.documents.forms import DocumentFilter, UploadForm
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("documents", __name__, template_folder="templates")

INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png"}


@bp.get("/card/<int:patient_id>/documents")
@card
def documents(patient_id: int):
    form = DocumentFilter(request.args, kinds=service.KINDS)
    valid = form.validate()
    filters = (
        service.Filters(form.since_date(), form.until_date(), form.kind.data or "", form.q.data or "")
        if valid
        else service.Filters()
    )
    listing = service.list_documents(g.account, patient_id, filters, form.after_key() if valid else None)
    return render(
        "documents/documents.html",
        fragment="results",
        form=form,
        listing=listing,
        filters=filters,
        kinds=service.KINDS,
        valid=valid,
        status=200 if valid else 400,
    )


@bp.route("/card/<int:patient_id>/documents/upload", methods=["GET", "POST"])
@card
def upload(patient_id: int):
    form = UploadForm(kinds=service.CITIZEN_KINDS)
    view = service.open_form(g.account, patient_id, "documents")
    if request.method == "POST":
        valid = form.validate_on_submit()
        checked = None
        try:
            service.check_quota(g.account)  # before the file is decoded
            checked = uploads.check(form.file.data)
        except uploads.UploadError as error:
            form.file.errors = [str(error)]
        if valid and checked is not None:
            try:
                uploaded = service.upload(
                    g.account,
                    patient_id,
                    form.title.data.strip(),
                    parse_date(form.document_date.data),
                    form.kind.data,
                    checked,
                )
            except service.QuotaExceeded as error:  # another upload got in first
                form.file.errors = [str(error)]
            else:
                done = {"repeated": 1} if uploaded.repeated else {"uploaded": 1}
                return redirect(url_for("documents.documents", patient_id=patient_id, **done), code=303)
    failing = any(field.errors for field in form)
    return render("documents/upload.html", form=form, view=view, status=400 if failing else 200)


@bp.get("/card/<int:patient_id>/documents/<int:document_id>")
@card
def document(patient_id: int, document_id: int):
    try:
        shown = service.view_document(g.account, patient_id, document_id)
    except LookupError:
        abort(404)
    return render(
        "documents/document.html",
        shown=shown,
        kinds=service.KINDS,
        size=service.size_label(shown.document.size),
        inline=shown.document.content_type in INLINE_TYPES,
    )


@bp.get("/card/<int:patient_id>/documents/<int:document_id>/file")
@card
def document_file(patient_id: int, document_id: int):
    try:
        found, data = service.document_file(g.account, patient_id, document_id)
    except LookupError:
        abort(404)
    inline = request.args.get("inline") == "1" and found.content_type in INLINE_TYPES
    return uploads.download(data, found.filename, found.content_type, inline=inline)


@bp.route("/card/<int:patient_id>/documents/<int:document_id>/delete", methods=["GET", "POST"])
@card
def delete(patient_id: int, document_id: int):
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            service.delete(g.account, patient_id, document_id)
        except LookupError:
            abort(404)
        return redirect(url_for("documents.documents", patient_id=patient_id, deleted=1), code=303)
    try:
        shown = service.deletable(g.account, patient_id, document_id)
    except LookupError:
        abort(404)
    return render("documents/delete.html", shown=shown, form=form)
