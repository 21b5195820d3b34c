"""The accountant's workspace, contributed through the plugin hooks."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.plugin_api import Blueprint, NavItem, Page, hookimpl
from portal.rendering import path_for


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.accounting.views import bp

    return [bp]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    user = page.user
    if user is None or "accountant" not in user.roles:
        return []
    return [NavItem(_("Paid services"), path_for("accounting.report"), 47, "accounting.report")]
