"""A test-only personal plugin: signed-in pages, a card page, card reads and writes, messages and
audit events, written with ``portal.plugin_api`` alone (as a regional telemedicine module would)."""

from dataclasses import asdict

from flask import jsonify, redirect, request

from portal.plugin_api import (
    Blueprint,
    Measured,
    NewDiagnosis,
    audit_event,
    card_entry,
    card_guard,
    card_section,
    current_account,
    hookimpl,
    measurements,
    notify,
    patient_summary,
    rate_limit,
    render,
    signed_in,
    staff_guard,
    url_for,
    write_measurements,
    write_visit_conclusion,
)

CONTRACT = "1.0"

NAME = "personal"
bp = Blueprint(NAME, __name__, url_prefix="/personal")


@bp.get("/me")
@signed_in
def me():
    return render("personal/me.html", account=current_account())


@bp.post("/me/ping")
@signed_in
@rate_limit("2/minute", methods=["POST"])
def ping():
    account = current_account()
    notify(account.id, plugin=NAME, title="Your consultation is booked", body="Tomorrow at 10:00.", url="/personal/me")
    audit_event(NAME, "pinged", reason="a test message")
    return redirect(url_for("personal.me"), code=303)


@bp.get("/staff")
@staff_guard("doctor")
def staff_only():
    return render("personal/me.html", account=current_account())


@bp.get("/card/<int:patient_id>/results")
@card_guard(section="results", action="read")
def results(patient_id: int):
    return render("personal/results.html", page_of=card_section(patient_id, "results"))


@bp.get("/card/<int:patient_id>/read/<section>")
@card_guard(section="summary", action="read")
def read(patient_id: int, section: str):
    """Everything a plugin may read, as JSON: the summary and one section's first page."""
    found = card_section(patient_id, section, limit=int(request.args.get("limit", 20)))
    return jsonify(
        summary=asdict(patient_summary(patient_id)),
        entries=[asdict(e) | {"type": type(e).__name__} for e in found.entries],
        next_after=found.next_after,
    )


@bp.get("/card/<int:patient_id>/entry/<section>/<int:entry_id>")
@card_guard(section="summary", action="read")
def entry(patient_id: int, section: str, entry_id: int):
    found = card_entry(patient_id, section, entry_id)
    return jsonify(asdict(found) | {"type": type(found).__name__})


@bp.get("/card/<int:patient_id>/trend/<code>")
@card_guard(section="results", action="read")
def trend(patient_id: int, code: str):
    found = measurements(patient_id, code)
    return jsonify(None if found is None else asdict(found))


@bp.post("/card/<int:patient_id>/consultation")
@card_guard(section="visits", action="write")
def consultation(patient_id: int):
    visit = write_visit_conclusion(
        patient_id,
        conclusion=request.form["conclusion"],
        complaints=request.form.get("complaints"),
        diagnoses=[NewDiagnosis("I10", "Эссенциальная гипертензия", "main", "final")]
        if request.form.get("diagnosis")
        else [],
    )
    audit_event(NAME, "consulted", patient_id=patient_id, object_type="visit", object_id=visit.id)
    return jsonify(asdict(visit))


@bp.post("/card/<int:patient_id>/vitals")
@card_guard(section="results", action="write")
def vitals(patient_id: int):
    report = write_measurements(
        patient_id,
        [
            Measured("8480-6", float(request.form["systolic"]), "mm[Hg]", 90, 139),
            Measured("8462-4", float(request.form["diastolic"]), "mm[Hg]", 60, 89),
        ],
    )
    return jsonify(asdict(report))


@hookimpl
def register_blueprints():
    return [bp]
