"""Export of the whole card: a page that says what an export holds, a PDF summary and a FHIR IPS
document. Each download is decided and audited once (``service.export``)."""

from __future__ import annotations

import json

import segno
from flask import Blueprint, abort, g, url_for
from flask_babel import gettext as _

from portal import clock, uploads
from portal.access import card, confirm_password_first
from portal.export import fhir, service
from portal.extensions import limiter
from portal.pdf import render_pdf
from portal.record import catalog
from portal.record.listing import prescription_state
from portal.record.sections import LABELS
from portal.rendering import render

bp = Blueprint("export", __name__, template_folder="templates")
# Making a file costs the server far more than showing a page (SECURITY.md check 48).
DOWNLOAD_LIMIT = "10/minute;60/hour"


def _filename(data: service.CardExport, extension: str) -> str:
    patient = data.patient
    return f"Медкарта {patient.surname} {patient.name} {clock.local_date(data.generated_at).isoformat()}.{extension}"


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
    data = service.export(g.account, patient_id, "pdf")
    pdf = render_pdf("export/summary_pdf.html", data=data, labels=LABELS, words=fhir, catalog=catalog)
    return uploads.download(pdf, _filename(data, "pdf"), "application/pdf")


@bp.get("/card/<int:patient_id>/export/ips.json")
@card
@limiter.limit(DOWNLOAD_LIMIT)
def ips_json(patient_id: int):
    confirm = _confirm_first(patient_id)
    if confirm is not None:
        return confirm
    data = service.export(g.account, patient_id, "ips")
    body = json.dumps(fhir.build_bundle(data), ensure_ascii=False, indent=2).encode()
    return uploads.download(body, _filename(data, "json"), fhir.MEDIA_TYPE)


@bp.get("/card/<int:patient_id>/<any(prescriptions, visits):section>/<int:entry_id>/document.pdf")
@card
@limiter.limit(DOWNLOAD_LIMIT)
def entry_pdf(patient_id: int, section: str, entry_id: int):
    """A prescription or a visit's protocol as a tagged PDF, decided and audited as an export."""
    try:
        data = service.export_entry(g.account, patient_id, section, entry_id)
    except LookupError:
        abort(404)
    context: dict = {"data": data, "qr": None, "qr_text": None, "state": None}
    if section == "prescriptions":
        text = service.prescription_qr_text(data.entry)
        context["qr_text"] = text
        context["state"] = prescription_state(data.entry)
        context["qr"] = segno.make(text, error="m").svg_inline(scale=3, title=_("QR code of the prescription"))
        name = _("Prescription %(number)s", number=data.entry.number)
    else:
        name = _("Visit report %(date)s", date=data.entry.started_at.date().isoformat())
    pdf = render_pdf("export/entry_pdf.html", **context)
    return uploads.download(pdf, f"{name}.pdf", "application/pdf")
