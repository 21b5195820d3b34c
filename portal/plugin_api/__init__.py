"""The only module plugins import from ``portal``.

Everything a plugin needs is here: the ``hookimpl`` marker, the data classes hooks return, the
one ``Page`` object templates get, ``render`` and ``url_for``, translations in the plugin's own
domain and the plugin's settings. Names here are a promise: they change only with a deprecation.
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
    its pages are rendered in the plugin's translation domain."""

    def __init__(self, name: str, import_name: str, translations: Translations | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("template_folder", "templates")
        super().__init__(name, import_name, **kwargs)
        if translations is not None:
            self.before_request(translations.domain.as_default)


def render(template: str, *, fragment: str | None = None, status: int = 200, **context: Any):
    """Render a page (or, for an htmx request, only ``fragment``) in the portal layout."""
    return rendering.render(template, fragment=fragment, status=status, **context)


def plugin_config(name: str) -> dict[str, Any]:
    """The settings of plugin ``name``: its declared defaults overlaid with the deployment's."""
    return flask.current_app.extensions["portal.plugins"].settings_for(name)


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
