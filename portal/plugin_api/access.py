"""What a plugin's deny rule (the ``access_denials`` hook) is told, and what it must declare.

The names a rule compares against are the policy's own constants, so this list is always the
one the portal decides with (docs/plugin_hooks.md prints them; a test keeps the page true).
A rule declares with ``@governs`` the sections and actions it rules on: it is only asked about
those, so an error in it refuses those and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from portal.access.policy import ACTIONS as _ACTIONS
from portal.access.policy import CERTIFICATES
from portal.access.policy import SECTIONS as _SECTIONS
from portal.auth.models import STAFF_ROLES

SECTIONS: tuple[str, ...] = (*_SECTIONS, CERTIFICATES)
ACTIONS: tuple[str, ...] = tuple(_ACTIONS)
ROLES: tuple[str, ...] = tuple(STAFF_ROLES)
# The basis on which the core would allow the access (``Decision.basis``).
BASES: tuple[str, ...] = ("self", "guardian", "trusted", "clinician", "emergency", "registrar")


@dataclass(frozen=True)
class Scope:
    """The sections and actions a deny rule rules on; ``None`` sections: every one, the
    plugins' sections of the card (``record_sections``) too."""

    sections: frozenset[str] | None
    actions: frozenset[str]

    def covers(self, section: str, action: str) -> bool:
        return (self.sections is None or section in self.sections) and action in self.actions


def _names(given: Iterable[str] | None, known: tuple[str, ...], what: str, keys_too: bool = False) -> frozenset[str]:
    """The names given, each one of ``known`` or, with ``keys_too``, a plugin section's key
    (lower-case letters, digits and ``_``: a name the core does not know is taken for one)."""
    if given is None:
        return frozenset(known)
    if isinstance(given, str):
        given = (given,)
    names = frozenset(given)
    unknown = sorted(
        name for name in names - set(known) if not (keys_too and re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name))
    )
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; the {what} are: {', '.join(known)}")
    return names


def governs(
    *, sections: Iterable[str] | None = None, actions: Iterable[str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare what an ``access_denials`` rule rules on: the sections and actions (each left out
    means all of them; ``@governs()`` says plainly that the rule may refuse anything)."""
    named = None if sections is None else _names(sections, SECTIONS, "sections", keys_too=True)
    scope = Scope(named, _names(actions, ACTIONS, "actions"))

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        function.portal_governs = scope  # type: ignore[attr-defined]
        return function

    return decorator
