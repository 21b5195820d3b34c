"""Appointments: booking, the ticket, cancelling and moving, contributed through the plugin hooks."""

from __future__ import annotations

from portal.plugin_api import Blueprint, hookimpl


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.appointments.care_views import bp as care
    from portal.appointments.care_views import desk
    from portal.appointments.views import bp

    return [bp, care, desk]
