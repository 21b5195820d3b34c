"""Export of the whole card: a page that says what an export holds, a PDF summary and a FHIR IPS
document, and one entry as a PDF. Each download is decided and audited once (``service.export``;
for the PDFs ``jobs.summary`` / ``jobs.entry``, which serve a file a background job made, or
queue its job and answer with the «готовится» page and its status fragment)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, g, url_for
from flask_babel import gettext as _

from portal import clock, uploads
from portal.access import card, confirm_password_first
from portal.export import fhir, jobs, service
from portal.extensions import limiter
from portal.record.sections import LABELS
from portal.rendering import render

bp = Blueprint("export", __name__, template_folder="templates")
# Making a file costs the server far more than showing a page (SECURITY.md check 48).
DOWNLOAD_LIMIT = "10/minute;60/hour"
# The «готовится» page asks every 2 seconds whether the file is ready: a cheap answer.
STATUS_LIMIT = "90/minute"


def _filename(patient, day: str, extension: str) -> str:
    return f"Медкарта {patient.surname} {patient.name} {day}.{extension}"


def _confirm_first(patient_id: int):
    """The whole card leaves the portal: once the policy allows it (anyone else gets 404), the
    password again if it was entered too long ago (SECURITY.md check 20)."""
    service.may_export(g.account, patient_id)
    return confirm_password_first(cancel=url_for("export.export_page", patient_id=patient_id))


@bp.get("/card/<int:patient_id>/export")
@card
def export_page(patient_id: int):
    view, included = service.preview(g.account, patient_id)
    return render(
        "export/export.html",
        view=view,
        included=included,
        labels=LABELS,
    )


@bp.get("/card/<int:patient_id>/export/summary.pdf")
@card
@limiter.limit(DOWNLOAD_LIMIT)
def summary_pdf(patient_id: int):
    confirm = _confirm_first(patient_id)
    if confirm is not None:
        return confirm
    outcome = jobs.summary(g.account, patient_id)
    if outcome.pdf is not None:
        return uploads.download(
            outcome.pdf, _filename(outcome.card.patient, outcome.spec.day, "pdf"), "application/pdf"
        )
    return _preparing(
        outcome,
        url_for("export.summary_pdf", patient_id=patient_id),
        url_for("export.summary_pdf_status", patient_id=patient_id),
        _("Summary of the card (PDF)"),
        url_for("export.export_page", patient_id=patient_id),
        _("Back to downloading the card"),
    )


@bp.get("/card/<int:patient_id>/export/summary.pdf/status")
@card
@limiter.limit(STATUS_LIMIT)
def summary_pdf_status(patient_id: int):
    """Whether the file is ready: decided by the policy (404 for anyone else), never audited
    (nothing is read or served) and without the password step, which guards the file itself."""
    outcome = jobs.summary(g.account, patient_id, serve=False)
    return _status(
        outcome,
        url_for("export.summary_pdf", patient_id=patient_id),
        url_for("export.summary_pdf_status", patient_id=patient_id),
        _("Summary of the card (PDF)"),
    )


def _state(outcome: jobs.Outcome) -> str:
    return "ready" if outcome.ready else "failed" if outcome.failed else "preparing"


def _preparing(outcome: jobs.Outcome, file_url: str, status_url: str, label: str, back_url: str, back_label: str):
    """The «готовится» page (202 Accepted: the file is on its way)."""
    return render(
        "export/preparing.html",
        state=_state(outcome),
        file_url=file_url,
        status_url=status_url,
        file_label=label,
        back_url=back_url,
        back_label=back_label,
        status=202,
    )


def _status(outcome: jobs.Outcome, file_url: str, status_url: str, label: str):
    """What the «готовится» page polls: 204 while the file is being made (htmx swaps nothing),
    then the fragment with the link (or the failure and a link to try again)."""
    if _state(outcome) == "preparing":
        return Response(status=204)
    response = render(
        "export/_preparing_state.html",
        state=_state(outcome),
        file_url=file_url,
        status_url=status_url,
        file_label=label,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/card/<int:patient_id>/export/ips.json")
@card
@limiter.limit(DOWNLOAD_LIMIT)
def ips_json(patient_id: int):
    confirm = _confirm_first(patient_id)
    if confirm is not None:
        return confirm
    data = service.export(g.account, patient_id, "ips")
    body = json.dumps(fhir.build_bundle(data), ensure_ascii=False, indent=2).encode()
    day = clock.local_date(data.generated_at).isoformat()
    return uploads.download(body, _filename(data.patient, day, "json"), fhir.MEDIA_TYPE)


ENTRY_URL = "/card/<int:patient_id>/<any(prescriptions, visits):section>/<int:entry_id>/document.pdf"


def _entry_label(section: str, entry) -> str:
    if section == "prescriptions":
        return _("Prescription %(number)s", number=entry.number)
    return _("Visit report %(date)s", date=entry.started_at.date().isoformat())


@bp.get(ENTRY_URL)
@card
@limiter.limit(DOWNLOAD_LIMIT)
def entry_pdf(patient_id: int, section: str, entry_id: int):
    """A prescription or a visit's protocol as a tagged PDF, decided and audited as an export."""
    try:
        outcome = jobs.entry(g.account, patient_id, section, entry_id)
    except LookupError:
        abort(404)
    label = _entry_label(section, outcome.entry)
    if outcome.pdf is not None:
        return uploads.download(outcome.pdf, f"{label}.pdf", "application/pdf")
    ids = {"patient_id": patient_id, "section": section, "entry_id": entry_id}
    return _preparing(
        outcome,
        url_for("export.entry_pdf", **ids),
        url_for("export.entry_pdf_status", **ids),
        f"{label} (PDF)",
        url_for("record.entry", **ids),
        _("Back to the entry"),
    )


@bp.get(ENTRY_URL + "/status")
@card
@limiter.limit(STATUS_LIMIT)
def entry_pdf_status(patient_id: int, section: str, entry_id: int):
    try:
        outcome = jobs.entry(g.account, patient_id, section, entry_id, serve=False)
    except LookupError:
        abort(404)
    ids = {"patient_id": patient_id, "section": section, "entry_id": entry_id}
    label = f"{_entry_label(section, outcome.entry)} (PDF)"
    return _status(outcome, url_for("export.entry_pdf", **ids), url_for("export.entry_pdf_status", **ids), label)
