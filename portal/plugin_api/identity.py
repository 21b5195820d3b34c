"""Sign-in providers: what a plugin implements to let people sign in with another identity service.

A provider sends the browser away (``start``) and turns what comes back to the callback
(``finish``) into an ``ExternalIdentity``. Everything around it is the core's: the routes
``/auth/provider/<name>/start`` and ``/callback``, the ``state`` kept in the session and checked
once, the link between the provider's subject and an account, the session and its second factor,
and the verification of an account by a SNILS the provider vouches for (docs/sign_in_providers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what the provider needs again at the callback (a nonce, a
    PKCE verifier). ``kept`` lives in the signed session cookie until the callback: no secrets
    the browser must not read beyond these one-time values."""

    url: str
    kept: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExternalIdentity:
    """A person as the provider vouches for them.

    ``subject`` is the provider's stable, never reused identifier of the person. ``snils`` is set
    only when the provider has confirmed the person's identity itself (ESIA's «подтверждённая»
    level): with it the core verifies the account and links its card without a registrar. ``advice``
    is what the person should do when the provider cannot vouch for them (in their language)."""

    subject: str
    display_name: str = ""
    email: str | None = None
    snils: str | None = None
    advice: str | None = None


class ProviderError(Exception):
    """The provider refused or failed: ``message`` is shown to the person (in their language),
    ``reason`` goes to the audit log."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message, self.reason = message, reason


class IdentityProvider:
    """A sign-in service. ``name`` is its address part (``/auth/provider/<name>/...``) and the key
    of its links to accounts; ``label`` is the button's text."""

    name: str = ""
    label: str = ""
    # scheme://host[:port] that ``start`` sends the browser to: the pages with this provider's
    # buttons allow it in their CSP ``form-action`` (browsers apply it to the redirect that
    # follows the button's POST).
    origin: str = ""

    def start(self, callback_url: str, state: str) -> Authorization:
        """The authorisation request for this sign-in, carrying ``state`` unchanged."""
        raise NotImplementedError

    def finish(self, callback_url: str, params: dict[str, str], kept: dict[str, Any]) -> ExternalIdentity:
        """Exchange what came back to the callback (its query ``params``, ``state`` already checked)
        for the person's identity; raise ``ProviderError`` on a refusal or a bad answer."""
        raise NotImplementedError
