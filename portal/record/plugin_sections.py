"""The card's sections that plugins add (the ``record_sections`` hook).

Collected once per request (or job) and kept in ``g``: the policy asks about them on every
decision. A section whose key is malformed or taken (a core section's, another plugin's) is left
out with an error in the log, as a raising hook's contribution is; in development it raises.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from flask import current_app, g, has_request_context

from portal.plugin_api.slots import CardView, RecordSection, SectionRow

log = logging.getLogger(__name__)

# Short enough for the audit log's section column and a grant's list; no comma, no slash.
KEY = re.compile(r"[a-z][a-z0-9_]{1,39}")


def plugin_sections() -> dict[str, RecordSection]:
    """The sections the enabled plugins add, by key, in the order the card lists them."""
    if "plugin_sections" not in g:
        g.plugin_sections = _collect()
    return g.plugin_sections


def section_keys() -> tuple[str, ...]:
    return tuple(plugin_sections())


def _collect() -> dict[str, RecordSection]:
    from portal.access.policy import CERTIFICATES, SECTIONS
    from portal.record.sections import CORE_LABELS

    host = current_app.extensions["portal.plugins"]
    found: dict[str, RecordSection] = {}
    for section in sorted(host.collect("record_sections", page=_page()), key=lambda s: (s.order, str(s.title))):
        taken = section.key in SECTIONS or section.key in CORE_LABELS or section.key == CERTIFICATES
        if not KEY.fullmatch(section.key) or taken or section.key in found:
            if current_app.config.get("PLUGINS_RAISE_ERRORS"):
                raise ValueError(f"plugin {section.plugin!r}: the section key {section.key!r} is malformed or taken")
            log.error("plugin %r: section key %r is malformed or taken; left out", section.plugin, section.key)
            continue
        found[section.key] = section
    return found


def _page():
    """The page being rendered, or None for a job (a PDF made in the background)."""
    if not has_request_context():
        return None
    from portal.rendering import current_page

    return current_page()


def card_view(card, locale: str) -> CardView:
    """The read-only view of a card (``record.service.CardContext``) a plugin's function gets."""
    patient = card.patient
    return CardView(patient.id, card.basis, locale, card.short_name, patient.birth_date)


def rows_of(section: RecordSection, view: CardView, export: bool = False) -> list[SectionRow] | None:
    """The section's rows for one card: what its page shows, or what its export gives. None when
    the plugin's function fails (logged; raised in development): its page says so, and an export
    leaves the section out rather than show it empty."""
    function = section.export if export else section.rows
    try:
        return list(_checked(function(view) if function is not None else ()))
    except Exception:
        if current_app.config.get("PLUGINS_RAISE_ERRORS"):
            raise
        log.exception("plugin %r failed to give the rows of section %r", section.plugin, section.key)
        return None


def _checked(rows: Iterable[SectionRow]) -> Iterable[SectionRow]:
    for row in rows:
        if not isinstance(row, SectionRow):
            raise TypeError(f"a section's rows are plugin_api.SectionRow, not {type(row).__name__}")
        yield row
