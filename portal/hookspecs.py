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
        Setting,
        Theme,
    )
    from portal.plugin_api.identity import IdentityProvider

hookspec = pluggy.HookspecMarker("portal")


@hookspec
def plugin_settings() -> list[Setting] | dict[str, Any]:
    """Declare this plugin's typed settings (``plugin_api.Setting``); they are checked at start-up."""


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
def access_denials(
    account_id: int, roles: frozenset[str], action: str, patient_id: int, section: str, basis: str
) -> str | None:
    """Return a reason to deny this access (declared with ``plugin_api.governs``), or None."""


# -- plugin data (issue 12, point 4): the plugin's own tables and migration branch ---------------

if TYPE_CHECKING:
    from portal.plugin_api import PluginData


@hookspec
def plugin_data() -> PluginData:
    """Return this plugin's ``PluginData``: its tables (``<name>_...``) and its Alembic branch."""


# -- Events and jobs (issue 12, point 6) ----------------------------------------------------------


@hookspec
def event_handlers() -> dict[type, Any]:
    """Return {event class: handler(event)}: each runs as a job after the event's commit, never in the request."""


@hookspec
def jobs() -> list[Any]:
    """Return ``plugin_api.Job`` objects: background jobs, periodic ones run by the worker on their rhythm."""


# -- sign-in providers (issue 12, point 7) -------------------------------------------------------


@hookspec
def identity_providers() -> list[IdentityProvider]:
    """Return sign-in providers (``plugin_api.IdentityProvider``) shown as buttons on the sign-in page."""


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
