"""The signer: the one piece of ESIA that needs certified cryptography.

ESIA wants every request of the portal signed (``client_secret``: a detached PKCS#7 signature in
ГОСТ Р 34.10-2012 of scope + timestamp + client_id + state) and signs its own tokens. Only a
certified tool (CryptoPro CSP, a signing service of the region) may make ГОСТ signatures for it,
so the plugin does no cryptography itself: it calls a ``Signer`` named in its settings
(``signer = "package.module:factory"``; the factory gets the plugin's settings).

``TestSigner`` is for tests and the fake ESIA server only: RSA with SHA-256, which ESIA refuses.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class Signer(Protocol):
    def sign(self, data: bytes) -> bytes:
        """The portal's detached signature of ``data`` (for ESIA: PKCS#7, DER, ГОСТ Р 34.10-2012)."""

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is ESIA's own over ``data`` (a token's header and payload), by the
        certificate ESIA publishes."""


def load(settings: dict[str, Any]) -> Signer:
    """The signer the settings name: ``signer`` is ``"package.module:factory"``."""
    path = settings.get("signer") or ""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise LookupError(f"esia: the setting signer must be 'package.module:factory', not {path!r}")
    return getattr(importlib.import_module(module_name), attribute)(settings)


class TestSigner:
    """RSA PKCS#1 v1.5 with SHA-256, for tests: signs with ``signer_key`` (the portal's private key,
    PEM) and checks ESIA's signatures with ``esia_public_key`` (PEM). Never for a real ESIA."""

    __test__ = False  # not a pytest test class

    def __init__(self, settings: dict[str, Any]) -> None:
        self._key = serialization.load_pem_private_key(Path(settings["signer_key"]).read_bytes(), password=None)
        self._esia = serialization.load_pem_public_key(Path(settings["esia_public_key"]).read_bytes())
        if not isinstance(self._key, rsa.RSAPrivateKey) or not isinstance(self._esia, rsa.RSAPublicKey):
            raise TypeError("TestSigner needs RSA keys")

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._esia.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True
