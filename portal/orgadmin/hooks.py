"""The organisation admin's workspace and the invitation link, contributed through the plugin
hooks."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.plugin_api import Blueprint, NavItem, Page, hookimpl
from portal.rendering import path_for


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.orgadmin.views import bp, invitation_bp

    return [bp, invitation_bp]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    user = page.user
    if user is None or "org_admin" not in user.roles:
        return []
    return [NavItem(_("Staff"), path_for("orgadmin.index"), 45, "orgadmin.index")]
