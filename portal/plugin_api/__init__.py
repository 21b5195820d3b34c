"""The only module plugins import from ``portal``.

Everything a plugin needs is here: the ``hookimpl`` marker, the data classes hooks return, the
one ``Page`` object templates get, ``render`` and ``url_for``, translations in the plugin's own
domain and the plugin's settings. Names here are a promise: they change only with a deprecation and a
new major ``CONTRACT_VERSION`` (``plugin_api.contract``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import flask
import pluggy
from flask.cli import with_appcontext
from flask_babel import Domain

from portal import rendering
from portal.access import public
from portal.config import ROOT
from portal.notify.channels import Channel as NotificationChannel
from portal.notify.channels import Outgoing as OutgoingMessage
from portal.plugin_api.access import ACTIONS, BASES, ROLES, SECTIONS, governs

# Personal pages, reading and writing the card (helper "facade", issue 12 points 1-3, 12)
from portal.plugin_api.card import *  # noqa: F403
from portal.plugin_api.card import __all__ as _card_names
from portal.plugin_api.contract import CONTRACT_VERSION
from portal.plugin_api.data import PluginData, account_key, db_session, patient_key, write_transaction
from portal.plugin_api.identity import Authorization, ExternalIdentity, IdentityProvider, ProviderError
from portal.plugin_api.personal import (
    AccountView,
    audit_event,
    card_guard,
    current_account,
    notify,
    notify_card_holders,
    rate_limit,
    signed_in,
    staff_guard,
)
from portal.plugin_api.regions import Region, current_region
from portal.plugin_api.settings import Setting
from portal.rendering import Page

__all__ = [
    "Blueprint",
    "Command",
    "DashboardCard",
    "Link",
    "NavItem",
    "NotificationChannel",
    "OutgoingMessage",
    "Page",
    "Theme",
    "Translations",
    "command",
    "hookimpl",
    "plugin_config",
    "public",
    "render",
    "url_for",
    "Region",
    "current_region",
    # personal pages, reading and writing the card
    "AccountView",
    "audit_event",
    "card_guard",
    "current_account",
    "notify",
    "notify_card_holders",
    "rate_limit",
    "signed_in",
    "staff_guard",
    *_card_names,
    "CONTRACT_VERSION",
    "Setting",
    "ACTIONS",
    "BASES",
    "ROLES",
    "SECTIONS",
    "governs",
    "PluginData",
    "account_key",
    "db_session",
    "patient_key",
    "write_transaction",
    # sign-in providers (portal/plugin_api/identity.py)
    "Authorization",
    "ExternalIdentity",
    "IdentityProvider",
    "ProviderError",
]

hookimpl = pluggy.HookimplMarker("portal")

CORE_TRANSLATIONS = ROOT / "translations"

Command = click.Command


def command(name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], Command]:
    """Make a ``flask --app portal <name>`` command that runs inside the application context."""

    def decorator(function: Callable[..., Any]) -> Command:
        return click.command(name, **kwargs)(with_appcontext(function))

    return decorator


url_for = flask.url_for


@dataclass(frozen=True)
class NavItem:
    """A link in the main navigation; ``order`` sorts items (core items use 10, 20, ...)."""

    label: str
    url: str
    order: int = 100
    endpoint: str | None = None  # marks the item as current on that endpoint's pages


@dataclass(frozen=True)
class Link:
    """A link in the footer or another list of links."""

    label: str
    url: str
    order: int = 100


@dataclass(frozen=True)
class DashboardCard:
    """A card on the dashboard: a heading and a template rendered with ``context``.

    The template is rendered on its own (it cannot see the page's variables) with ``card`` and
    the entries of ``context``; its heading is rendered by the core so the outline stays right.
    """

    key: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100
    plugin: str = ""  # filled in by the host: whose translation domain renders the template


@dataclass(frozen=True)
class Theme:
    """A theme: CSS custom properties layered over the core stylesheet."""

    name: str
    label: str
    stylesheet: Path
    description: str = ""


class Translations:
    """Gettext functions bound to a plugin's own catalog (``<package>/translations/<lang>/
    LC_MESSAGES/<domain>.po``). The core's catalog stays underneath, so the layout around a
    plugin's page is still translated. A plugin module exposes one as ``translations``."""

    def __init__(self, package_file: str, domain: str) -> None:
        directory = Path(package_file).resolve().parent / "translations"
        self.domain_name = domain
        self.domain = Domain(
            translation_directories=[str(CORE_TRANSLATIONS), str(directory)],
            domain=f"messages;{domain}",
        )
        self.gettext: Callable[..., str] = self.domain.gettext
        self.ngettext: Callable[..., str] = self.domain.ngettext
        self.lazy_gettext: Callable[..., Any] = self.domain.lazy_gettext


class Blueprint(flask.Blueprint):
    """A Flask blueprint whose templates live beside the plugin's module; with ``translations``
    its pages are rendered in the plugin's translation domain. ``stylesheets`` and ``scripts``
    name files in ``static/`` beside the module: served fingerprinted and cached for a year, and
    linked from every page of this blueprint (after the core's, so a stylesheet can use the
    theme's custom properties; scripts are deferred)."""

    def __init__(
        self,
        name: str,
        import_name: str,
        translations: Translations | None = None,
        stylesheets: tuple[str, ...] = (),
        scripts: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("template_folder", "templates")
        super().__init__(name, import_name, **kwargs)
        if translations is not None:
            self.before_request(translations.domain.as_default)
        for wrong in [f for f in stylesheets if not f.endswith(".css")] + [f for f in scripts if not f.endswith(".js")]:
            raise ValueError(f"blueprint {name!r}: {wrong!r} is not a .css stylesheet or a .js script")
        self.stylesheets = tuple(stylesheets)
        self.scripts = tuple(scripts)

    def static_files(self) -> dict[str, Path]:
        """Each of this blueprint's stylesheets and scripts by its asset name."""
        folder = Path(self.root_path) / "static"
        return {f"plugins/{self.name}/{file}": folder / file for file in (*self.stylesheets, *self.scripts)}


def render(template: str, *, fragment: str | None = None, status: int = 200, **context: Any):
    """Render a page (or, for an htmx request, only ``fragment``) in the portal layout."""
    return rendering.render(template, fragment=fragment, status=status, **context)


def plugin_config(name: str) -> dict[str, Any]:
    """The settings of plugin ``name``: its declared defaults overlaid with the deployment's, then
    with the request's region's (docs/regions.md)."""
    return flask.current_app.extensions["portal.plugins"].settings_for(name)


# Events and jobs (issue 12, point 6): typed events after commit, jobs on the task queue.
from portal.plugin_api.events import (  # noqa: E402
    AccountVerified,
    AppointmentBooked,
    AppointmentCancelled,
    CardClosed,
    ConsentRevoked,
    Event,
    GuardianAccessEnding,
    PrescriptionIssued,
    ResultFiled,
)
from portal.plugin_api.jobs import Job, crontab, enqueue_job  # noqa: E402

__all__ += [
    "AccountVerified",
    "AppointmentBooked",
    "AppointmentCancelled",
    "CardClosed",
    "ConsentRevoked",
    "Event",
    "GuardianAccessEnding",
    "Job",
    "PrescriptionIssued",
    "ResultFiled",
    "crontab",
    "enqueue_job",
]

# Slots: the card's sections and actions, the profile's fields, the kinds of appointment.
from portal.plugin_api.slots import (  # noqa: E402
    AppointmentKind,
    AppointmentTicket,
    CardAction,
    CardView,
    ProfileField,
    RecordSection,
    SectionRow,
)

__all__ += [
    "AppointmentKind",
    "AppointmentTicket",
    "CardAction",
    "CardView",
    "ProfileField",
    "RecordSection",
    "SectionRow",
]
