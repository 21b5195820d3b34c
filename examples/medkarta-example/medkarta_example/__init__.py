"""Example plugin: the plugin CI builds as a distribution of its own, installs with pip and tests.

Written by ``flask --app portal new-plugin example``, then given one setting: a public page at
/example/ with the address a region's integrator answers questions at (``contact``, overridden in
``[PLUGIN_CONFIG.example]``), an item in the main navigation and a card on the home page, with its
texts in the plugin's own translation domain, ``example``. Everything comes from
``portal.plugin_api``, the only part of the portal a plugin imports.
"""

from __future__ import annotations

from portal.plugin_api import (
    Blueprint,
    DashboardCard,
    NavItem,
    Page,
    Translations,
    hookimpl,
    plugin_config,
    public,
    render,
    url_for,
)

# The version of the plugin contract (portal.plugin_api and the hooks) this plugin is written for.
CONTRACT = "1.0"

translations = Translations(__file__, "example")
_ = translations.gettext

bp = Blueprint("example", __name__, url_prefix="/example", translations=translations)


@hookimpl
def plugin_settings() -> dict:
    return {"contact": "plugins@example.ru"}


@bp.get("/")
@public  # reviewed: shows no personal or medical data, only the region's public contact address
def index():
    return render("example/index.html", settings=plugin_config("example"))


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    return [NavItem(_("Example plugin"), url_for("example.index"), order=60, endpoint="example.index")]


@hookimpl
def dashboard_cards(page: Page) -> list[DashboardCard]:
    return [DashboardCard(key="example", title=_("Example plugin"), template="example/card.html", order=60)]
