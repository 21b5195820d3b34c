"""The waiting list and home visit pages of a card, and the registrar's desk: the clinic's home
visit calls and the day's appointments to mark (arrived, completed, no-show)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import gettext as _

from portal.access import card, staff
from portal.appointments import booking, homevisit, reminders, waitlist
from portal.appointments.care_forms import (
    AcceptVisitForm,
    CancelVisitForm,
    ClinicCancelVisitForm,
    HomeVisitForm,
    RefuseVisitForm,
    WaitlistForm,
    normal_phone,
)
from portal.appointments.states import InvalidTransition
from portal.appointments.views import REFUSALS, STATUSES, specialty_label
from portal.clock import today
from portal.database import db
from portal.directory.models import Practitioner
from portal.forms import choices
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("care", __name__, template_folder="templates")
desk = Blueprint("clinic_queue", __name__, url_prefix="/clinic", template_folder="templates")


def _visit_statuses() -> dict:
    return {
        "new": _("waiting for the clinic"),
        "accepted": _("accepted"),
        "refused": _("refused"),
        "done": _("done: the doctor has visited"),
        "cancelled": _("cancelled"),
    }


def _visit_refusals() -> dict:
    """Why a call could not be changed (``InvalidTransition.code``), for the page."""
    return {
        "not_allowed": _("This call cannot be changed so: it is done, refused or cancelled already."),
        "too_early": _("A visit is marked done on its day or later."),
        "reason_needed": _("Write the reason: the citizen will see it"),
    }


# -- the waiting list ----------------------------------------------------------------------------


def _waitlist_form(specialty: str) -> WaitlistForm:
    form = WaitlistForm()
    codes = booking.direct_specialties()
    form.specialty.choices = choices([("", _("Choose a specialty"))] + [(c, specialty_label(c)) for c in codes])
    doctors = []
    if specialty in codes:
        doctors = db.session.execute(select_doctors(specialty)).all()
    form.doctor.choices = choices([("", _("Any doctor"))] + [(str(i), f"{s} {n}") for i, s, n in doctors])
    return form


def select_doctors(specialty: str):
    from sqlalchemy import select

    return (
        select(Practitioner.id, Practitioner.surname, Practitioner.name)
        .where(Practitioner.specialty_code == specialty)
        .order_by(Practitioner.surname, Practitioner.id)
        .limit(100)
    )


@bp.route("/card/<int:patient_id>/appointments/waitlist", methods=["GET", "POST"])
@card
def page(patient_id: int):
    """The card's places on the waiting list, with any time offered; joining."""
    booking.open_booking_page(g.account, patient_id)
    specialty = request.values.get("specialty", "")
    form = _waitlist_form(specialty)
    status = 200
    if request.method == "GET":
        form.specialty.data = specialty if specialty in booking.direct_specialties() else ""
        form.doctor.data = request.args.get("doctor", "") if request.args.get("doctor", "").isdigit() else ""
        form.part.data = ""
    elif form.validate_on_submit():
        try:
            waitlist.join(
                g.account,
                patient_id,
                form.specialty.data,
                int(form.doctor.data) if form.doctor.data else None,
                "".join(form.weekdays.data or ()),
                form.part.data or "",
                tuple(form.channels.data or ()),
            )
        except waitlist.Refused as refused:
            getattr(form, refused.field or "specialty").errors = [refused.message]
            status = 400
        else:
            return redirect(url_for("care.page", patient_id=patient_id, done="joined"), code=303)
    else:
        status = 400
    return render(
        "appointments/waitlist.html",
        form=form,
        entries=waitlist.entries_of(patient_id),
        specialty_label=specialty_label,
        weekday_names={c.value: c.label for c in form.weekdays.choices},
        part_names={c.value: c.label for c in form.part.choices},
        confirm_form=ConfirmForm(),
        offer_minutes=waitlist.offer_minutes(),
        status=status,
    )


def _confirmed_or_400() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _waitlist_refused(patient_id: int, message):
    booking.open_booking_page(g.account, patient_id)
    return render("appointments/waitlist_refused.html", message=str(message), status=409)


@bp.post("/card/<int:patient_id>/appointments/waitlist/<int:entry_id>/leave")
@card
def leave(patient_id: int, entry_id: int):
    _confirmed_or_400()
    try:
        waitlist.leave(g.account, patient_id, entry_id)
    except LookupError:
        abort(404)
    except waitlist.Refused as refused:
        return _waitlist_refused(patient_id, refused.message)
    return redirect(url_for("care.page", patient_id=patient_id, done="left"), code=303)


@bp.post("/card/<int:patient_id>/appointments/waitlist/offers/<int:offer_id>/<any(accept, decline):answer>")
@card
def answer(patient_id: int, offer_id: int, answer: str):
    _confirmed_or_400()
    try:
        if answer == "accept":
            appointment = waitlist.accept(g.account, patient_id, offer_id)
        else:
            waitlist.decline(g.account, patient_id, offer_id)
    except LookupError:
        abort(404)
    except waitlist.Refused as refused:
        message = REFUSALS.get(refused.booking_reason or "", refused.message)
        return _waitlist_refused(patient_id, message)
    if answer == "accept":
        return redirect(
            url_for("appointments.ticket", patient_id=patient_id, appointment_id=appointment.id, done="booked"),
            code=303,
        )
    return redirect(url_for("care.page", patient_id=patient_id, done="declined"), code=303)


# -- home visits ---------------------------------------------------------------------------------


@bp.get("/card/<int:patient_id>/home-visits")
@card
def home_visits(patient_id: int):
    context = booking.open_booking_page(g.account, patient_id)  # the card named, the read audited
    rows = homevisit.requests_of(patient_id)
    cancellable = {
        r.request.id
        for r in rows
        if r.request.status in ("new", "accepted") and homevisit.may_cancel(g.account, context.decision, r.request)
    }
    return render("appointments/home_visits.html", rows=rows, statuses=_visit_statuses(), cancellable=cancellable)


@bp.route("/card/<int:patient_id>/home-visits/<int:request_id>/cancel", methods=["GET", "POST"])
@card
def home_visit_cancel(patient_id: int, request_id: int):
    """Cancel a call not yet done: the patient or a guardian any of the card's, a trusted person
    those they made; another card's call is 404."""
    context = booking.open_booking_page(g.account, patient_id)
    try:
        item = homevisit.of_card(patient_id, request_id)
    except LookupError:
        abort(404)
    if not homevisit.may_cancel(g.account, context.decision, item):
        abort(404)
    form = CancelVisitForm()
    status, refusal = 200, None
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                homevisit.cancel(g.account, patient_id, request_id, form.reason.data)
            except LookupError:
                abort(404)
            except InvalidTransition as refused:
                status, refusal = 409, _visit_refusals()[refused.code]
            else:
                return redirect(url_for("care.home_visits", patient_id=patient_id, done="cancelled"), code=303)
    return render(
        "appointments/home_visit_cancel.html",
        form=form,
        item=item,
        number=homevisit.number_of(item),
        statuses=_visit_statuses(),
        refusal=refusal,
        status=status,
    )


@bp.route("/card/<int:patient_id>/home-visits/new", methods=["GET", "POST"])
@card
def home_visit_new(patient_id: int):
    context = booking.open_booking_page(g.account, patient_id)
    from portal.directory.service import attached_organisation

    attached = attached_organisation(patient_id)
    form = HomeVisitForm()
    status = 200
    if request.method == "GET":
        form.address.data = homevisit.last_address(patient_id)
        form.phone.data = g.account.phone if context.decision.basis == "self" else ""
    elif form.validate_on_submit() and attached is not None:
        try:
            homevisit.request_visit(
                g.account,
                patient_id,
                form.address.data.strip(),
                form.symptoms.data.strip(),
                getattr(form.temperature, "value", None) if form.temperature.data else None,
                normal_phone(form.phone.data),
            )
        except homevisit.Refused as refused:
            form.form_errors.append(str(refused.message))
            status = 409
        else:
            return redirect(url_for("care.home_visits", patient_id=patient_id, done="sent"), code=303)
    else:
        status = 400
    return render("appointments/home_visit_new.html", form=form, attached=attached, status=status)


# -- the registrar's desk ------------------------------------------------------------------------


@desk.get("/home-visits")
@staff("registrar")
def visit_queue():
    waiting, accepted = homevisit.queue(g.account)
    return render("appointments/desk_visits.html", rows=waiting, accepted=accepted, number_of=homevisit.number_of)


def _visit_page(request_id: int, *, status: int = 200, refusal: str | None = None, **forms):
    try:
        item, patient, decision = homevisit.for_registrar(g.account, request_id)
    except LookupError:
        abort(404)
    accept_form = forms.get("accept_form") or AcceptVisitForm(formdata=None)
    accept_form.practitioner.choices = choices(
        [("", _("Choose a doctor"))] + [(str(i), n) for i, n in homevisit.doctors_of(item.organisation_id)]
    )
    return render(
        "appointments/desk_visit.html",
        item=item,
        patient=patient,
        own=decision.conflict,
        number=homevisit.number_of(item),
        accept_form=accept_form,
        refuse_form=forms.get("refuse_form") or RefuseVisitForm(formdata=None),
        cancel_form=forms.get("cancel_form") or ClinicCancelVisitForm(formdata=None),
        statuses=_visit_statuses(),
        refusal=refusal,
        status=status,
    )


@desk.get("/home-visits/<int:request_id>")
@staff("registrar")
def visit(request_id: int):
    return _visit_page(request_id)


@desk.post("/home-visits/<int:request_id>/<any(accept, refuse):decision>")
@staff("registrar")
def decide_visit(request_id: int, decision: str):
    try:
        item, _patient, _allowed = homevisit.for_registrar(g.account, request_id)
    except LookupError:
        abort(404)
    if decision == "accept":
        form = AcceptVisitForm()
        form.practitioner.choices = choices(
            [("", "")] + [(str(i), n) for i, n in homevisit.doctors_of(item.organisation_id)]
        )
        if not form.validate_on_submit():
            return _visit_page(request_id, accept_form=form, status=400)
        try:
            homevisit.decide(g.account, request_id, True, int(form.practitioner.data), form.visit_on.data)
        except LookupError:
            abort(404)
        except homevisit.Refused as refused:
            target = getattr(form, refused.field, None) if refused.field else None
            if target is not None:
                target.errors = [refused.message]
            else:
                form.form_errors.append(str(refused.message))
            return _visit_page(request_id, accept_form=form, status=400)
    else:
        form = RefuseVisitForm()
        if not form.validate_on_submit():
            return _visit_page(request_id, refuse_form=form, status=400)
        try:
            homevisit.decide(g.account, request_id, False, reason=form.reason.data.strip())
        except LookupError:
            abort(404)
        except homevisit.Refused as refused:
            form.reason.errors = [refused.message]
            return _visit_page(request_id, refuse_form=form, status=400)
    return redirect(url_for("clinic_queue.visit_queue", done=decision), code=303)


@desk.post("/home-visits/<int:request_id>/<any(done, cancel):action>")
@staff("registrar")
def close_visit(request_id: int, action: str):
    """Mark an accepted visit done, or cancel it with a reason; the citizen is told."""
    reason = None
    if action == "done":
        _confirmed_or_400()
    else:
        form = ClinicCancelVisitForm()
        if not form.validate_on_submit():
            return _visit_page(request_id, cancel_form=form, status=400)
        reason = form.reason.data
    try:
        homevisit.close(g.account, request_id, "done" if action == "done" else "cancelled", reason)
    except LookupError:
        abort(404)
    except InvalidTransition as refused:
        return _visit_page(request_id, refusal=_visit_refusals()[refused.code], status=409)
    return redirect(url_for("clinic_queue.visit_queue", done=action), code=303)


@desk.get("/appointments")
@staff("registrar")
def day():
    try:
        chosen = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        chosen = today()
    from portal import clock

    moment = clock.now()
    rows = [
        (a, p, d, reminders.allowed_marks(a, ends, moment), org)
        for a, p, d, ends, org in reminders.day_list(g.account, chosen)
    ]
    return render(
        "appointments/desk_day.html",
        rows=rows,
        day=chosen,
        statuses=STATUSES,
        specialty_label=specialty_label,
        form=ConfirmForm(),
        marks={"arrived": _("Arrived"), "completed": _("Completed"), "no_show": _("Did not come")},
    )


@desk.post("/appointments/<int:appointment_id>/<any(arrived, completed, no_show):mark>")
@staff("registrar")
def mark(appointment_id: int, mark: str):
    _confirmed_or_400()
    try:
        appointment = reminders.mark(g.account, appointment_id, mark)
    except LookupError:
        abort(404)
    except reminders.Refused as refused:
        return render("appointments/desk_refused.html", message=str(refused.message), status=409)
    from portal import clock

    return redirect(
        url_for("clinic_queue.day", date=clock.local_date(appointment.starts_at).isoformat(), done=mark), code=303
    )
