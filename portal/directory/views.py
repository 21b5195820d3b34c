from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.access import public, signed_in
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


@bp.get("/clinics")
@public
def clinics():
    """The directory's search. A page of it (its form and results, or the results an htmx search
    asks for) is rendered once per language, search and attached clinic and kept a short while
    (portal/listings.py); a search that fails validation is rendered each time, with the errors."""
    own_card = _own_card()
    block = "results" if wants_fragment() else "content"
    key = ("clinics", block, str(get_locale()), request.script_root, tuple(sorted(request.args.items(multi=True))))
    key += (service.attached_organisation(own_card) if own_card else None,)
    built: dict = {}

    def build():
        form = ClinicSearchForm(request.args)
        form.region.choices = choices(
            [("", _("All regions"))] + [(code, str(REGIONS.get(code, code))) for code in service.regions_present()]
        )
        form.specialty.choices = _specialty_choices(_("Any specialty"))
        if not form.validate():
            built.update(form=form, result=None, status=400)
            return None
        result = service.search(
            form.q.data or "", form.region.data or "", form.after.data, specialty=form.specialty.data or "",
            patient_id=own_card,
        )  # fmt: skip
        built.update(form=form, result=result, status=200)
        return render_block_html("directory/clinics.html", block, **_clinics_context(form, result))

    html = listings().get_or_make(key, build)
    if html is None:  # the search did not validate: the page with its errors, not kept
        return render(
            "directory/clinics.html",
            fragment="results",
            status=built["status"],
            **_clinics_context(built["form"], built["result"]),
        )
    if block == "results":
        return page_response(html)
    return render("directory/clinics.html", kept_content=html, form=None)


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
    form = DoctorSearchForm(request.args)
    form.specialty.choices = _specialty_choices(_("Any specialty"))
    if form.validate():
        result = service.search_doctors(
            form.q.data or "", form.specialty.data or "", form.place.data or "", _own_card(), form.after.data
        )
        status = 200
    else:
        result, status = None, 400
    locale = str(get_locale())
    return render(
        "directory/doctors.html",
        fragment="results",
        form=form,
        result=result,
        specialty_label=lambda code, fallback: _label(code, fallback, locale),
        status=status,
    )


@bp.route("/attachment", methods=["GET", "POST"])
@signed_in
def attachment_page():
    """The citizen's clinic, and the application to change it (for their own card)."""
    account = g.account
    form = AttachmentForm()
    organisations = attachment.attachable_organisations()
    form.organisation.choices = choices(
        [("", _("Choose a clinic"))] + [(str(i), f"{name}, {address}") for i, name, address in organisations]
    )
    status = 200
    if account.patient_id is not None and request.method == "POST":
        if form.validate_on_submit():
            try:
                attachment.apply(account, int(form.organisation.data), form.reason.data.strip(), bool(form.moved.data))
            except attachment.Refused as refused:
                getattr(form, refused.field).errors = [refused.message]
            else:
                return redirect(url_for("directory.attachment_page", done="applied"), code=303)
        status = 400
    current = service.attached_organisation(account.patient_id) if account.patient_id else None
    return render(
        "directory/attachment.html",
        form=form,
        current=db.session.get(Organisation, current) if current else None,
        applications=attachment.history(account.patient_id) if account.patient_id else [],
        number_of=attachment.number_of,
        has_card=account.patient_id is not None,
        status=status,
    )
