"""Sign-in with Gosuslugi (ESIA, the Unified Identification and Authentication System).

ESIA's authorisation-code flow (its «Методические рекомендации по использованию ЕСИА»): the
browser goes to ``/aas/oauth2/ac`` with a signed request; the code that comes back is exchanged at
``/aas/oauth2/te`` (signed again) for an access token, a JWT naming the person (``urn:esia:sbj_id``,
their oid); the person's data comes from ``/rs/prns/<oid>`` and ``/rs/prns/<oid>/ctts``.

Signatures are a ``Signer``'s (``signers.py``): ESIA needs ГОСТ, made by a certified tool. When ESIA
says the account is «подтверждённая» (``trusted``), the plugin gives the core the person's SNILS,
and the core verifies the Medkarta account and links its card without a registrar; a lower level
gets advice instead (docs/sign_in_providers.md).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from plugins.esia import signers
from portal.plugin_api import (
    Authorization,
    ExternalIdentity,
    IdentityProvider,
    ProviderError,
    Setting,
    Translations,
    hookimpl,
    plugin_config,
)

CONTRACT = "1.0"

translations = Translations(__file__, "esia")
_ = translations.gettext

NAME = "esia"
TIMEOUT = 10  # seconds for each call to ESIA
CLOCK_SKEW = 60  # seconds of difference between ESIA's clock and ours that a token may show


@hookimpl
def plugin_settings() -> list[Setting]:
    return [
        Setting(
            "base_url",
            str,
            "https://esia.gosuslugi.ru",
            "ESIA's address (the test environment: https://esia-portal1.test.gosuslugi.ru)",
        ),
        Setting(
            "client_id", str, "", "the portal's mnemonic registered at ESIA; empty: no «Войти через Госуслуги» button"
        ),
        Setting("scope", str, "openid fullname birthdate snils contacts", "the scopes asked of ESIA"),
        Setting(
            "signer",
            str,
            "",
            'the request signer, "package.module:factory" of a signers.Signer (a certified ГОСТ tool)',
        ),
        Setting(
            "signer_key",
            str,
            "",
            "the key file the test signer (signers.TestSigner) signs with; not used by a ГОСТ signer",
        ),
        Setting(
            "esia_public_key",
            str,
            "",
            "the key file the test signer checks ESIA's tokens with; not used by a ГОСТ signer",
        ),
    ]


@hookimpl
def identity_providers() -> list[IdentityProvider]:
    settings = plugin_config(NAME)
    if not settings["client_id"] or not settings["signer"]:
        return []  # not set up for this deployment: no button
    return [provider(tuple(sorted(settings.items())))]


@lru_cache(maxsize=8)
def provider(settings: tuple[tuple[str, Any], ...]) -> Esia:
    """One provider (and one signer, which may hold a key or a connection) per set of settings,
    not one for every page that shows the button."""
    values = dict(settings)
    return Esia(values, signers.load(values))


def timestamp(moment: datetime | None = None) -> str:
    """ESIA's ``timestamp``: ``yyyy.MM.dd HH:mm:ss Z``."""
    return (moment or datetime.now(UTC)).strftime("%Y.%m.%d %H:%M:%S %z")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Esia(IdentityProvider):
    name = NAME

    def __init__(self, settings: dict[str, Any], signer: signers.Signer) -> None:
        self.settings, self.signer = settings, signer
        self.base = settings["base_url"].rstrip("/")
        address = urlsplit(self.base)
        self.origin = f"{address.scheme}://{address.netloc}"

    @property
    def label(self) -> str:
        return _("Gosuslugi")

    def signed(self, state: str, callback_url: str) -> dict[str, str]:
        """The parameters every ESIA request carries, with ``client_secret``: the signature of
        scope + timestamp + client_id + state."""
        moment, scope, client = timestamp(), self.settings["scope"], self.settings["client_id"]
        secret = self.signer.sign((scope + moment + client + state).encode())
        return {
            "client_id": client,
            "client_secret": b64url(secret),
            "redirect_uri": callback_url,
            "scope": scope,
            "state": state,
            "timestamp": moment,
        }

    def start(self, callback_url: str, state: str) -> Authorization:
        query = {**self.signed(state, callback_url), "response_type": "code", "access_type": "online"}
        return Authorization(f"{self.base}/aas/oauth2/ac?{urlencode(query)}")

    def finish(self, callback_url: str, params: dict[str, str], kept: dict[str, Any]) -> ExternalIdentity:
        if params.get("error"):
            raise ProviderError(
                self.refusal(params["error"]), f"esia said {params['error']}: {params.get('error_description', '')}"
            )
        if not params.get("code"):
            raise ProviderError(self.unavailable(), "no code in the callback")
        token = self.exchange(params["code"], callback_url)
        oid = self.subject_of(token)
        person = self.get(f"/rs/prns/{oid}", token)
        contacts = self.get(f"/rs/prns/{oid}/ctts?embed=(elements)", token)
        return self.identity(oid, person, contacts)

    # -- the steps -------------------------------------------------------------------------------

    def exchange(self, code: str, callback_url: str) -> str:
        """The code for an access token at ``/aas/oauth2/te``, signed with a new state of our own
        that ESIA must echo."""
        state = str(uuid.uuid4())
        form = {
            **self.signed(state, callback_url),
            "code": code,
            "grant_type": "authorization_code",
            "token_type": "Bearer",
        }
        try:
            answer = requests.post(f"{self.base}/aas/oauth2/te", data=form, timeout=TIMEOUT)
            body = answer.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderError(self.unavailable(), f"token exchange failed: {error!r}") from error
        if answer.status_code != 200 or "access_token" not in body:
            raise ProviderError(
                self.unavailable(), f"token refused: {body.get('error')} {body.get('error_description', '')}"
            )
        if body.get("state") != state:
            raise ProviderError(self.unavailable(), "the token answer carries another state")
        return body["access_token"]

    def subject_of(self, token: str) -> str:
        """The person's oid from ESIA's access token, once its signature (ESIA's, by the signer),
        audience and times are checked."""
        try:
            header, payload, signature = token.split(".")
            claims = json.loads(unb64url(payload))
            signed = self.signer.verify(f"{header}.{payload}".encode(), unb64url(signature))
        except ValueError as error:
            raise ProviderError(self.unavailable(), f"malformed access token: {error!r}") from error
        now, expires, starts = time.time(), claims.get("exp"), claims.get("nbf", 0)
        problems = {
            "signature": not signed,
            "client_id": claims.get("client_id") != self.settings["client_id"],
            "expired": not isinstance(expires, int | float) or expires < now - CLOCK_SKEW,
            "not yet valid": not isinstance(starts, int | float) or starts > now + CLOCK_SKEW,
            "no subject": not claims.get("urn:esia:sbj_id"),
        }
        refused = [problem for problem, found in problems.items() if found]
        if refused:
            raise ProviderError(self.unavailable(), f"access token refused: {', '.join(refused)}")
        return str(claims["urn:esia:sbj_id"])

    def get(self, path: str, token: str) -> dict[str, Any]:
        try:
            answer = requests.get(f"{self.base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
            answer.raise_for_status()
            return answer.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderError(self.unavailable(), f"GET {path.split('?')[0]} failed: {error!r}") from error

    def identity(self, oid: str, person: dict[str, Any], contacts: dict[str, Any]) -> ExternalIdentity:
        name = " ".join(p for p in (person.get("lastName"), person.get("firstName"), person.get("middleName")) if p)
        email = next(
            (
                c.get("value")
                for c in contacts.get("elements", [])
                if c.get("type") == "EML" and c.get("vrfStu") == "VERIFIED"
            ),
            None,
        )
        trusted = person.get("trusted") is True and bool(person.get("snils"))
        return ExternalIdentity(
            subject=oid,
            display_name=name,
            email=email,
            snils=person["snils"] if trusted else None,
            advice=None if trusted else self.confirm_advice(),
        )

    # -- what the person reads -------------------------------------------------------------------

    def confirm_advice(self) -> str:
        return _(
            "Your Gosuslugi account is not confirmed (its level is «упрощённая» or «стандартная»), so it cannot "
            "confirm your identity here. Confirm it at Gosuslugi (through your bank's app or by a registered "
            "letter) or at a МФЦ with your passport and SNILS, then link Gosuslugi again: your identity will be "
            "confirmed at once, without a visit to the registry."
        )

    def refusal(self, error: str) -> str:
        if error == "access_denied":
            return _("You cancelled the sign-in at Gosuslugi. Nothing has changed.")
        return self.unavailable()

    def unavailable(self) -> str:
        return _("Gosuslugi did not confirm the sign-in. Try again later or sign in with your password.")
