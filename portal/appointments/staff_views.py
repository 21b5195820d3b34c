"""Staff pages for appointments: the registrar's desk (find a patient; book, cancel and move on
their behalf) and the org admin's schedules (working rules and exceptions). Every route is a staff
route of one role; another organisation's patient, slot, appointment, rule or doctor is 404."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal import clock
from portal.access import policy, staff
from portal.appointments import admin, desk, kinds, states
from portal.appointments.models import EXCEPTION_KINDS
from portal.appointments.staff_forms import (
    DeskCancelForm,
    DeskSearchForm,
    DeskSlotsForm,
    ExceptionForm,
    NewRuleForm,
    RuleForm,
)
from portal.appointments.views import STATUSES, specialty_label
from portal.auth.forms import parse_date
from portal.database import db
from portal.forms import choices
from portal.rendering import render
from portal.web.forms import ConfirmForm

desk_bp = Blueprint("desk", __name__, url_prefix="/desk", template_folder="templates")
admin_bp = Blueprint("schedules", __name__, url_prefix="/clinic/schedules", template_folder="templates")

DESK_REFUSALS = {
    "taken": _l("Someone else booked this time a moment ago."),
    "past": _l("This time has already passed."),
    "referral_needed": _l("This specialty needs a valid referral on the patient's card, and there is none."),
    "one_per_specialty": _l("The patient already has an upcoming appointment with this specialty. Move it instead."),
    "other_specialty": _l("An appointment can be moved only to a doctor of the same specialty."),
    "not_booked": _l("This appointment is not booked ahead: it cannot be cancelled or moved."),
}
ADMIN_REFUSALS = {
    "past": _l("An exception cannot begin in the past."),
    "range": _l("The last day must not be before the first"),
    "valid_until_past": _l("A rule cannot end before today or before it began."),
    "valid_from_past": _l("A new rule cannot begin in the past: enter today or a later day"),
    "valid_until_before": _l("The rule cannot end before its first day"),
    "kind": _l("Choose from the list"),
}
# Which field of the new-rule form each refusal belongs to (the overlap: the weekdays).
RULE_REFUSAL_FIELDS = {
    "valid_from_past": "valid_from", "valid_until_before": "valid_until", "kind": "kind", "overlap": "weekdays",
}  # fmt: skip
KIND_LABELS = kinds.LABELS
EXCEPTION_LABELS = {"holiday": _l("Holiday"), "sick_leave": _l("Sick leave"), "training": _l("Training")}
WEEKDAY_LABELS = {
    "1": _l("Mon"), "2": _l("Tue"), "3": _l("Wed"), "4": _l("Thu"), "5": _l("Fri"), "6": _l("Sat"), "7": _l("Sun"),
}  # fmt: skip


# -- the desk -------------------------------------------------------------------------------------


@desk_bp.get("")
@staff("registrar")
def search():
    form = DeskSearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    found = desk.search(g.account, query) if query else []
    return render("appointments/desk_search.html", form=form, query=query, found=found, status=200)


def _slots_form(specialties: list[str]) -> DeskSlotsForm:
    form = DeskSlotsForm(request.args)
    form.specialty.choices = choices([(code, specialty_label(code)) for code in specialties])
    return form


def _patient_page(patient_id: int, *, refusal: str | None = None, alternatives=None, status: int = 200, move=None):
    try:
        seen = desk.open_patient(g.account, patient_id)
    except LookupError:
        abort(404)
    specialties = desk.specialties(g.account)
    form = _slots_form(specialties)
    specialty = move.specialty_code if move is not None else None
    if specialty is None and form.validate() and form.specialty.data in specialties:
        specialty = form.specialty.data
    day = (form.day_date() if not form.day.errors else None) or clock.today()
    slots = desk.free_slots(g.account, specialty, day) if specialty else []
    return render(
        "appointments/desk_patient.html",
        seen=seen,
        form=form,
        specialty=specialty,
        day=day,
        slots=slots,
        move=move,
        refusal=DESK_REFUSALS.get(refusal) if refusal else None,
        alternatives=alternatives or [],
        statuses=STATUSES,
        specialty_label=specialty_label,
        confirm=ConfirmForm(),
        cancel_form=DeskCancelForm(),
        done=request.args.get("done"),
        status=status,
    )


@desk_bp.get("/patients/<int:patient_id>")
@staff("registrar")
def patient(patient_id: int):
    return _patient_page(patient_id)


def _slot_id() -> int:
    try:
        return int(request.form.get("slot", ""))
    except ValueError:
        abort(404)


@desk_bp.post("/patients/<int:patient_id>/book")
@staff("registrar")
def book(patient_id: int):
    if not ConfirmForm().validate_on_submit():
        return _patient_page(patient_id, status=400)
    try:
        desk.book(g.account, patient_id, _slot_id())
    except LookupError:
        abort(404)
    except desk.DeskRefused as refused:
        status = 409 if refused.reason == "taken" else 400
        return _patient_page(patient_id, refusal=refused.reason, alternatives=refused.alternatives, status=status)
    return redirect(url_for("desk.patient", patient_id=patient_id, done="booked"), code=303)


def _appointment_or_404(patient_id: int, appointment_id: int):
    try:
        desk.open_patient(g.account, patient_id)
        return desk.appointment_of(g.account, patient_id, appointment_id)
    except LookupError:
        abort(404)


@desk_bp.route("/patients/<int:patient_id>/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
@staff("registrar")
def move(patient_id: int, appointment_id: int):
    """The free times of the appointment's specialty; a chosen one (POST) moves it there."""
    appointment = _appointment_or_404(patient_id, appointment_id)
    if request.method == "GET":
        return _patient_page(patient_id, move=appointment)
    if not ConfirmForm().validate_on_submit():
        return _patient_page(patient_id, move=appointment, status=400)
    try:
        desk.move(g.account, patient_id, appointment_id, _slot_id())
    except LookupError:
        abort(404)
    except desk.DeskRefused as refused:
        status = 409 if refused.reason == "taken" else 400
        return _patient_page(
            patient_id, refusal=refused.reason, alternatives=refused.alternatives, status=status, move=appointment
        )
    return redirect(url_for("desk.patient", patient_id=patient_id, done="moved"), code=303)


@desk_bp.post("/patients/<int:patient_id>/appointments/<int:appointment_id>/cancel")
@staff("registrar")
def cancel(patient_id: int, appointment_id: int):
    form = DeskCancelForm()
    if not form.validate_on_submit():
        return _patient_page(patient_id, refusal=None, status=400)
    try:
        desk.cancel(g.account, patient_id, appointment_id, (form.reason.data or "").strip() or None)
    except LookupError:
        abort(404)
    except (desk.DeskRefused, states.InvalidTransition):
        return _patient_page(patient_id, refusal="not_booked", status=400)
    return redirect(url_for("desk.patient", patient_id=patient_id, done="cancelled"), code=303)


# -- the org admin's schedules ----------------------------------------------------------------------


def _chosen_organisation() -> int | None:
    """``?organisation=<id>`` (kept through the forms and the redirects); malformed: 404."""
    value = request.args.get("organisation")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        abort(404)


def _overview_or_404(organisation_id: int | None = None):
    try:
        return admin.overview(g.account, organisation_id if organisation_id is not None else _chosen_organisation())
    except LookupError:
        abort(404)


def _back(seen) -> str:
    """The overview of the organisation the admin is working on (named when they have several)."""
    return url_for("schedules.overview", **_organisation_arg(seen))


def _organisation_arg(seen) -> dict:
    return {"organisation": seen.organisation.id} if len(seen.organisations) > 1 else {}


@admin_bp.get("")
@staff("org_admin")
def overview():
    seen = _overview_or_404()
    return render(
        "appointments/admin_schedules.html",
        seen=seen,
        exception_labels=EXCEPTION_LABELS,
        weekday_labels=WEEKDAY_LABELS,
        kind_labels=KIND_LABELS,
        today=clock.today(),
        specialty_label=specialty_label,
        chosen=_organisation_arg(seen),
        done=request.args.get("done"),
        affected=request.args.get("affected", type=int),
        restored=request.args.get("restored", type=int),
        made=request.args.get("made", type=int),
    )


def _rule_or_404(rule_id: int):
    try:
        return admin.rule_of(g.account, rule_id)
    except LookupError:
        abort(404)


@admin_bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@staff("org_admin")
def rule(rule_id: int):
    found = _rule_or_404(rule_id)
    form = RuleForm()
    status = 200
    if request.method == "GET":
        form.weekdays.data = found.weekdays
        form.start_time.data = f"{found.start_time:%H:%M}"
        form.end_time.data = f"{found.end_time:%H:%M}"
        form.slot_minutes.data = str(found.slot_minutes)
        form.room.data = found.room or ""
        form.valid_until.data = f"{found.valid_until:%d.%m.%Y}" if found.valid_until else ""
    elif form.validate_on_submit():
        start, end = form.times()
        try:
            affected = admin.update_rule(
                g.account,
                rule_id,
                weekdays=form.weekdays.data,
                start_time=start,
                end_time=end,
                slot_minutes=int(form.slot_minutes.data),
                room=(form.room.data or "").strip() or None,
                valid_until=parse_date(form.valid_until.data) if form.valid_until.data else None,
            )
        except LookupError:
            abort(404)
        except admin.AdminRefused as refused:
            form.valid_until.errors = [ADMIN_REFUSALS[refused.reason]]
            status = 400
        else:
            back = url_for("schedules.overview", done="rule", affected=len(affected), **_rule_organisation_arg(found))
            return redirect(back, code=303)
    else:
        status = 400
    doctor = db.session.get(admin.Practitioner, found.practitioner_id)
    return render(
        "appointments/admin_rule.html",
        form=form,
        rule=found,
        doctor=doctor,
        back=url_for("schedules.overview", **_rule_organisation_arg(found)),
        status=status,
    )


def _rule_organisation_arg(found) -> dict:
    """The rule's organisation, named for an admin of several."""
    return {"organisation": found.organisation_id} if len(policy.admin_organisations(g.account)) > 1 else {}


def _doctor_choices(seen) -> list[tuple[str, str]]:
    return [
        (str(p.id), f"{p.full_name}, {specialty_label(p.specialty_code) or p.specialty}") for p in seen.practitioners
    ]


@admin_bp.route("/rules/new", methods=["GET", "POST"])
@staff("org_admin")
def rule_new():
    """A new working rule for a doctor of the organisation (``?practitioner=<id>`` chosen ahead);
    its free times are made at once."""
    organisation_id = _chosen_organisation()
    preselected = request.args.get("practitioner")
    if preselected is not None:
        try:
            doctor = db.session.get(admin.Practitioner, int(preselected))
        except ValueError:
            abort(404)
        if doctor is None or not policy.decide_schedule(g.account, doctor.organisation_id).allowed:
            abort(404)
        if organisation_id is not None and organisation_id != doctor.organisation_id:
            abort(404)
        organisation_id = doctor.organisation_id
    seen = _overview_or_404(organisation_id)
    form = NewRuleForm()
    form.practitioner.choices = choices([("", _l("Choose the doctor")), *_doctor_choices(seen)])
    form.kind.choices = choices([(k, KIND_LABELS[k]) for k in kinds.known()])
    status = 200
    if request.method == "GET":
        form.practitioner.data = preselected or ""
        form.valid_from.data = f"{clock.today():%d.%m.%Y}"
    elif form.validate_on_submit():
        start, end = form.times()
        practitioner_id = form.practitioner_id()
        if practitioner_id is None:
            abort(404)
        try:
            _rule, made = admin.add_rule(
                g.account,
                admin.NewRule(
                    practitioner_id=practitioner_id,
                    weekdays=form.weekdays.data,
                    start_time=start,
                    end_time=end,
                    slot_minutes=int(form.slot_minutes.data),
                    room=(form.room.data or "").strip() or None,
                    kind=form.kind.data,
                    valid_from=parse_date(form.valid_from.data),
                    valid_until=parse_date(form.valid_until.data) if form.valid_until.data else None,
                ),
                seen.organisation.id,
            )
        except LookupError:
            abort(404)
        except admin.AdminRefused as refused:
            field = getattr(form, RULE_REFUSAL_FIELDS[refused.reason])
            field.errors = [
                _overlap_message(refused.rule) if refused.reason == "overlap" else ADMIN_REFUSALS[refused.reason]
            ]
            status = 400
        else:
            return redirect(
                url_for("schedules.overview", done="rule_added", made=made, **_organisation_arg(seen)), code=303
            )
    else:
        status = 400
    return render(
        "appointments/admin_rule_new.html",
        form=form,
        seen=seen,
        chosen=_organisation_arg(seen),
        back=_back(seen),
        status=status,
    )


def _overlap_message(rule) -> str:
    days = ", ".join(str(WEEKDAY_LABELS[d]) for d in rule.weekdays)
    return _(
        "The doctor already works at this time: %(days)s %(start)s–%(end)s. Choose other days or hours.",
        days=days,
        start=f"{rule.start_time:%H:%M}",
        end=f"{rule.end_time:%H:%M}",
    )


@admin_bp.route("/exceptions/new", methods=["GET", "POST"])
@staff("org_admin")
def exception_new():
    seen = _overview_or_404()
    form = ExceptionForm()
    form.practitioner.choices = choices([("all", _l("The whole organisation")), *_doctor_choices(seen)])
    form.kind.choices = choices([(k, EXCEPTION_LABELS[k]) for k in EXCEPTION_KINDS])
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            who = form.practitioner.data
            try:
                _exception, affected = admin.add_exception(
                    g.account,
                    practitioner_id=None if who == "all" else int(who),
                    kind=form.kind.data,
                    starts_on=parse_date(form.starts_on.data),
                    ends_on=parse_date(form.ends_on.data),
                    reason=form.reason.data,
                    organisation_id=seen.organisation.id,
                )
            except (LookupError, ValueError):
                abort(404)
            except admin.AdminRefused as refused:
                form.starts_on.errors = [ADMIN_REFUSALS[refused.reason]]
                status = 400
            else:
                back = url_for(
                    "schedules.overview", done="exception", affected=len(affected), **_organisation_arg(seen)
                )
                return redirect(back, code=303)
        else:
            status = 400
    return render(
        "appointments/admin_exception.html",
        form=form,
        seen=seen,
        chosen=_organisation_arg(seen),
        back=_back(seen),
        status=status,
        locale=str(get_locale()),
    )


@admin_bp.post("/exceptions/<int:exception_id>/remove")
@staff("org_admin")
def exception_remove(exception_id: int):
    """Remove an exception: its days' slots are bookable again."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        restored, organisation_id = admin.remove_exception(g.account, exception_id)
    except LookupError:
        abort(404)
    named = {"organisation": organisation_id} if len(policy.admin_organisations(g.account)) > 1 else {}
    return redirect(url_for("schedules.overview", done="lifted", restored=restored, **named), code=303)
