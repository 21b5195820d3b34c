"""Saving the display choice (language, theme) on the signed-in account."""

from __future__ import annotations

from flask import current_app

from portal.auth.models import Account
from portal.database import db, write_transaction


def save_display(account_id: int, *, locale: str | None = None, theme: str | None = None) -> None:
    """Keep the choice on the account, so every device shows it after sign-in. Unknown values
    are ignored (the callers validate them)."""
    with write_transaction():
        account = db.session.get(Account, account_id)
        if locale in current_app.config["LANGUAGES"]:
            account.locale = locale
        if theme in current_app.extensions["portal.themes"]:
            account.theme = theme


def save_for_signed_in(*, locale: str | None = None, theme: str | None = None) -> None:
    """The language switch and the display settings call this: for a signed-in person the choice
    goes to the account as well as to this device's cookie."""
    from portal.auth.sessions import account_if_signed_in

    account = account_if_signed_in()
    if account is not None:
        save_display(account.id, locale=locale, theme=theme)
