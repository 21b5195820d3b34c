"""The core's sign-in providers, made through the same hooks plugins use: the routes every
provider shares, and the OpenID Connect providers of ``OIDC_PROVIDERS``."""

from __future__ import annotations

from flask import current_app

from portal.plugin_api import Blueprint, IdentityProvider, hookimpl


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.auth.provider_views import bp

    return [bp]


@hookimpl
def identity_providers() -> list[IdentityProvider]:
    """Built at start-up from ``OIDC_PROVIDERS`` (``oidc.init_app``); each keeps its discovery
    document and keys."""
    return current_app.extensions["portal.oidc_providers"]
