"""The orders pages: the doctor's orders of an appointment (/doctor/appointments/<id>/orders) with
the prescription, referral and vaccination forms, the confirmation of a vaccination the citizen
added, and the nurse's vaccination form (/nurse/appointments/<id>/vaccination). Another doctor's
or organisation's appointment is 404."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from portal.access import staff
from portal.orders import service
from portal.orders.forms import (
    DOSE_UNITS,
    FREQUENCIES,
    REFERRAL_KINDS,
    GivenVaccinationForm,
    PrescriptionForm,
    ReferralForm,
)
from portal.record import calendar, intake, vaccination_add
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("orders", __name__, template_folder="templates")

DONE = {
    "prescription": _l("The prescription is in the patient's card, and the patient is told."),
    "referral": _l("The referral is in the patient's card, and the patient is told."),
    "vaccination": _l("The vaccination is in the patient's card, and the patient is told."),
    "confirmed": _l("The vaccination is confirmed, and the patient is told."),
}
RACED = _l("Another order was numbered at the same moment, and nothing was saved: write it again")
NO_PRACTITIONER = _l(
    "Your account is not linked to a practitioner record, so the card cannot name who wrote the entry. "
    "Ask your organisation's administrator to link it; nothing was saved."
)


def _visit(appointment_id: int) -> service.Visit:
    try:
        return service.doctor_visit(g.account, appointment_id)
    except LookupError:
        abort(404)


@bp.get("/doctor/appointments/<int:appointment_id>/orders")
@staff("doctor")
def orders(appointment_id: int):
    try:
        visit, found = service.ordered(g.account, appointment_id)
    except LookupError:
        abort(404)
    return render(
        "orders/orders.html",
        visit=visit,
        found=found,
        kinds=REFERRAL_KINDS,
        target_name=calendar.target_name,
        form=ConfirmForm(),
        done=DONE.get(request.args.get("done", "")),
    )


def _done(appointment_id: int, what: str):
    return redirect(url_for("orders.orders", appointment_id=appointment_id, done=what), code=303)


@bp.route("/doctor/appointments/<int:appointment_id>/orders/prescription", methods=["GET", "POST"])
@staff("doctor")
def prescription(appointment_id: int):
    visit = _visit(appointment_id)
    form = PrescriptionForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.write_prescription(g.account, appointment_id, **form.terms())
            except LookupError:  # the care relationship ended meanwhile, or no practitioner record
                abort(404)
            except intake.AlreadyInCard:  # two orders of the appointment numbered at once
                form.drug.errors = [RACED]
                status = 409
            else:
                return _done(appointment_id, "prescription")
        else:
            status = 400
    return render(
        "orders/prescription.html", form=form, visit=visit, units=DOSE_UNITS, frequencies=FREQUENCIES, status=status
    )


@bp.route("/doctor/appointments/<int:appointment_id>/orders/referral", methods=["GET", "POST"])
@staff("doctor")
def referral(appointment_id: int):
    visit = _visit(appointment_id)
    form = ReferralForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.write_referral(g.account, appointment_id, **form.terms())
            except LookupError:  # the care relationship ended meanwhile, or no practitioner record
                abort(404)
            except intake.AlreadyInCard:  # two orders of the appointment numbered at once
                form.kind.errors = [RACED]
                status = 409
            else:
                return _done(appointment_id, "referral")
        else:
            status = 400
    return render("orders/referral.html", form=form, visit=visit, status=status)


def _vaccination(appointment_id: int, visit: service.Visit, nurse: bool):
    form = GivenVaccinationForm(birth_date=visit.patient.birth_date)
    status = 200
    problem = None if service.has_practitioner(g.account) else NO_PRACTITIONER
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.write_vaccination(g.account, appointment_id, nurse, **form.terms())
            except intake.NotAPractitioner:
                status = 409
            except intake.AlreadyInCard:
                form.item.errors = [_l("This dose given on this day is in the card already")]
                status = 400
            except LookupError:
                abort(404)
            else:
                if nurse:
                    return redirect(url_for("workspace.nurse_list", done="vaccinated"), code=303)
                return _done(appointment_id, "vaccination")
        else:
            status = 400
    action = "orders.nurse_vaccination" if nurse else "orders.vaccination"
    return render(
        "orders/vaccination.html",
        form=form,
        visit=visit,
        nurse=nurse,
        problem=problem,
        action=url_for(action, appointment_id=appointment_id),
        status=status,
    )


@bp.route("/doctor/appointments/<int:appointment_id>/orders/vaccination", methods=["GET", "POST"])
@staff("doctor")
def vaccination(appointment_id: int):
    return _vaccination(appointment_id, _visit(appointment_id), nurse=False)


@bp.route("/nurse/appointments/<int:appointment_id>/vaccination", methods=["GET", "POST"])
@staff("nurse")
def nurse_vaccination(appointment_id: int):
    try:
        visit = service.nurse_visit(g.account, appointment_id)
    except LookupError:
        abort(404)
    return _vaccination(appointment_id, visit, nurse=True)


@bp.post("/doctor/appointments/<int:appointment_id>/orders/vaccinations/<int:entry_id>/confirm")
@staff("doctor")
def confirm_vaccination(appointment_id: int, entry_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    visit = _visit(appointment_id)
    try:
        vaccination_add.confirm(g.account, visit.patient.id, entry_id)
    except LookupError:
        abort(404)
    return _done(appointment_id, "confirmed")
