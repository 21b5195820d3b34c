"""The clinicians' workspace pages: the doctor's day (/doctor) and the nurse's list (/nurse) with
the measurements form. Staff routes of one role each; another organisation's appointment, or one
booked with another doctor, is 404."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from portal import clock
from portal.access import staff
from portal.appointments import reminders, workspace
from portal.appointments.views import KINDS, STATUSES, specialty_label
from portal.appointments.workspace_forms import MEASURES, MeasurementsForm
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("workspace", __name__, template_folder="templates")

MARKS = {"arrived": _l("Arrived"), "completed": _l("Completed"), "no_show": _l("Did not come")}


def _chosen_day() -> date:
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return clock.today()


@bp.get("/doctor")
@staff("doctor")
def doctor_day():
    day = _chosen_day()
    return render(
        "appointments/doctor_day.html",
        rows=workspace.doctor_day(g.account, day),
        day=day,
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
        today=clock.today(),
        statuses=STATUSES,
        kinds=KINDS,
        marks=MARKS,
        specialty_label=specialty_label,
        form=ConfirmForm(),
        done=request.args.get("done"),
    )


@bp.post("/doctor/appointments/<int:appointment_id>/<any(arrived, completed, no_show):mark>")
@staff("doctor")
def doctor_mark(appointment_id: int, mark: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        appointment = workspace.mark(g.account, appointment_id, mark)
    except LookupError:
        abort(404)
    except reminders.Refused as refused:
        return render(
            "appointments/desk_refused.html",
            message=str(refused.message),
            back=(url_for("workspace.doctor_day"), _l("My appointments")),
            status=409,
        )
    day = clock.local_date(appointment.starts_at).isoformat()
    return redirect(url_for("workspace.doctor_day", date=day, done=mark), code=303)


@bp.get("/nurse")
@staff("nurse")
def nurse_list():
    return render(
        "appointments/nurse_list.html",
        rows=workspace.nurse_list(g.account),
        day=clock.today(),
        statuses=STATUSES,
        done=request.args.get("done"),
    )


@bp.route("/nurse/appointments/<int:appointment_id>/measurements", methods=["GET", "POST"])
@staff("nurse")
def measurements(appointment_id: int):
    try:
        appointment, patient, _decision = workspace.measured_appointment(g.account, appointment_id)
    except LookupError:
        abort(404)
    form = MeasurementsForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                workspace.save_measurements(g.account, appointment_id, form.values())
            except LookupError:
                abort(404)
            return redirect(url_for("workspace.nurse_list", done="measured"), code=303)
        status = 400
    return render(
        "appointments/nurse_measurements.html",
        form=form,
        measures=MEASURES,
        appointment=appointment,
        patient=patient,
        age=workspace.age_on(patient.birth_date, clock.today()),
        status=status,
    )
