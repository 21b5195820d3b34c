"""A test-only plugin whose dashboard card raises: the page must still render."""

from portal.plugin_api import DashboardCard, Page, hookimpl

CONTRACT = "1.0"


@hookimpl
def dashboard_cards(page: Page) -> list[DashboardCard]:
    raise RuntimeError("this plugin is broken")
