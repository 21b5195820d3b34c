"""The directory of medical organisations, contributed through the plugin hooks."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.plugin_api import Blueprint, DashboardCard, NavItem, Page, hookimpl
from portal.rendering import path_for


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.directory.views import bp

    return [bp]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    return [NavItem(_("Clinics"), path_for("directory.clinics"), 30, "directory.clinics")]


@hookimpl
def dashboard_cards(page: Page) -> list[DashboardCard]:
    from portal.directory import service
    from portal.listings import listings

    if page.card is not None:  # a card's dashboard has its own "next appointment" card
        return []
    return [
        DashboardCard(
            key="clinics",
            title=_("Find a clinic"),
            template="directory/card_clinics.html",
            context={"count": listings().get_or_make(("organisations",), service.count_organisations)},
            order=20,
        )
    ]
