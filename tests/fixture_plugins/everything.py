"""A test-only plugin that implements every hook, so each hook's effect can be seen."""

from pathlib import Path

import click
from flask import abort

from portal.plugin_api import (
    Blueprint,
    DashboardCard,
    Link,
    NavItem,
    Page,
    Setting,
    Theme,
    command,
    hookimpl,
    public,
    render,
)

CONTRACT = "1.0"

bp = Blueprint("everything", __name__, url_prefix="/everything")
HERE = Path(__file__).resolve().parent


@bp.get("/")
@public
def index():
    return render("everything/index.html")


@bp.get("/boom")
@public
def boom():
    raise RuntimeError("secret internal detail 7f3a")


@bp.get("/forbidden")
@public
def forbidden():
    abort(403)


@hookimpl
def plugin_settings():
    return [Setting("greeting", str, "hello", "what the plugin says")]


@hookimpl
def register_blueprints():
    return [bp]


@hookimpl
def register_commands():
    @command("everything-hello")
    def hello():
        """Say hello."""
        click.echo("hello from a plugin command")

    return [hello]


@hookimpl
def register_themes():
    return [Theme("sepia", "Sepia", HERE / "sepia.css", "Brown on cream")]


@hookimpl
def navigation_items(page: Page):
    return [NavItem("Everything nav", "/everything/", 50, "everything.index")]


@hookimpl
def dashboard_cards(page: Page):
    return [DashboardCard("everything", "Everything card", "everything/card.html", {"word": "Marker-42"}, order=5)]


@hookimpl
def footer_links(page: Page):
    return [Link("Everything footer", "/everything/", 99)]
