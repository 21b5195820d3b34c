"""Failures of plugins' isolated hooks (deny rules, cards, menu and footer items), counted where
every worker can see them, for ``/healthz``.

The counters live in the rate-limit storage (``RATELIMIT_STORAGE_URI``): by default a SQLite file
in the instance folder shared by the machine's workers, or Redis when several machines serve the
portal. So any worker's ``/healthz`` reports a rule that failed in another. With ``memory://`` a
worker sees only its own failures. A counter is a fixed window of ``WINDOW`` seconds from the
first failure: a plugin is reported until a window passes without a failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app
from limits.storage import Storage, storage_from_string

log = logging.getLogger(__name__)

WINDOW = 3600
ISOLATED_HOOKS = ("access_denials", "dashboard_cards", "footer_links", "navigation_items")


@dataclass(frozen=True)
class Fault:
    plugin: str
    hook: str
    failures: int


def _storage(app: Flask) -> Storage:
    found = app.extensions.get("portal.plugin_faults")
    if found is None:
        found = app.extensions["portal.plugin_faults"] = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    return found


def _key(plugin: str, hook: str) -> str:
    return f"portal-plugin-fault/{plugin}/{hook}"


def record(plugin: str, hook: str) -> None:
    """Count one failure; a store that cannot be reached is logged, never raised into the page."""
    try:
        _storage(current_app).incr(_key(plugin, hook), WINDOW)
    except Exception:
        log.exception("could not count the failure of plugin %r in %s", plugin, hook)


def recent(app: Flask) -> list[Fault] | None:
    """The plugins whose isolated hooks failed in the current window, with how often; None when
    the store cannot be read (logged)."""
    host = app.extensions["portal.plugins"]
    faults = []
    try:
        storage = _storage(app)
        for hook in ISOLATED_HOOKS:
            for impl in getattr(host.pm.hook, hook).get_hookimpls():
                failures = storage.get(_key(impl.plugin_name, hook))
                if failures:
                    faults.append(Fault(impl.plugin_name, hook, int(failures)))
    except Exception:
        log.exception("could not read the plugin failure counters")
        return None
    return faults
