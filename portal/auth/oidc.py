"""The core's generic OpenID Connect sign-in provider (authorisation code flow with PKCE, a nonce
and the ``state`` the core keeps), configured per deployment in ``OIDC_PROVIDERS``.

Discovery and the provider's keys are fetched once per process (the keys again when a token names
an unknown one). The client secret is never in the settings file: ``client_secret_env`` names the
environment variable that holds it.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Flask
from flask_babel import gettext as _
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from portal import config
from portal.plugin_api.identity import Authorization, ExternalIdentity, IdentityProvider, ProviderError

TIMEOUT = 10  # seconds for each call to the provider
REQUIRED = ("issuer", "client_id", "client_secret_env")
KNOWN = (*REQUIRED, "label", "discovery_url", "scope")


class ProviderSettingsError(RuntimeError):
    """An ``OIDC_PROVIDERS`` entry cannot be used; the message says which and why."""


def init_app(app: Flask) -> None:
    """Build the providers of ``OIDC_PROVIDERS`` once: an entry that cannot work stops start-up."""
    try:
        app.extensions["portal.oidc_providers"] = from_settings(app.config["OIDC_PROVIDERS"])
    except ProviderSettingsError as error:
        raise config.ConfigError(str(error)) from error


def from_settings(configured: dict[str, dict[str, Any]], environ: dict[str, str] | None = None) -> list[OpenIDConnect]:
    """The providers of ``OIDC_PROVIDERS`` (a TOML table per provider, keyed by its name)."""
    environ = os.environ if environ is None else environ
    found = []
    for name, values in configured.items():
        missing = [key for key in REQUIRED if not values.get(key)]
        unknown = sorted(set(values) - set(KNOWN))
        if missing or unknown:
            raise ProviderSettingsError(f"OIDC_PROVIDERS.{name}: missing {missing}, unknown {unknown}")
        secret = environ.get(values["client_secret_env"], "")
        if not secret:
            raise ProviderSettingsError(f"OIDC_PROVIDERS.{name}: the environment has no {values['client_secret_env']}")
        found.append(
            OpenIDConnect(
                name,
                values.get("label") or name,
                issuer=values["issuer"],
                client_id=values["client_id"],
                client_secret=secret,
                discovery_url=values.get("discovery_url"),
                scope=values.get("scope") or "openid email profile",
            )
        )
    return found


class OpenIDConnect(IdentityProvider):
    def __init__(
        self,
        name: str,
        label: str,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        discovery_url: str | None = None,
        scope: str = "openid email profile",
    ) -> None:
        self.name, self.label = name, label
        self.issuer, self.client_id, self._secret, self.scope = issuer, client_id, client_secret, scope
        self.discovery_url = discovery_url or issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, Any] | None = None

    @property
    def origin(self) -> str:
        """Where ``start`` sends the browser: the authorisation endpoint's origin once discovery
        has been read, the issuer's until then (they are the same for nearly every provider)."""
        address = urlsplit((self._metadata or {}).get("authorization_endpoint") or self.issuer)
        return f"{address.scheme}://{address.netloc}"

    def __repr__(self) -> str:  # never the secret
        return f"OpenIDConnect({self.name!r}, issuer={self.issuer!r})"

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its ``issuer`` must be the configured one."""
        if self._metadata is None:
            found = self._get_json(self.discovery_url)
            if found.get("issuer") != self.issuer:
                raise ProviderError(self._unavailable(), f"discovery names issuer {found.get('issuer')!r}")
            self._metadata = found
        return self._metadata

    def start(self, callback_url: str, state: str) -> Authorization:
        nonce, verifier = generate_token(32), generate_token(64)
        with self._client(callback_url) as client:
            url, _state = client.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return Authorization(url, {"nonce": nonce, "verifier": verifier})

    def finish(self, callback_url: str, params: dict[str, str], kept: dict[str, Any]) -> ExternalIdentity:
        if params.get("error"):
            raise ProviderError(refused(self.label, params["error"]), f"provider said {params['error']}")
        if not params.get("code"):
            raise ProviderError(self._unavailable(), "no code in the callback")
        try:
            with self._client(callback_url) as client:
                token = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=params["code"],
                    code_verifier=kept.get("verifier", ""),
                    timeout=TIMEOUT,
                )
        except Exception as error:  # authlib's OAuthError, a network failure, a non-JSON answer
            raise ProviderError(self._unavailable(), f"token exchange failed: {error!r}") from error
        claims = self._id_token(token, kept.get("nonce", ""))
        return ExternalIdentity(
            subject=str(claims["sub"]),
            display_name=str(claims.get("name") or ""),
            email=claims.get("email") if claims.get("email_verified") else None,
        )

    # -- inside ----------------------------------------------------------------------------------

    def _client(self, callback_url: str) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self._secret,
            scope=self.scope,
            redirect_uri=callback_url,
            code_challenge_method="S256",
        )

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=TIMEOUT)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderError(self._unavailable(), f"GET {url} failed: {error!r}") from error

    def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = self._get_json(self.metadata()["jwks_uri"])
        return KeySet.import_key_set(self._keys)

    def _id_token(self, token: dict[str, Any], nonce: str) -> CodeIDToken:
        """The ID token's claims, checked: its signature by the provider's keys, its issuer, that it
        was issued to this client, its times, the nonce of this sign-in and the access token's hash."""
        if "id_token" not in token or not nonce:
            raise ProviderError(self._unavailable(), "no ID token or no nonce kept")
        registry = JWSRegistry(
            algorithms=self.metadata().get("id_token_signing_alg_values_supported"), strict_check_header=False
        )
        try:
            try:
                decoded = jwt.decode(token["id_token"], key=self._key_set(), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(token["id_token"], key=self._key_set(refresh=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {"iss": {"essential": True, "value": self.issuer}, "aud": {"essential": True, "value": self.client_id}},
                {"nonce": nonce, "client_id": self.client_id, "access_token": token.get("access_token")},
            )
            claims.validate(leeway=60)
        except (JoseError, ValueError) as error:
            raise ProviderError(self._unavailable(), f"ID token refused: {error!r}") from error
        return claims

    def _unavailable(self) -> str:
        return refused(self.label, "server_error")


def refused(label: str, error: str) -> str:
    """What the person reads when the provider answered with an OAuth ``error``."""
    if error == "access_denied":
        return _("The sign-in was cancelled at %(provider)s. Nothing has changed.", provider=label)
    return _("%(provider)s did not confirm the sign-in. Try again later or sign in with your password.", provider=label)
