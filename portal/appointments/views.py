"""The citizen's appointment pages: the card's appointments, the booking steps (specialty → doctor
or any doctor → date → time → confirm, each a plain GET page; htmx narrows a step's list in place),
the ticket («талон») with its QR code, print and calendar file, cancelling and moving."""

from __future__ import annotations

import html
from datetime import date
from functools import lru_cache

from flask import Blueprint, Response, abort, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.access import card
from portal.appointments import booking, kinds, step_lists
from portal.appointments.forms import BookForm
from portal.directory.regions import ACCESSIBILITY
from portal.directory.specialties import by_code
from portal.rendering import render
from portal.web.forms import ConfirmForm

bp = Blueprint("appointments", __name__, template_folder="templates")

REFUSALS = {
    "taken": _l("Someone else booked this time a moment ago."),
    "past": _l("This time has already passed."),
    "cancelled": _l("The clinic has cancelled this time: it cannot be booked."),
    "no_slot": _l("There is no such time in the schedule."),
    "referral_needed": _l("This specialty is booked with a referral from your doctor."),
    "referral": _l(
        "This referral cannot be used: it is not on this card, it has been used or has expired, "
        "or it is for another specialty."
    ),
    "one_per_specialty": _l("This card already has an upcoming appointment with this specialty. Cancel or move it."),
    "no_appointment": _l("There is no such appointment to move."),
    "other_specialty": _l("An appointment can be moved only to a doctor of the same specialty."),
    "not_booked": _l("This appointment is already cancelled or over."),
}
CONFLICTS = {"taken", "past", "cancelled", "one_per_specialty", "cutoff", "not_booked"}
STATUSES = {
    "booked": _l("Booked"),
    "arrived": _l("Arrived"),
    "completed": _l("Completed"),
    "no_show": _l("Not attended"),
    "cancelled_by_patient": _l("Cancelled"),
    "cancelled_by_clinic": _l("Cancelled by the clinic"),
}
KINDS = kinds.LABELS  # the core's and the plugins' kinds of appointment
# The parts of the day the time step groups its times under (booking.PARTS_OF_DAY), and its filter.
PARTS = {
    "morning": _l("Morning, before 12:00"),
    "day": _l("Afternoon, 12:00 to 17:00"),
    "evening": _l("Evening, from 17:00"),
}
FILTER_PARTS = {"": _l("Any time"), **PARTS}


def _locale() -> str:
    return str(get_locale() or "ru")


def specialty_label(code: str | None) -> str:
    found = by_code().get(code or "")
    return found.label(_locale()) if found else ""


def _int(name: str) -> int | None:
    value = request.values.get(name, "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def _carry() -> dict:
    """The referral used, or the appointment being moved, carried through the steps."""
    return {k: v for k in ("referral", "replace") if (v := _int(k)) is not None}


def _specialty_or_400() -> str | None:
    code = request.args.get("specialty", "")
    return code if code in by_code() else None


def _bad_step(context_message: str, patient_id: int):
    return render(
        "appointments/bad_step.html",
        message=context_message,
        start=url_for("appointments.book", patient_id=patient_id, **_carry()),
        status=400,
    )


def _refused_page(patient_id: int, refused: booking.Refused):
    booking.open_booking_page(g.account, patient_id)  # names the card on the page; the read audited
    if refused.reason == "cutoff":
        message = _(
            "It is less than %(hours)s hours before the appointment: to cancel or move it, call the clinic.",
            hours=int(booking.cutoff().total_seconds() // 3600),
        )
    else:
        message = str(REFUSALS[refused.reason])
    return render(
        "appointments/refused.html",
        reason=refused.reason,
        message=message,
        alternatives=refused.alternatives,
        carry=_carry(),
        appointment_id=refused.appointment_id,
        specialty_label=specialty_label,
        kinds=KINDS,
        status=409 if refused.reason in CONFLICTS else 400,
    )


# -- the card's appointments ---------------------------------------------------------------------


@bp.get("/card/<int:patient_id>/appointments")
@card
def list_page(patient_id: int):
    _context, upcoming, past, may_book = booking.appointments_of(g.account, patient_id)
    return render(
        "appointments/list.html",
        upcoming=upcoming,
        past=past,
        may_book=may_book,
        statuses=STATUSES,
        specialty_label=specialty_label,
    )


# -- booking, step by step -----------------------------------------------------------------------


@bp.get("/card/<int:patient_id>/appointments/book")
@card
def book(patient_id: int):
    booking.open_booking_page(g.account, patient_id)
    return render(
        "appointments/step_specialty.html",
        choices=booking.specialty_choices(patient_id),
        carry=_carry(),
        specialty_label=specialty_label,
    )


@bp.get("/card/<int:patient_id>/appointments/book/doctor")
@card
def book_doctor(patient_id: int):
    context = booking.open_booking_page(g.account, patient_id)
    specialty = _specialty_or_400()
    if specialty is None:
        return _bad_step(_("Choose a specialty first."), patient_id)
    q = request.args.get("q", "").strip()[:100]
    found = booking.doctors(specialty, context.patient.id)
    shown = [d for d in found if d.surname.casefold().startswith(q.casefold())] if q else found
    carry = _carry()
    return render(
        "appointments/step_doctor.html",
        fragment="step",
        specialty=specialty,
        doctors=shown,
        items=step_lists.doctor_items(shown, patient_id, specialty, carry, _locale() != "ru"),
        total=len(found),
        q=q,
        carry=carry,
        specialty_label=specialty_label,
    )


def _who() -> tuple[bool, int | None]:
    """(valid, doctor id or None for any doctor) from the ``doctor`` argument."""
    value = request.args.get("doctor", "")
    if value == "any":
        return True, None
    doctor_id = _int("doctor")
    return doctor_id is not None, doctor_id


@bp.get("/card/<int:patient_id>/appointments/book/date")
@card
def book_date(patient_id: int):
    booking.open_booking_page(g.account, patient_id)
    specialty = _specialty_or_400()
    valid, doctor_id = _who()
    if specialty is None or not valid:
        return _bad_step(_("Choose a specialty and a doctor first."), patient_id)
    chosen = booking.doctor(doctor_id) if doctor_id else None
    if doctor_id and (chosen is None or chosen.specialty_code != specialty):
        return _bad_step(_("Choose a specialty and a doctor first."), patient_id)
    days = booking.days(specialty, doctor_id)
    carry = _carry()
    return render(
        "appointments/step_date.html",
        specialty=specialty,
        doctor=chosen,
        days=days,
        items=step_lists.day_items(days, patient_id, specialty, doctor_id or "any", carry),
        carry=carry,
        specialty_label=specialty_label,
    )


@bp.get("/card/<int:patient_id>/appointments/book/time")
@card
def book_time(patient_id: int):
    booking.open_booking_page(g.account, patient_id)
    specialty = _specialty_or_400()
    valid, doctor_id = _who()
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        day = None
    part = request.args.get("part", "")
    if specialty is None or not valid or day is None or part not in FILTER_PARTS:
        return _bad_step(_("Choose a specialty, a doctor and a date first."), patient_id)
    chosen = booking.doctor(doctor_id) if doctor_id else None
    times = booking.times(specialty, doctor_id, day, part, patient_id)
    carry = _carry()
    return render(
        "appointments/step_time.html",
        fragment="step",
        specialty=specialty,
        doctor=chosen,
        who=doctor_id or "any",
        day=day,
        part=part,
        parts=FILTER_PARTS,
        times=times,
        groups=step_lists.time_groups(times, patient_id, carry, PARTS, KINDS),
        carry=carry,
        specialty_label=specialty_label,
    )


@bp.route("/card/<int:patient_id>/appointments/book/confirm", methods=["GET", "POST"])
@card
def confirm(patient_id: int):
    form = BookForm()
    if request.method == "POST":
        if not form.validate_on_submit() or _int("slot") is None:
            booking.open_booking_page(g.account, patient_id)
            return _bad_step(_("The form has expired. Choose the time again."), patient_id)
        try:
            done = booking.book(g.account, patient_id, _int("slot"), _int("referral"), _int("replace"))
        except booking.Refused as refused:
            return _refused_page(patient_id, refused)
        flag = "already" if done.already else ("moved" if done.moved else "booked")
        return redirect(
            url_for("appointments.ticket", patient_id=patient_id, appointment_id=done.appointment.id, done=flag),
            code=303,
        )
    booking.open_booking_page(g.account, patient_id)
    slot_id = _int("slot")
    chosen = booking.slot_choice(slot_id) if slot_id is not None else None
    if chosen is None:
        return _bad_step(str(REFUSALS["no_slot"]), patient_id)
    specialty = booking.doctor(chosen.practitioner_id).specialty_code
    form.slot.data, form.referral.data, form.replace.data = (
        str(slot_id),
        request.args.get("referral", ""),
        request.args.get("replace", ""),
    )
    return render(
        "appointments/confirm.html",
        form=form,
        slot=chosen,
        specialty=specialty,
        needs_referral=specialty not in booking.direct_specialties() and not _int("referral"),
        kinds=KINDS,
        carry=_carry(),
        specialty_label=specialty_label,
    )


# -- the ticket, its calendar file, cancelling ---------------------------------------------------


def _ticket(patient_id: int, appointment_id: int) -> booking.Ticket:
    try:
        return booking.ticket(g.account, patient_id, appointment_id)
    except LookupError:
        abort(404)


@lru_cache(maxsize=4096)
def _qr_drawing(text: str) -> tuple[str, str]:
    """The QR code of ``text`` as inline SVG, split where its title goes. Drawing it (segno
    choosing the best of eight masks in Python) took 5–10 ms, most of the ticket page, and the
    drawing depends on the text alone (the ticket number, the time, the clinic's OID). So it is
    kept per process keyed by that text, with nothing in it to go stale: an appointment that
    changes has another text and so another key, and a worker that never saw a ticket draws it
    once. The title, in the reader's language, is put in on every request. At most 4,096 drawings
    of about 3 KB each are kept."""
    import segno

    svg = segno.make(text, error="m").svg_inline(scale=4)
    head, _gt, tail = svg.partition(">")
    return head + ">", tail


def _qr(found: booking.Ticket) -> str:
    """What segno's ``svg_inline(scale=4, title=…)`` writes, drawn once per text."""
    head, tail = _qr_drawing(found.qr_text)
    title = html.escape(_("QR code of ticket %(number)s", number=found.number), quote=False)
    return f"{head}<title>{title}</title>{tail}"


@bp.get("/card/<int:patient_id>/appointments/<int:appointment_id>")
@card
def ticket(patient_id: int, appointment_id: int):
    found = _ticket(patient_id, appointment_id)
    org = found.organisation
    return render(
        "appointments/ticket.html",
        t=found,
        a=found.appointment,
        qr=_qr(found),
        features=[(str(ACCESSIBILITY[key]), value) for key, value in org.accessibility.items()],
        statuses=STATUSES,
        kinds=KINDS,
        join=kinds.ticket_link(found.appointment),
        specialty_label=specialty_label,
        cutoff_hours=int(booking.cutoff().total_seconds() // 3600),
    )


@bp.get("/card/<int:patient_id>/appointments/<int:appointment_id>/ticket.ics")
@card
def ics(patient_id: int, appointment_id: int):
    found = _ticket(patient_id, appointment_id)
    doctor = found.doctor
    title = _("Appointment: %(specialty)s", specialty=specialty_label(found.appointment.specialty_code))
    parts = [_("Ticket %(number)s", number=found.number)]
    if doctor is not None:
        parts.append(doctor.full_name)
    if found.appointment.room:
        parts.append(_("room %(room)s", room=found.appointment.room))
    body = booking.ics(found, title, "; ".join(parts))
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="talon-{found.appointment.id}.ics"'
    return response


@bp.route("/card/<int:patient_id>/appointments/<int:appointment_id>/cancel", methods=["GET", "POST"])
@card
def cancel(patient_id: int, appointment_id: int):
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            booking.cancel(g.account, patient_id, appointment_id)
        except LookupError:
            abort(404)
        except booking.Refused as refused:
            return _refused_page(patient_id, refused)
        return redirect(
            url_for("appointments.ticket", patient_id=patient_id, appointment_id=appointment_id, done="cancelled"),
            code=303,
        )
    found = _ticket(patient_id, appointment_id)
    if not found.may_change:
        abort(404)
    return render(
        "appointments/cancel.html",
        t=found,
        a=found.appointment,
        form=form,
        specialty_label=specialty_label,
        cutoff_hours=int(booking.cutoff().total_seconds() // 3600),
        status=400 if request.method == "POST" else 200,
    )
