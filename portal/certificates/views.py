from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, request, session, url_for
from flask_babel import gettext as _

from portal import uploads
from portal.access import card, public, staff
from portal.auth.forms import CodeForm
from portal.certificates import service
from portal.certificates.forms import OrderForm
from portal.clinic.forms import RejectForm
from portal.database import db
from portal.documents.service import storage_purpose
from portal.extensions import limiter
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("certificates", __name__, template_folder="templates")

PENDING = "certificate_order"  # the order waiting for its code, in the signed session


def _pending(patient_id: int) -> service.Order | None:
    return service.Order.from_session(session.get(PENDING), g.account.id, patient_id)


# -- the citizen ---------------------------------------------------------------------------------


@bp.get("/card/<int:patient_id>/certificates")
@card
def requests(patient_id: int):
    _card, rows = service.requests_of(g.account, patient_id)
    return render("certificates/list.html", rows=rows, forms=service.FORMS, statuses=service.STATUSES)


@bp.get("/card/<int:patient_id>/certificates/<int:request_id>")
@card
def detail(patient_id: int, request_id: int):
    try:
        _card, item, document = service.request_of(g.account, patient_id, request_id)
    except LookupError:
        abort(404)
    return render(
        "certificates/detail.html",
        item=item,
        document=document,
        events=service.timeline(item.id),
        forms=service.FORMS,
        statuses=service.STATUSES,
    )


@bp.get("/card/<int:patient_id>/certificates/<int:request_id>/document")
@card
def download(patient_id: int, request_id: int):
    try:
        _card, item, document = service.request_of(g.account, patient_id, request_id, action="export")
    except LookupError:
        abort(404)
    if document is None:
        abort(404)
    data = uploads.load(document.storage_key, storage_purpose(patient_id))
    return uploads.download(data, document.filename, document.content_type)


@bp.route("/card/<int:patient_id>/certificates/new", methods=["GET", "POST"])
@card
@limiter.limit("10/hour", methods=["POST"])  # each valid order sends a code by SMS or e-mail
def new(patient_id: int):
    form = OrderForm()
    if request.method == "GET":
        pending = _pending(patient_id)
        if pending is not None and "change" in request.args:  # back from the code step: keep what was typed
            form.kind.data, form.purpose.data = pending.form, pending.purpose
            form.period_from.data = pending.period_from.strftime("%d.%m.%Y") if pending.period_from else ""
            form.period_to.data = pending.period_to.strftime("%d.%m.%Y") if pending.period_to else ""
    elif form.validate_on_submit():
        start, end = form.dates()
        order = service.start_order(g.account, patient_id, form.kind.data, form.purpose.data, start, end)
        session[PENDING] = order.to_session(g.account.id)
        return redirect(url_for("certificates.confirm", patient_id=patient_id), code=303)
    service.open_card(g.account, patient_id)
    failed = request.method == "POST"
    return render("certificates/new.html", form=form, failed=failed, status=400 if failed else 200)


@bp.route("/card/<int:patient_id>/certificates/confirm", methods=["GET", "POST"])
@card
def confirm(patient_id: int):
    order = _pending(patient_id)
    form = CodeForm()
    if order is not None and request.method == "POST" and form.validate_on_submit():
        created = service.confirm_order(g.account, order, form.code.data)  # decides access itself
        if created is not None:
            session.pop(PENDING, None)
            return redirect(
                url_for("certificates.detail", patient_id=patient_id, request_id=created.id, created=1), code=303
            )
        form.code.errors = [_("The code is wrong or has expired. Check it, or send a new code")]
    else:
        service.open_card(g.account, patient_id)
    form.code.data = ""
    failed = order is not None and request.method == "POST"
    return render(
        "certificates/confirm.html",
        order=order,
        form=form,
        resend_form=ConfirmForm(),
        channel=service.code_channel(g.account),
        account=g.account,
        failed=failed,
        status=400 if failed else 200,
    )


@bp.post("/card/<int:patient_id>/certificates/confirm/resend")
@card
@limiter.limit("3/10 minutes")
def resend(patient_id: int):
    order = _pending(patient_id)
    if order is None or not ConfirmForm().validate_on_submit():
        service.open_card(g.account, patient_id)
        return redirect(url_for("certificates.new", patient_id=patient_id), code=303)
    service.resend_code(g.account, order)
    return redirect(url_for("certificates.confirm", patient_id=patient_id, sent=1), code=303)


# -- the registrar -------------------------------------------------------------------------------


@bp.get("/clinic/certificates")
@staff("registrar")
def queue():
    rows, total = service.queue(g.account)
    return render("certificates/queue.html", rows=rows, total=total, forms=service.FORMS, statuses=service.STATUSES)


def _registrar_view(request_id: int, refuse_form: RejectForm | None = None, status: int = 200):
    try:
        item, patient, own = service.for_registrar(g.account, request_id)
    except LookupError:
        abort(404)
    return render(
        "certificates/process.html",
        item=item,
        patient=patient,
        own=own,
        events=service.timeline(item.id),
        forms=service.FORMS,
        statuses=service.STATUSES,
        issuing=service.issuing(item),
        preparing_state="failed" if _issue_failed(item) else "preparing",
        refuse_form=refuse_form or RejectForm(),
        step_form=ConfirmForm(),
        status=status,
    )


def _issue_failed(item) -> bool:
    """The document is being made, yet no job is waiting for it: the job failed (or was lost)."""
    from portal import tasks

    return service.issuing(item) and not tasks.queue().waiting(service.issue_key(item.id))


@bp.get("/clinic/certificates/<int:request_id>")
@staff("registrar")
def process(request_id: int):
    return _registrar_view(request_id)


@bp.get("/clinic/certificates/<int:request_id>/status")
@staff("registrar")
@limiter.limit("90/minute")
def issue_status(request_id: int):
    """What the request's page polls while the document is being made: 204 until it is ready
    (or the job failed), then the fragment that says so."""
    try:
        item, _patient, _own = service.for_registrar(g.account, request_id)
    except LookupError:
        abort(404)
    if item.status == "ready":
        state = "ready"
    elif _issue_failed(item):
        state = "failed"
    else:
        return Response(status=204)
    response = render("certificates/_issue_state.html", item=item, preparing_state=state)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/clinic/certificates/<int:request_id>/<any(take, issue, refuse):step>")
@staff("registrar")
def decide(request_id: int, step: str):
    form = RejectForm() if step == "refuse" else ConfirmForm()
    valid = form.validate_on_submit()
    if valid and step == "refuse" and not form.reason.data.strip():
        form.reason.errors, valid = [_("Write the reason: the citizen will see it")], False
    if not valid:
        if step == "refuse":
            return _registrar_view(request_id, form, 400)
        abort(400)
    try:
        if step == "take":
            service.take(g.account, request_id)
        elif step == "issue":
            service.issue(g.account, request_id)
        else:
            service.refuse(g.account, request_id, form.reason.data.strip())
    except (LookupError, service.NotAllowed):
        db.session.rollback()
        abort(404)
    except service.WrongStep:
        db.session.rollback()
        return redirect(url_for("certificates.process", request_id=request_id), code=303)
    if step in ("take", "issue"):  # issue: the page shows the document being made, then ready
        return redirect(url_for("certificates.process", request_id=request_id, done=step), code=303)
    return redirect(url_for("certificates.queue", done=step), code=303)


# -- anyone holding the paper ----------------------------------------------------------------------


@bp.get("/verify/<code>")
@public
@limiter.limit("60/minute")
def verify(code: str):
    found = service.verify(code)
    response = render("certificates/verify.html", found=found, status=200 if found else 404)
    response.headers["X-Robots-Tag"] = "noindex"
    return response
