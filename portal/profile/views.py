from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for
from markupsafe import Markup

from portal.access import signed_in_without_consent
from portal.forms import choices
from portal.notify import inbox
from portal.profile import service
from portal.rendering import current_page, render
from portal.web import service as preferences
from portal.web.forms import DisplaySettingsForm
from portal.web.views import LANGUAGE_NAMES

bp = Blueprint("profile", __name__, template_folder="templates")


def display_form() -> DisplaySettingsForm:
    page = current_page()
    form = DisplaySettingsForm()
    form.theme.choices = choices((t.name, t.label) for t in page.themes)
    form.language.choices = choices((code, LANGUAGE_NAMES.get(code, code)) for code in page.languages)
    return form


@bp.route("/profile", methods=["GET", "POST"])
@signed_in_without_consent
def profile():
    """Only language and theme are written here (nothing else the form might carry); e-mail and
    phone change on the security page, where a new one is confirmed before it counts."""
    page = current_page()
    form = display_form()
    if request.method == "GET":
        form.theme.data = page.theme.name
        form.language.data = page.locale
    elif form.validate_on_submit():
        service.save_display(g.account.id, locale=form.language.data, theme=form.theme.data)
        response = redirect(url_for("profile.profile", saved=1), code=303)
        preferences.remember_language(response, form.language.data)
        preferences.remember_theme(response, form.theme.data)
        return response
    chosen = inbox.preferences(g.account.id)
    on = {channel: sum(chosen[(e, channel)] for e in inbox.EVENTS) for channel in inbox.CHANNELS}
    return render(
        "profile/profile.html",
        form=form,
        account=g.account,
        channels_on=on,
        events_total=len(inbox.EVENTS),
        theme_hints={t.name: t.description for t in page.themes},
        fields=plugin_fields(page),
        status=400 if form.errors else 200,
    )


def plugin_fields(page) -> list:
    """The lines plugins add to the profile (the ``profile_fields`` hook), in their order."""
    from flask import current_app

    found = current_app.extensions["portal.plugins"].collect("profile_fields", page=page)
    return sorted(found, key=lambda f: (f.order, str(f.label)))


@bp.app_template_global()
def render_profile_field(field) -> Markup:
    """A profile field's own template (``ProfileField.template``), in its plugin's language domain."""
    from portal.rendering import render_plugin_template

    return render_plugin_template(field.plugin, field.template, field=field, **field.context)
