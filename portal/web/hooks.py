"""The core's own contributions, made through the same hooks plugins use."""

from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import gettext as _

from portal.config import ROOT
from portal.plugin_api import Blueprint, Link, NavItem, Page, Theme, hookimpl

THEMES_DIR = ROOT / "themes"


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.auth.views import bp as auth
    from portal.web.views import bp as web

    return [web, auth]


@hookimpl
def register_themes() -> list[Theme]:
    from flask_babel import lazy_gettext as _l

    def theme(name: str, label, description) -> Theme:
        return Theme(name, label, Path(THEMES_DIR / name / "theme.css"), description)

    return [
        theme("default", _l("Standard"), _l("Dark text on a light background.")),
        theme("high-contrast", _l("High contrast"), _l("White text on black, contrast of at least 7 to 1.")),
        theme("large-text", _l("Large text"), _l("Text and controls one and a half times larger.")),
    ]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    items = [NavItem(_("Home"), url_for("web.home"), 10, "web.home")]
    if page.user is None:
        items.append(NavItem(_("Sign in"), url_for("auth.sign_in"), 90, "auth.sign_in"))
    return items


@hookimpl
def footer_links(page: Page) -> list[Link]:
    return [
        Link(_("Accessibility statement"), url_for("web.accessibility"), 10),
        Link(_("Privacy notice"), url_for("web.privacy"), 20),
        Link(_("Display settings"), url_for("web.display_settings"), 30),
    ]
