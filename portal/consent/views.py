from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.access import service as access
from portal.access import signed_in_without_consent, staff
from portal.clinic.forms import RejectForm
from portal.consent import opt_out as opt_outs
from portal.consent import service
from portal.consent.forms import OptOutForm
from portal.forms import choices
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("consent", __name__, url_prefix="/consent", template_folder="templates")


@bp.get("/")
@signed_in_without_consent
def show():
    account = g.account
    return render(
        "consent/consent.html",
        text=service.text(str(get_locale())),
        version=service.CURRENT_VERSION,
        given=service.account_has_consent(account),
        history=service.history(account),
        closed=opt_outs.own_card_closed(account),
        children=access.children_of(account) if account.verification_status == "verified" else [],
        opens_on=access.own_card_opens_on(account),
        account=account,
        form=ConfirmForm(),
    )


@bp.post("/give")
@signed_in_without_consent
def give():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("consent.show"), code=303)
    service.give(g.account, request.remote_addr)
    return redirect(url_for("consent.show", done="given"), code=303)


@bp.post("/revoke")
@signed_in_without_consent
def revoke():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("consent.show"), code=303)
    service.revoke(g.account, request.remote_addr)
    return redirect(url_for("consent.show", done="revoked"), code=303)


# -- a guardian's consent for a child's card -------------------------------------------------------


@bp.get("/child/<int:patient_id>")
@signed_in_without_consent
def child(patient_id: int):
    """The consent for a child's card, which the guardian gives and withdraws for the child."""
    patient = service.child_card(g.account, patient_id)
    return render(
        "consent/child.html",
        patient=patient,
        text=service.text(str(get_locale())),
        version=service.CURRENT_VERSION,
        given=service.has_consent(patient.id),
        history=service.card_history(patient.id),
        form=ConfirmForm(),
    )


@bp.post("/child/<int:patient_id>/<any(give, revoke):choice>")
@signed_in_without_consent
def child_change(patient_id: int, choice: str):
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("consent.child", patient_id=patient_id), code=303)
    action = "given" if choice == "give" else "revoked"
    service.change_for_child(g.account, patient_id, action, request.remote_addr)
    return redirect(url_for("consent.child", patient_id=patient_id, done=action), code=303)


# -- opting out of the electronic record («отказ от ЭМК») ----------------------------------------
# Both pages need no consent: the applicant follows the application after the card is closed.


def _card_label(patient) -> str:
    return f"{patient.surname} {patient.name}{' ' + patient.patronymic if patient.patronymic else ''}"


@bp.route("/opt-out", methods=["GET", "POST"])
@signed_in_without_consent
def opt_out():
    cards = opt_outs.cards_to_close(g.account)
    form = OptOutForm()
    form.card.choices = choices(
        [(str(link.patient.id), _("My card") if link.basis == "self" else _card_label(link.patient)) for link in cards]
    )
    if request.method == "GET" and len(cards) == 1:
        form.card.data = str(cards[0].patient.id)
    if request.method == "POST" and form.validate_on_submit():
        try:
            row = opt_outs.apply(g.account, int(form.card.data), form.reason.data)
        except opt_outs.Refused as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            return redirect(url_for("consent.opt_out_status", request_id=row.id), code=303)
    failing = any(field.errors for field in form)
    return render(
        "consent/opt_out.html",
        form=form,
        cards=cards,
        applications=opt_outs.applications_of(g.account),
        closed_children=opt_outs.cards_to_reopen(g.account),
        status=400 if failing else 200,
    )


@bp.post("/opt-out/rejoin/<int:patient_id>")
@signed_in_without_consent
def rejoin(patient_id: int):
    """A guardian gives consent again for a child's card closed by an opt-out; it opens again."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        opt_outs.rejoin(g.account, patient_id, request.remote_addr)
    except LookupError:
        abort(404)
    return redirect(url_for("record.card_overview", patient_id=patient_id, done="rejoined"), code=303)


@bp.get("/opt-out/<int:request_id>")
@signed_in_without_consent
def opt_out_status(request_id: int):
    found = opt_outs.application(g.account, request_id)
    if found is None:
        abort(404)
    item, patient, events = found
    return render("consent/opt_out_status.html", item=item, patient=patient, events=events, account=g.account)


# -- the registrar decides: /clinic/opt-outs ------------------------------------------------------

clinic_bp = Blueprint("opt_outs", __name__, url_prefix="/clinic/opt-outs", template_folder="templates")


@clinic_bp.get("")
@staff("registrar")
def queue():
    rows, total = opt_outs.queue()
    return render("consent/opt_outs.html", rows=rows, total=total)


def _decision_page(request_id: int, form: RejectForm, status: int = 200):
    found = opt_outs.for_registrar(request_id)
    if found is None:
        abort(404)
    item, patient, applicant = found
    return render(
        "consent/opt_out_decision.html",
        item=item,
        patient=patient,
        applicant=applicant,
        reject_form=form,
        own=opt_outs.is_own(item, g.account),
        status=status,
    )


@clinic_bp.get("/<int:request_id>")
@staff("registrar")
def decision(request_id: int):
    return _decision_page(request_id, RejectForm())


@clinic_bp.post("/<int:request_id>/<any(approve, reject):choice>")
@staff("registrar")
def decide(request_id: int, choice: str):
    form = RejectForm()
    if choice == "reject" and not form.validate_on_submit():
        return _decision_page(request_id, form, 400)
    if choice == "approve" and not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        opt_outs.decide(
            request_id,
            g.account,
            approve=choice == "approve",
            reason=form.reason.data.strip() if choice == "reject" else None,
        )
    except (LookupError, opt_outs.NotAllowed):
        abort(404)
    return redirect(url_for("opt_outs.queue", done=choice), code=303)
