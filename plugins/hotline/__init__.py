"""The regional health hotline: a page, a dashboard card, a footer link and a command.

A small, real plugin and an example for regional integrators: every contribution goes through
``portal.plugin_api``, the texts are in the plugin's own translation domain ``hotline``, and the
phone number and hours are settings a deployment overrides in ``[PLUGIN_CONFIG.hotline]`` and a
region in ``[REGIONS.<code>.PLUGIN_CONFIG.hotline]``.
"""

from __future__ import annotations

import click

from portal.plugin_api import (
    Blueprint,
    Command,
    DashboardCard,
    Link,
    Page,
    Setting,
    Translations,
    command,
    hookimpl,
    plugin_config,
    public,
    render,
    url_for,
)

CONTRACT = "1.0"

translations = Translations(__file__, "hotline")
_ = translations.gettext

bp = Blueprint("hotline", __name__, url_prefix="/hotline", translations=translations)


@hookimpl
def plugin_settings() -> list[Setting]:
    return [
        Setting("phone", str, "122", "the hotline's number, in the footer and on the dashboard card"),
        Setting("hours", str, "8:00–20:00", "when the hotline answers"),
        Setting("emergency_phone", str, "103", "the ambulance number on the hotline's page"),
    ]


@bp.get("/")
@public  # reviewed: shows the region's public phone numbers only
def contacts():
    return render("hotline/contacts.html", settings=plugin_config("hotline"))


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]


@hookimpl
def dashboard_cards(page: Page) -> list[DashboardCard]:
    return [
        DashboardCard(
            key="hotline",
            title=_("Health hotline"),
            template="hotline/card.html",
            context={"settings": plugin_config("hotline")},
            order=50,
        )
    ]


@hookimpl
def footer_links(page: Page) -> list[Link]:
    label = _("Health hotline %(phone)s", phone=plugin_config("hotline")["phone"])
    return [Link(label, url_for("hotline.contacts"), 40)]


@command("hotline-info")
def hotline_info() -> None:
    """Print the hotline numbers this deployment shows."""
    settings = plugin_config("hotline")
    click.echo(f"hotline {settings['phone']} ({settings['hours']}), emergency {settings['emergency_phone']}")


@hookimpl
def register_commands() -> list[Command]:
    return [hotline_info]
