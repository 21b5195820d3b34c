"""The kinds of appointment: the core's three (at the clinic, at home, online) and those plugins
add (the ``appointment_kinds`` hook, an online consultation with its own video service for
example). A schedule rule has one kind; its slots and the appointments booked on them keep it.

The database only checks that a kind is a lower-case key (migration 0019): which kinds exist
depends on the plugins a deployment runs, so a rule's kind is checked here when it is written. An
appointment of a kind whose plugin is no longer enabled is still shown, by its key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping

from flask import current_app, g, has_app_context
from flask_babel import lazy_gettext as _l

from portal.appointments.models import KINDS as CORE_KINDS

log = logging.getLogger(__name__)

CORE_LABELS = {"in_person": _l("At the clinic"), "home": _l("At home"), "online": _l("Online")}
KEY = re.compile(r"[a-z][a-z0-9_]{1,15}")  # the kind columns are 16 characters


def plugin_kinds() -> dict:
    """The kinds the enabled plugins add (``plugin_api.AppointmentKind``), by key; collected once
    per request. A malformed key or one already taken is left out with an error in the log."""
    if "appointment_kinds" not in g:
        found = {}
        for kind in current_app.extensions["portal.plugins"].collect("appointment_kinds"):
            if not KEY.fullmatch(kind.key) or kind.key in CORE_KINDS or kind.key in found:
                if current_app.config.get("PLUGINS_RAISE_ERRORS"):
                    raise ValueError(f"plugin {kind.plugin!r}: the appointment kind {kind.key!r} is malformed or taken")
                log.error("plugin %r: appointment kind %r is malformed or taken; left out", kind.plugin, kind.key)
                continue
            found[kind.key] = kind
        g.appointment_kinds = found
    return g.appointment_kinds


def known() -> tuple[str, ...]:
    """The kinds a schedule rule may have now."""
    return CORE_KINDS + tuple(plugin_kinds())


def ticket_link(appointment):
    """The link a plugin's kind puts on this appointment's ticket (``plugin_api.Link``), or None.
    A plugin that fails here is logged and its link left out, as a presentation hook's part is."""
    from portal.plugin_api import AppointmentTicket

    kind = plugin_kinds().get(appointment.kind)
    if kind is None or kind.ticket is None:
        return None
    ticket = AppointmentTicket(
        appointment.id, appointment.patient_id, appointment.starts_at, appointment.kind, appointment.status
    )
    try:
        return kind.ticket(ticket)
    except Exception:
        if current_app.config.get("PLUGINS_RAISE_ERRORS"):
            raise
        log.exception("plugin %r failed on the ticket of kind %r; its link is left out", kind.plugin, kind.key)
        return None


class KindLabels(Mapping):
    """The kinds' names, the core's and the plugins' (inside an app); an unknown kind (its plugin
    disabled since) is named by its key."""

    def _all(self) -> Mapping[str, object]:
        if not has_app_context():
            return CORE_LABELS
        added = plugin_kinds()
        return {**CORE_LABELS, **{key: kind.label for key, kind in added.items()}} if added else CORE_LABELS

    def __getitem__(self, key: str) -> object:
        return self._all().get(key, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


LABELS = KindLabels()
