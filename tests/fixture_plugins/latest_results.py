"""A test-only plugin whose dashboard card reads the card through the facade: the three latest
results of the signed-in person's own card (tests/test_plugin_budgets.py counts its statements)."""

from portal.plugin_api import Blueprint, DashboardCard, Page, card_section, current_account, hookimpl

CONTRACT = "1.0"

# No pages: the blueprint only lends the card its templates (templates/latest_results/).
bp = Blueprint("latest_results", __name__)


@hookimpl
def register_blueprints():
    return [bp]


@hookimpl
def dashboard_cards(page: Page) -> list[DashboardCard]:
    account = current_account()
    if account is None or account.patient_id is None:
        return []
    latest = card_section(account.patient_id, "results", limit=3).entries
    return [
        DashboardCard(
            key="latest-results",
            title="Latest results",
            template="latest_results/card.html",
            context={"results": latest},
            order=60,
        )
    ]
