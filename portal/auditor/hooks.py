"""The auditor's workspace, contributed through the plugin hooks: its pages and a menu link."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.plugin_api import Blueprint, NavItem, Page, hookimpl
from portal.rendering import path_for


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.auditor.views import bp

    return [bp]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    user = page.user
    if user is None or "auditor" not in user.roles:
        return []
    return [NavItem(_("Audit"), path_for("auditor.choose"), 47, "auditor.choose")]
