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
    """Built once per application from its settings (each keeps its discovery document and keys)."""
    from portal.auth.oidc import from_settings

    if "portal.oidc_providers" not in current_app.extensions:
        current_app.extensions["portal.oidc_providers"] = from_settings(current_app.config["OIDC_PROVIDERS"])
    return current_app.extensions["portal.oidc_providers"]
