"""Visitor preferences: language and theme, kept in long-lived cookies (the profile, later)."""

from __future__ import annotations

from flask import Response, current_app

from portal.rendering import LANGUAGE_COOKIE, PREFERENCE_MAX_AGE, THEME_COOKIE


def _set(response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=PREFERENCE_MAX_AGE,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )


def remember_language(response: Response, language: str) -> bool:
    if language not in current_app.config["LANGUAGES"]:
        return False
    _set(response, LANGUAGE_COOKIE, language)
    return True


def remember_theme(response: Response, theme: str) -> bool:
    if theme not in current_app.extensions["portal.themes"]:
        return False
    _set(response, THEME_COOKIE, theme)
    return True
