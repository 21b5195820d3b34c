"""THE plugin contract. Every hook a plugin may implement is listed here with its signature and
a one-line docstring; docs/plugin_hooks.md documents each one with an example.

Rules that keep the contract stable:
- hooks are named after what they return, and return the data classes of ``portal.plugin_api``;
- an implementation may accept any subset of a hook's arguments, so a hook can gain arguments
  without breaking plugins;
- presentation hooks (navigation, cards, links) are called plugin by plugin: one that raises is
  logged and left out while the page renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from portal.plugin_api import (
        Blueprint,
        Command,
        DashboardCard,
        Link,
        NavItem,
        NotificationChannel,
        Page,
        Theme,
    )

hookspec = pluggy.HookspecMarker("portal")


@hookspec
def plugin_settings() -> dict[str, Any]:
    """Declare this plugin's settings and their defaults; unknown keys in the config stop start-up."""


@hookspec
def register_blueprints() -> list[Blueprint]:
    """Return blueprints (from ``plugin_api.Blueprint``) whose routes the portal serves."""


@hookspec
def register_commands() -> list[Command]:
    """Return ``plugin_api.command`` objects to add to ``flask --app portal``."""


@hookspec
def register_themes() -> list[Theme]:
    """Return themes (a name, a label and a stylesheet) that visitors can choose."""


@hookspec
def navigation_items(page: Page) -> list[NavItem]:
    """Return links for the main navigation of the page being rendered."""


@hookspec
def dashboard_cards(page: Page) -> list[DashboardCard]:
    """Return cards for the dashboard: each a heading, a template and its context."""


@hookspec
def footer_links(page: Page) -> list[Link]:
    """Return links for the footer (contacts, regional services, legal pages)."""


@hookspec
def notification_channels() -> list[NotificationChannel]:
    """Return channels (such as an SMS gateway) that deliver the portal's outbox messages."""


@hookspec
def access_denials(account_id: int, roles: frozenset[str], action: str, patient_id: int, section: str) -> str | None:
    """Return a reason to deny this access, or None; a plugin can only take access away."""


# -- slots: the card's sections and actions, the profile's fields, the kinds of appointment --------

if TYPE_CHECKING:
    from portal.plugin_api import AppointmentKind, CardAction, ProfileField, RecordSection


@hookspec
def record_sections(page: Page | None) -> list[RecordSection]:
    """Return sections of the card: each governed, shareable and audited like a core section."""


@hookspec
def card_actions(page: Page) -> list[CardAction]:
    """Return links for the list of actions on the card's overview (``page.card`` is the card)."""


@hookspec
def profile_fields(page: Page) -> list[ProfileField]:
    """Return lines for the profile page: a label and a value, or a template of the plugin's."""


@hookspec
def appointment_kinds() -> list[AppointmentKind]:
    """Return kinds of appointment (beside in person, at home, online) that schedules may offer."""
