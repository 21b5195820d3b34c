from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date

from flask import Blueprint, current_app, redirect, request

from portal import plugin_faults, security
from portal.access import public
from portal.extensions import csrf, db, limiter
from portal.forms import choices
from portal.profile.service import save_for_signed_in
from portal.rendering import current_page, render, safe_next
from portal.web import service
from portal.web.forms import DisplaySettingsForm, LanguageForm

bp = Blueprint("web", __name__, template_folder="templates")
log = logging.getLogger(__name__)

# The date the accessibility statement was last reviewed, shown in the visitor's locale.
STATEMENT_REVIEWED = date(2026, 11, 27)
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}


@bp.get("/")
@public
def home():
    page = current_page()
    cards = current_app.extensions["portal.plugins"].collect("dashboard_cards", page=page)
    return render("web/home.html", cards=sorted(cards, key=lambda c: (c.order, c.title)))


@bp.get("/accessibility")
@public
def accessibility():
    return render("web/accessibility.html", reviewed=STATEMENT_REVIEWED)


@bp.get("/privacy")
@public
def privacy():
    return render("web/privacy.html")


@bp.route("/settings/display", methods=["GET", "POST"])
@public
def display_settings():
    page = current_page()
    form = DisplaySettingsForm()
    form.theme.choices = choices((t.name, t.label) for t in page.themes)
    form.language.choices = choices((code, LANGUAGE_NAMES.get(code, code)) for code in page.languages)
    if request.method == "GET":
        form.theme.data = page.theme.name
        form.language.data = page.locale
        form.next.data = safe_next(request.args.get("next"), "")
    elif form.validate_on_submit():
        response = redirect(safe_next(form.next.data, request.path), code=303)
        service.remember_theme(response, form.theme.data)
        service.remember_language(response, form.language.data)
        save_for_signed_in(locale=form.language.data, theme=form.theme.data)
        return response
    hints = {t.name: t.description for t in page.themes}
    return render("web/display_settings.html", form=form, theme_hints=hints, status=400 if form.errors else 200)


@bp.post("/settings/language")
@public
def set_language():
    form = LanguageForm()
    if not form.validate_on_submit() or form.language.data not in current_app.config["LANGUAGES"]:
        return render("errors/400.html", status=400)
    response = redirect(safe_next(form.next.data), code=303)
    service.remember_language(response, form.language.data)
    save_for_signed_in(locale=form.language.data)
    return response


@bp.post("/csp-report")
@public
@csrf.exempt  # browsers post reports without our token; reviewed: it only writes to the log
@limiter.limit("60/minute")
def csp_report():
    limit = security.CSP_REPORT_MAX_BYTES
    if (request.content_length or 0) > limit:
        return "", 413
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return "", 413
    # Structured: what the browser sent is a value in the JSON line, never a line of its own.
    log.warning("CSP violation report", extra={"fields": security.csp_report_fields(body, current_app.url_map)})
    return "", 204


@bp.get("/healthz")
@public
def healthz():
    """``ok``, or ``degraded`` (still HTTP 200: the portal serves, with a plugin's part refused or
    left out) naming the plugins whose isolated hooks failed in the last hour, or saying that
    their failure counters cannot be read."""
    db.session.execute(db.text("SELECT 1"))
    faults = plugin_faults.recent(current_app)
    if faults is None:
        return {"status": "degraded", "plugins": "unknown: the plugin failure counters cannot be read"}
    if not faults:
        return {"status": "ok"}
    return {"status": "degraded", "plugins": [asdict(fault) for fault in faults]}
