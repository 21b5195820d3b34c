"""The doctor's visit protocol, contributed through the plugin hooks (reached from the doctor's
day: no menu item of its own)."""

from __future__ import annotations

from portal.plugin_api import Blueprint, hookimpl


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.protocol.views import bp

    return [bp]
