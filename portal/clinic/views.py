from __future__ import annotations

from flask import Blueprint, abort, g, redirect, url_for

from portal import paging, uploads
from portal.access import policy, staff
from portal.access import service as access
from portal.audit import service as audit
from portal.auth import service as auth
from portal.auth import sessions
from portal.auth import verification as verifying
from portal.auth.models import Account, IdentityDocument, VerificationRequest
from portal.clinic.forms import ApproveForm, EmergencyForm, RejectForm
from portal.database import db, write_transaction
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("clinic", __name__, url_prefix="/clinic", template_folder="templates")


def _audited_download(
    action: str,
    object_type: str,
    object_id: int,
    owner_id: int,
    decided: bool,
    key: str,
    purpose: str,
    filename: str,
    content_type: str,
):
    """A registrar opens a document a citizen sent to be checked, while the request waits for a
    decision (the policy decides): recorded first, then served with safe headers. A refusal is
    answered 404 and recorded too."""
    decision = policy.decide_request_file(g.account, owner_id, decided)
    with write_transaction():
        audit.record(
            action,
            actor_id=g.account.id,
            actor_role="registrar",
            object_type=object_type,
            object_id=object_id,
            outcome="success" if decision.allowed else "denied",
            reason=None if decision.allowed else decision.reason,
        )
    if not decision.allowed:
        abort(404)
    return uploads.download(uploads.load(key, purpose), filename, content_type)


@bp.get("/verifications")
@staff("registrar")
def verifications():
    after = paging.page_key("after")
    rows = verifying.queue(after)
    return render("clinic/verifications.html", rows=rows, next_after=rows[-1][0].id if len(rows) == 20 else None)


def _request_or_404(request_id: int) -> tuple[VerificationRequest, Account]:
    found = db.session.get(VerificationRequest, request_id)
    if found is None:
        abort(404)
    return found, db.session.get(Account, found.account_id)


def _verification_page(
    found: VerificationRequest,
    account: Account,
    reject_form: RejectForm | None = None,
    approve_form: ApproveForm | None = None,
    status: int = 200,
):
    """The registrar's page of one identity check, warning of details that already belong to
    another card or account: approving then asks for a reason."""
    own = account.id == g.account.id
    warnings = verifying.clashes(found) if found.decided_at is None and not own else []
    approve_form = approve_form or ApproveForm(prefix="approve")
    approve_form.reason.flags.required = bool(warnings)
    return render(
        "clinic/verification.html",
        item=found,
        account=account,
        documents=verifying.documents(found.id),
        reject_form=reject_form or RejectForm(),
        approve_form=approve_form,
        warnings=[verifying.CLASHES[key] for key in warnings],
        own=own,
        status=status,
    )


@bp.get("/verifications/<int:request_id>")
@staff("registrar")
def verification(request_id: int):
    found, account = _request_or_404(request_id)
    return _verification_page(found, account)


@bp.get("/verifications/<int:request_id>/documents/<int:document_id>")
@staff("registrar")
def verification_document(request_id: int, document_id: int):
    found, account = _request_or_404(request_id)
    document = db.session.get(IdentityDocument, document_id)
    if document is None or document.request_id != found.id:
        abort(404)
    return _audited_download(
        "verification.document_viewed",
        "identity_document",
        document.id,
        account.id,
        found.decided_at is not None,
        document.storage_key,
        f"identity:{account.id}",
        document.filename,
        document.content_type,
    )


@bp.post("/verifications/<int:request_id>/approve")
@staff("registrar")
def approve(request_id: int):
    found, account = _request_or_404(request_id)
    form = ApproveForm(prefix="approve")
    if form.validate_on_submit():
        try:
            verifying.decide(request_id, g.account, approve=True, reason=form.reason.data)
        except (LookupError, verifying.NotAllowed):
            abort(404)
        except verifying.Refused as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            return redirect(url_for("clinic.verifications", done="approved"), code=303)
    return _verification_page(found, account, approve_form=form, status=400)


@bp.post("/verifications/<int:request_id>/reject")
@staff("registrar")
def reject(request_id: int):
    found, account = _request_or_404(request_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _verification_page(found, account, reject_form=form, status=400)
    try:
        verifying.decide(request_id, g.account, approve=False, reason=form.reason.data.strip())
    except (LookupError, verifying.NotAllowed):
        abort(404)
    return redirect(url_for("clinic.verifications", done="rejected"), code=303)


@bp.route("/emergency", methods=["GET", "POST"])
@staff("doctor", "nurse")
def emergency():
    form = EmergencyForm()
    status = 200
    if form.validate_on_submit():
        try:
            patient_id = access.start_emergency(g.account, form.snils.data, form.reason.data, form.password.data)
        except access.EmergencyRefused as refused:
            getattr(form, refused.field).errors = [refused.message]
            status = refused.status
        else:
            # A rise in privilege: the session goes on under a new id.
            sessions.renew(auth.elevate(sessions.current()))
            return redirect(url_for("record.card_overview", patient_id=patient_id), code=303)
    form.password.data = ""
    if status == 200 and any(field.errors for field in form):
        status = 400
    return render("clinic/emergency.html", form=form, status=status)


# -- guardianship requests -------------------------------------------------------------------


def _guardianship_or_404(request_id: int):
    from portal.sharing.models import GuardianshipRequest

    found = db.session.get(GuardianshipRequest, request_id)
    if found is None:
        abort(404)
    return found, db.session.get(Account, found.guardian_id)


@bp.get("/guardianships")
@staff("registrar")
def guardianships():
    from portal.sharing import service as sharing

    return render("clinic/guardianships.html", rows=sharing.queue())


@bp.get("/guardianships/<int:request_id>")
@staff("registrar")
def guardianship(request_id: int):
    found, guardian = _guardianship_or_404(request_id)
    return render(
        "clinic/guardianship.html",
        item=found,
        guardian=guardian,
        reject_form=RejectForm(),
        own=guardian.id == g.account.id,
    )


@bp.get("/guardianships/<int:request_id>/document")
@staff("registrar")
def guardianship_document(request_id: int):
    found, guardian = _guardianship_or_404(request_id)
    return _audited_download(
        "guardianship.document_viewed",
        "guardianship_request",
        found.id,
        guardian.id,
        found.decided_at is not None,
        found.document_key,
        f"guardianship:{guardian.id}",
        found.document_filename,
        found.document_type,
    )


@bp.post("/guardianships/<int:request_id>/<any(approve, reject):decision>")
@staff("registrar")
def decide_guardianship(request_id: int, decision: str):
    from portal.sharing import service as sharing

    found, guardian = _guardianship_or_404(request_id)
    form = RejectForm()
    if decision == "reject" and not form.validate_on_submit():
        return render(
            "clinic/guardianship.html",
            item=found,
            guardian=guardian,
            reject_form=form,
            own=guardian.id == g.account.id,
            status=400,
        )
    if decision == "approve" and not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        sharing.decide(
            request_id,
            g.account,
            approve=decision == "approve",
            reason=form.reason.data.strip() if decision == "reject" else None,
        )
    except (LookupError, sharing.NotAllowed):
        abort(404)
    except sharing.Refused as refused:
        form.reason.errors = [refused.message]
        return render(
            "clinic/guardianship.html", item=found, guardian=guardian, reject_form=form, own=False, status=400
        )
    return redirect(url_for("clinic.guardianships", done=decision), code=303)


# -- attachment applications («прикрепление») ---------------------------------------------------


def _attachment_or_404(application_id: int):
    from portal.directory import attachment

    try:
        return attachment.for_registrar(g.account, application_id)
    except LookupError:
        abort(404)


@bp.get("/attachments")
@staff("registrar")
def attachments():
    from portal.directory import attachment

    return render("clinic/attachments.html", rows=attachment.queue(g.account), number_of=attachment.number_of)


def _attachment_page(application, patient, decision, form: RejectForm | None = None, status: int = 200):
    from portal.directory import attachment

    return render(
        "clinic/attachment.html",
        item=application,
        patient=patient,
        own=decision.conflict,
        reject_form=form or RejectForm(),
        number=attachment.number_of(application),
        status=status,
    )


@bp.get("/attachments/<int:application_id>")
@staff("registrar")
def attachment(application_id: int):
    """One application, with the patient's name and birth date: who read it is recorded."""
    application, patient, decision = _attachment_or_404(application_id)
    with write_transaction():
        audit.record(
            "attachment.viewed",
            actor_id=g.account.id,
            actor_role="registrar",
            patient_id=application.patient_id,
            organisation_id=application.to_organisation_id,
            object_type="attachment_application",
            object_id=application.id,
        )
    return _attachment_page(application, patient, decision)


@bp.post("/attachments/<int:application_id>/<any(approve, reject):decision>")
@staff("registrar")
def decide_attachment(application_id: int, decision: str):
    from portal.directory import attachment as service

    application, patient, allowed = _attachment_or_404(application_id)
    form = RejectForm()
    if decision == "reject" and not form.validate_on_submit():
        return _attachment_page(application, patient, allowed, form, status=400)
    if decision == "approve" and not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.decide(
            application_id,
            g.account,
            approve=decision == "approve",
            reason=form.reason.data.strip() if decision == "reject" else None,
        )
    except (LookupError, service.NotAllowed):
        abort(404)
    except service.Refused as refused:
        form.reason.errors = [refused.message]
        return _attachment_page(application, patient, allowed, form, status=400)
    return redirect(url_for("clinic.attachments", done=decision), code=303)
