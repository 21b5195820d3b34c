"""Appointments: booking, the ticket, cancelling and moving, and the staff pages (the registrar's
desk, the org admin's schedules), contributed through the plugin hooks."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _

from portal.plugin_api import Blueprint, Job, NavItem, Page, hookimpl
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


@hookimpl
def jobs() -> list[Job]:
    """The appointments' clock, run by the worker: the waiting list's offers nobody answered pass
    on and free times are offered, reminders that fall due go out (each every minute), and the
    doctors' slots are made for the horizon ahead (every six hours). Each is what its command does
    (``flask expire-offers``, ``send-appointment-reminders``, ``generate-slots``) and safe to run
    twice or at once."""
    from portal.appointments import reminders, waitlist
    from portal.appointments.schedule import generate_slots

    minute, soon = timedelta(minutes=1), timedelta(seconds=5)
    return [
        Job("appointments.waiting_list", waitlist.run, every=minute, retries=2, retry_delay=soon, at_start=True),
        Job("appointments.reminders", reminders.run, every=minute, retries=2, retry_delay=soon),
        Job(
            "appointments.slots",
            generate_slots,
            every=timedelta(hours=6),
            retry_delay=timedelta(minutes=1),
            at_start=True,
        ),
    ]
