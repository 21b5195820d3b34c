"""The record's contributions through the plugin hooks: the card dashboard's cards."""

from __future__ import annotations

from portal.plugin_api import DashboardCard, Page, hookimpl


@hookimpl
def dashboard_cards(page: Page) -> list[DashboardCard]:
    if page.card is None or page.user is None:
        return []
    from portal.record import dashboard

    return dashboard.cards_for(page.card, page.user)
