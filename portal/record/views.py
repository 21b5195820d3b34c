from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from portal.access import card, signed_in
from portal.access import service as access
from portal.audit.service import audited_read
from portal.database import write_transaction
from portal.identifiers import is_valid_enp
from portal.record import listing, service
from portal.record.forms import SectionFilter
from portal.record.plugin_sections import card_view, plugin_sections, rows_of
from portal.record.sections import BASES, LABELS
from portal.rendering import current_page, render

bp = Blueprint("record", __name__, template_folder="templates")

LISTED = "<any(" + ",".join(listing.SPECS) + "):section>"


@bp.get("/cards")
@signed_in
def cards():
    return render(
        "record/cards.html",
        links=access.cards_for(g.account),
        account=g.account,
        bases=BASES,
        opens_on=access.own_card_opens_on(g.account),
    )


@bp.get("/card/<int:patient_id>")
@card
def card_overview(patient_id: int):
    """«Моё здоровье»: the card's dashboard. Its cards come from the dashboard_cards hook, the
    same one plugins use; each shows only sections this viewer may see."""
    from flask import current_app

    with audited_read():  # the summary's read and each card's read are audited together
        view = service.open_section(g.account, patient_id, "summary")
        cards = current_app.extensions["portal.plugins"].collect("dashboard_cards", page=current_page())
    return render(
        "record/card.html",
        view=view,
        labels=LABELS,
        cards=sorted(cards, key=lambda c: (c.order, c.title)),
        actions=card_actions(view),
        plugin_sections=plugin_sections(),
    )


def card_actions(view: service.CardContext) -> list:
    """The card's list of actions: the core's (download, certificates) for those who may, then
    the plugins' (the ``card_actions`` hook), in their order."""
    from flask import current_app

    from portal.plugin_api import CardAction

    found = []
    if view.basis in ("self", "guardian", "trusted"):
        found.append(
            CardAction(
                _("Download the card (PDF or FHIR)"), url_for("export.export_page", patient_id=view.patient.id), 10
            )
        )
    if view.basis in ("self", "guardian"):
        found.append(
            CardAction(_("Certificates and extracts"), url_for("certificates.requests", patient_id=view.patient.id), 20)
        )
    found += current_app.extensions["portal.plugins"].collect("card_actions", page=current_page())
    return sorted(found, key=lambda a: a.order)


@bp.get(f"/card/<int:patient_id>/{LISTED}")
@card
def section(patient_id: int, section: str):
    spec = listing.SPECS[section]
    form = SectionFilter(request.args)
    with audited_read():
        view = service.open_section(g.account, patient_id, section)
        organisations, doctors = listing.choices_of(spec, patient_id)
        form.offer(spec.types, organisations, doctors)
        valid = form.validate()
        filters = listing.Filters(
            since=form.since_date() if valid else None,
            until=form.until_date() if valid else None,
            type=form.type.data or None if valid else None,
            organisation=int(form.organisation.data) if valid and form.organisation.data else None,
            doctor=int(form.doctor.data) if valid and form.doctor.data else None,
            after=form.after.data if valid else None,
        )
        entries = listing.page_of(spec, patient_id, filters) if valid else None
    return render(
        "record/section.html",
        fragment="results",
        view=view,
        spec=spec,
        form=form,
        filters=filters,
        result=entries,
        section_title=LABELS[section],
        prescription_state=listing.prescription_state,
        status=200 if valid else 400,
    )


@bp.get("/card/<int:patient_id>/more/<section>")
@card
def plugin_section(patient_id: int, section: str):
    """A section a plugin adds: decided and audited as any section, the frame (heading,
    breadcrumbs, the table of rows) rendered here, the rows given by the plugin."""
    found = plugin_sections().get(section)
    if found is None:
        abort(404)
    with audited_read():
        view = service.open_section(g.account, patient_id, section)
        rows = rows_of(found, card_view(view, service._locale()))
    return render(
        "record/plugin_section.html",
        view=view,
        section=found,
        rows=rows,
        section_title=found.title,
        status=200 if rows is not None else 503,
    )


@bp.get(f"/card/<int:patient_id>/{LISTED}/<int:entry_id>")
@card
def entry(patient_id: int, section: str, entry_id: int):
    spec = listing.SPECS[section]
    with audited_read():
        view = service.open_section(g.account, patient_id, section, object_type=section, object_id=entry_id)
        found = listing.entry_of(spec, patient_id, entry_id)
        if found is None:
            abort(404)
        related = service.related(g.account, view, section, found)
        may_send = section == "prescriptions" and service.may_send_to_pharmacy(g.account, view)
        may_download = service.may_download_entry(g.account, view, section)
    return render(
        "record/entry.html",
        may_send=may_send,
        may_download=may_download,
        view=view,
        spec=spec,
        entry=found,
        related=related,
        section_title=service.entry_title(section, found),
        trail=[(LABELS[section], url_for("record.section", patient_id=patient_id, section=section))],
        prescription_state=listing.prescription_state,
    )


@bp.get("/card/<int:patient_id>/results/trend/<code>")
@card
def trend(patient_id: int, code: str):
    with audited_read():
        view = service.open_section(g.account, patient_id, "results", object_type="trend", object_id=code)
        found = service.trend(patient_id, code)
    if found is None:
        abort(404)
    return render(
        "record/trend.html",
        view=view,
        trend=found,
        chart=service.chart_of(found),
        section_title=found.name,
        trail=[(LABELS["results"], url_for("record.section", patient_id=patient_id, section="results"))],
    )


@bp.get("/card/<int:patient_id>/insurance")
@card
def insurance(patient_id: int):
    with audited_read():
        view = service.open_section(g.account, patient_id, "insurance")
        policies, attachments, changes = service.insurance(patient_id)
    return render(
        "record/insurance.html",
        view=view,
        policies=policies,
        attachments=attachments,
        changes=changes,
        # A unified (16-digit) number has a check digit; older policy numbers have none.
        enp_ok={p.id: is_valid_enp(p.number) for p in policies if len("".join(p.number.split())) == 16},
        section_title=LABELS["insurance"],
    )


@bp.route("/card/<int:patient_id>/prescriptions/<int:entry_id>/pharmacy", methods=["GET", "POST"])
@card
def send_to_pharmacy(patient_id: int, entry_id: int):
    """Send an active prescription to a pharmacy chosen from the directory; the pharmacy's
    status is recorded on the prescription."""
    from portal.record.forms import PharmacyForm

    form = PharmacyForm(request.form if request.method == "POST" else None)
    with write_transaction():
        action = "add" if request.method == "POST" else "read"
        view = service.open_section(
            g.account, patient_id, "prescriptions", action=action, object_type="prescriptions", object_id=entry_id
        )
        prescription = listing.entry_of(listing.SPECS["prescriptions"], patient_id, entry_id)
        if prescription is None or listing.prescription_state(prescription) != "active":
            abort(404)
        form.pharmacy.choices = service.pharmacy_choices()
        may_send = service.may_send_to_pharmacy(g.account, view)
        if request.method == "POST" and may_send and form.validate():
            service.send_to_pharmacy(g.account, prescription, int(form.pharmacy.data))
            return redirect(
                url_for("record.entry", patient_id=patient_id, section="prescriptions", entry_id=entry_id, sent=1),
                code=303,
            )
    if not may_send:
        abort(404)
    return render(
        "record/pharmacy.html",
        view=view,
        form=form,
        prescription=prescription,
        section_title=_("Send to a pharmacy"),
        trail=[
            (LABELS["prescriptions"], url_for("record.section", patient_id=patient_id, section="prescriptions")),
            (
                prescription.drug,
                url_for("record.entry", patient_id=patient_id, section="prescriptions", entry_id=entry_id),
            ),
        ],
        status=400 if form.errors else 200,
    )


@bp.app_template_global()
def panel_name(code: str) -> str:
    """A LabReport's name (panel or study) in the reader's language."""
    from portal.record import catalog

    return catalog.panel_name(code, service._locale())


@bp.app_template_global()
def test_name(code: str) -> str:
    from portal.record import catalog

    return catalog.test_name(code, service._locale())


@bp.app_template_global()
def has_endpoint(name: str) -> bool:
    """Whether a feature's page exists (a plugin or optional feature may be absent)."""
    from flask import current_app

    return name in current_app.view_functions


@bp.app_template_global()
def render_section(section, rows: list, view) -> Markup:
    """A plugin section's own template (``RecordSection.template``) inside the core's frame."""
    from portal.rendering import render_plugin_template

    return render_plugin_template(section.plugin, section.template, section=section, rows=rows, view=view)
