from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.access import card, policy, public, signed_in
from portal.auth.sessions import account_if_signed_in
from portal.database import db
from portal.directory import attachment, service
from portal.directory.forms import AttachmentForm, ClinicSearchForm, DoctorSearchForm
from portal.directory.models import ACCESSIBILITY_FEATURES, Organisation
from portal.directory.regions import ACCESSIBILITY, KINDS, REGIONS, WEEKDAYS
from portal.directory.specialties import load_specialties
from portal.forms import choices
from portal.listings import listings
from portal.rendering import page_response, render, render_block_html, translated, wants_fragment

bp = Blueprint("directory", __name__, template_folder="templates")


def _specialty_choices(everyone: str) -> list:
    locale = str(get_locale())
    named = sorted(((s.code, s.label(locale)) for s in load_specialties()), key=lambda pair: pair[1])
    return choices([("", everyone), *named])


def _own_card() -> int | None:
    """The signed-in citizen's card, whose clinic is listed first."""
    account = account_if_signed_in()
    return account.patient_id if account is not None else None


def _kept_search(name: str, template: str, make_form, search, context):
    """A public search page of the directory (its form and results, or the results an htmx search
    asks for), rendered once per language, search and attached clinic and kept a short while
    (portal/listings.py); a search that fails validation is rendered each time, with the errors.
    ``make_form()`` makes the page's form, ``search(form, own_card)`` finds, ``context(form,
    result)`` is what the template shows."""
    own_card = _own_card()
    block = "results" if wants_fragment() else "content"
    key = (name, block, str(get_locale()), request.script_root, tuple(sorted(request.args.items(multi=True))))
    key += (service.attached_organisation(own_card) if own_card else None,)
    refused: list = []

    def build():
        form = make_form()
        if not form.validate():
            refused.append(form)
            return None
        return render_block_html(template, block, **context(form, search(form, own_card)))

    html = listings().get_or_make(key, build)
    if html is None:  # the search did not validate: the page with its errors, not kept
        return render(template, fragment="results", status=400, **context(refused[0], None))
    if block == "results":
        return page_response(html)
    return render(template, kept_content=html, form=None)


@bp.get("/clinics")
@public
def clinics():
    """The directory's search of organisations."""

    def make_form():
        form = ClinicSearchForm(request.args)
        form.region.choices = choices(
            [("", _("All regions"))] + [(code, str(REGIONS.get(code, code))) for code in service.regions_present()]
        )
        form.specialty.choices = _specialty_choices(_("Any specialty"))
        return form

    def search(form, own_card):
        return service.search(
            form.q.data or "", form.region.data or "", form.after.data, specialty=form.specialty.data or "",
            patient_id=own_card,
        )  # fmt: skip

    return _kept_search("clinics", "directory/clinics.html", make_form, search, _clinics_context)


def _clinics_context(form, result) -> dict:
    return {"form": form, "result": result, "kinds": translated(KINDS), "regions": translated(REGIONS)}


@bp.get("/clinics/<int:organisation_id>")
@public
def organisation(organisation_id: int):
    view = service.organisation_page(organisation_id)
    if view is None:
        abort(404)
    locale = str(get_locale())
    return render(
        "directory/organisation.html",
        view=view,
        org=view.organisation,
        features=[(str(ACCESSIBILITY[f]), getattr(view.organisation, f)) for f in ACCESSIBILITY_FEATURES],
        weekdays=translated(WEEKDAYS),
        kinds=translated(KINDS),
        regions=translated(REGIONS),
        specialty_label=lambda code, fallback: _label(code, fallback, locale),
    )


def _label(code: str | None, fallback: str, locale: str) -> str:
    from portal.directory.specialties import label

    return label(code, locale, fallback)


@bp.get("/doctors")
@public
def doctors():
    """The directory's search of doctors, kept as the organisations' search is."""

    def make_form():
        form = DoctorSearchForm(request.args)
        form.specialty.choices = _specialty_choices(_("Any specialty"))
        return form

    def search(form, own_card):
        return service.search_doctors(
            form.q.data or "", form.specialty.data or "", form.place.data or "", own_card, form.after.data
        )

    return _kept_search("doctors", "directory/doctors.html", make_form, search, _doctors_context)


def _doctors_context(form, result) -> dict:
    locale = str(get_locale())
    return {"form": form, "result": result, "specialty_label": lambda code, fallback: _label(code, fallback, locale)}


@bp.route("/attachment", methods=["GET", "POST"])
@signed_in
def attachment_page():
    """The citizen's clinic, and the application to change it (for their own card); links to the
    same page for each child whose guardian they are."""
    from portal.access.service import children_of

    account = g.account
    children = children_of(account) if account.verification_status == "verified" else []
    return _attachment_page(account.patient_id, url_for("directory.attachment_page"), children=children)


@bp.route("/card/<int:patient_id>/attachment", methods=["GET", "POST"])
@card
def child_attachment(patient_id: int):
    """A child's clinic, and the guardian's application to change it: the people
    ``policy.decide_attachment_change`` names (the patient, a guardian); anyone else 404."""
    _decision, patient = policy.require_attachment_change(g.account, patient_id)
    if patient.id == g.account.patient_id:
        return redirect(url_for("directory.attachment_page"), code=303)
    return _attachment_page(patient.id, url_for("directory.child_attachment", patient_id=patient.id), child=patient)


def _attachment_page(patient_id: int | None, action: str, child=None, children=()):
    form = AttachmentForm()
    organisations = attachment.attachable_organisations()
    form.organisation.choices = choices(
        [("", _("Choose a clinic"))] + [(str(i), f"{name}, {address}") for i, name, address in organisations]
    )
    status = 200
    if patient_id is not None and request.method == "POST":
        if form.validate_on_submit():
            try:
                attachment.apply(
                    g.account, int(form.organisation.data), form.reason.data.strip(), bool(form.moved.data), patient_id
                )
            except attachment.Refused as refused:
                getattr(form, refused.field).errors = [refused.message]
            else:
                return redirect(f"{action}?done=applied", code=303)
        status = 400
    current = service.attached_organisation(patient_id) if patient_id else None
    return render(
        "directory/attachment.html",
        form=form,
        action=action,
        child=child,
        children=children,
        current=db.session.get(Organisation, current) if current else None,
        applications=attachment.history(patient_id) if patient_id else [],
        number_of=attachment.number_of,
        has_card=patient_id is not None,
        status=status,
    )
