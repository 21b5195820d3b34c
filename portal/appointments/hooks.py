"""Appointments: booking, the ticket, cancelling and moving, and the staff pages (the registrar's
desk, the org admin's schedules), contributed through the plugin hooks."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.plugin_api import Blueprint, NavItem, Page, hookimpl
from portal.rendering import path_for


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.appointments.care_views import bp as care
    from portal.appointments.care_views import desk
    from portal.appointments.staff_views import admin_bp, desk_bp
    from portal.appointments.views import bp
    from portal.appointments.workspace_views import bp as workspace
    from portal.orders.views import bp as orders

    return [bp, care, desk, desk_bp, admin_bp, workspace, orders]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    user = page.user
    if user is None:
        return []
    items = []
    if "registrar" in user.roles:
        items.append(NavItem(_("Appointments at the desk"), path_for("desk.search"), 39, "desk.search"))
    if "doctor" in user.roles:
        items.append(NavItem(_("My appointments"), path_for("workspace.doctor_day"), 36, "workspace.doctor_day"))
    if "nurse" in user.roles:
        items.append(NavItem(_("Today's patients"), path_for("workspace.nurse_list"), 37, "workspace.nurse_list"))
    if "org_admin" in user.roles:
        items.append(NavItem(_("Schedules"), path_for("schedules.overview"), 46, "schedules.overview"))
    return items
