"""Plugins' deny rules (the ``access_denials`` hook): asked only about what they declared with
``plugin_api.governs``, told the basis the core found, and, when one raises, refusing only that:
logged with the plugin named and counted for ``/healthz`` (``portal.plugin_faults``)."""

from __future__ import annotations

import logging

from flask import current_app

from portal import plugin_faults

log = logging.getLogger(__name__)


def undeclared_rules(pm) -> list[str]:
    """The plugins whose ``access_denials`` does not say what it governs (checked at start-up)."""
    return [
        impl.plugin_name
        for impl in pm.hook.access_denials.get_hookimpls()
        if getattr(impl.function, "portal_governs", None) is None
    ]


def denial(
    account_id: int, roles: frozenset[str], action: str, patient_id: int, section: str, basis: str
) -> str | None:
    """The first plugin reason to refuse this access, or None."""
    arguments = {
        "account_id": account_id,
        "roles": roles,
        "action": action,
        "patient_id": patient_id,
        "section": section,
        "basis": basis,
    }
    host = current_app.extensions["portal.plugins"]
    for impl in host.pm.hook.access_denials.get_hookimpls():
        if not impl.function.portal_governs.covers(section, action):
            continue
        try:
            reason = impl.function(**{name: arguments[name] for name in impl.argnames})
        except Exception:
            log.exception(
                "access rule of plugin %r failed on %s %s; denying what it governs", impl.plugin_name, action, section
            )
            plugin_faults.record(impl.plugin_name, "access_denials")
            return f"plugin {impl.plugin_name} failed, so access is denied"
        if reason:
            return f"plugin {impl.plugin_name}: {reason}"
    return None
