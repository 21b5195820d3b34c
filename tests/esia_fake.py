"""A fake ESIA for the plugin's tests: ESIA's endpoints over real HTTP on 127.0.0.1 (a threaded
werkzeug server), checking what ESIA checks and failing as ESIA fails.

- ``GET /aas/oauth2/ac``: the signed authorisation request. The person "signs in" at once (the
  test picks who with ``FakeEsia.person``) and is sent back with a code, or with
  ``error=access_denied`` when the test says they refuse; a bad signature or timestamp sends back
  ``error=invalid_request`` as ESIA does (ESIA-007014).
- ``POST /aas/oauth2/te``: the code (one use, ``code_seconds`` long) for a signed access token, a
  JWT with ``urn:esia:sbj_id``; ``invalid_grant`` for a used or expired code, ``invalid_client`` for
  a bad signature. ``answer_state`` makes it echo a state that is not the request's.
- ``GET /rs/prns/<oid>`` and ``/rs/prns/<oid>/ctts``: the person and their contacts, for a token
  of that oid only.

The portal's signature is checked with the test signer's public key, and ESIA's tokens are signed
with the fake's own key, so ``plugins.esia.signers.TestSigner`` is exercised both ways.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "MEDKARTA"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Person:
    oid: str
    snils: str
    trusted: bool = True
    last_name: str = "Белова"
    first_name: str = "Анна"
    middle_name: str = "Петровна"
    birth_date: str = "14.03.1985"
    email: str = "anna.belova@example.ru"


@dataclass
class FakeEsia:
    """The fake server's state; tests change ``person``, ``deny``, ``code_seconds``, ``answer_state``."""

    portal_key: rsa.RSAPublicKey
    person: Person | None = None
    deny: bool = False
    code_seconds: int = 60
    answer_state: str | None = None
    url: str = ""
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    # -- checks ESIA makes ---------------------------------------------------------------------

    def signed_by_portal(self, form: dict[str, str]) -> bool:
        data = form.get("scope", "") + form.get("timestamp", "") + form.get("client_id", "") + form.get("state", "")
        try:
            moment = datetime.strptime(form.get("timestamp", ""), "%Y.%m.%d %H:%M:%S %z")
            self.portal_key.verify(
                unb64url(form.get("client_secret", "")), data.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            return False
        return abs(time.time() - moment.timestamp()) < 300 and form.get("client_id") == CLIENT_ID

    def token_for(self, oid: str) -> str:
        now = int(time.time())
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "sbt": "access", "ver": 1}).encode())
        claims = {
            "iss": "http://esia.gosuslugi.ru/",
            "client_id": CLIENT_ID,
            "urn:esia:sbj_id": int(oid),
            "urn:esia:sid": secrets.token_hex(8),
            "scope": "openid fullname birthdate snils contacts",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        payload = b64url(json.dumps(claims).encode())
        signature = self.key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{header}.{payload}.{b64url(signature)}"
        self.tokens[token] = oid
        return token

    # -- endpoints -----------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path == "/aas/oauth2/ac" and request.method == "GET":
            response = self.authorise(request.args.to_dict())
        elif path == "/aas/oauth2/te" and request.method == "POST":
            response = self.token(request.form.to_dict())
        elif path.startswith("/rs/prns/") and request.method == "GET":
            response = self.person_data(request, path.removeprefix("/rs/prns/").split("/"))
        else:
            response = Response("not found", 404)
        return response(environ, start_response)

    def authorise(self, query: dict[str, str]) -> Response:
        back = query.get("redirect_uri", "")
        state = query.get("state", "")
        if not self.signed_by_portal(query):
            error = {"error": "invalid_request", "error_description": "ESIA-007014: bad client_secret", "state": state}
            return redirect(f"{back}?{urlencode(error)}")
        if self.deny or self.person is None:
            error = {"error": "access_denied", "error_description": "ESIA-007007: the user refused", "state": state}
            return redirect(f"{back}?{urlencode(error)}")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"oid": self.person.oid, "until": time.time() + self.code_seconds, "redirect_uri": back}
        return redirect(f"{back}?{urlencode({'code': code, 'state': state})}")

    def token(self, form: dict[str, str]) -> Response:
        if not self.signed_by_portal(form):
            return error(400, "invalid_client", "ESIA-007012: the client_secret is not valid")
        issued = self.codes.pop(form.get("code", ""), None)  # one use, right or wrong
        if issued is None or issued["until"] < time.time() or issued["redirect_uri"] != form.get("redirect_uri"):
            return error(400, "invalid_grant", "ESIA-007004: the code is expired or unknown")
        body = {
            "access_token": self.token_for(issued["oid"]),
            "expires_in": 3600,
            "state": self.answer_state or form.get("state"),
            "token_type": "Bearer",
        }
        return Response(json.dumps(body), 200, content_type="application/json")

    def person_data(self, request: Request, parts: list[str]) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        person = self.person
        if self.tokens.get(token) != parts[0] or person is None or person.oid != parts[0]:
            return error(401, "invalid_token", "ESIA-005011: no access to this person")
        if parts[1:] == ["ctts"]:
            elements = [
                {"type": "EML", "vrfStu": "VERIFIED", "value": person.email},
                {"type": "MBT", "vrfStu": "VERIFIED", "value": "+7(900)1112233"},
            ]
            return Response(json.dumps({"size": 2, "elements": elements}), content_type="application/json")
        body = {
            "firstName": person.first_name,
            "lastName": person.last_name,
            "middleName": person.middle_name,
            "birthDate": person.birth_date,
            "trusted": person.trusted,
            "snils": person.snils,
            "status": "REGISTERED",
            "verifying": False,
        }
        return Response(json.dumps(body), content_type="application/json")


def redirect(location: str) -> Response:
    return Response("", 302, headers={"Location": location})


def error(status: int, code: str, description: str) -> Response:
    return Response(
        json.dumps({"error": code, "error_description": description}), status, content_type="application/json"
    )


class Running:
    """The fake ESIA serving on a free port of 127.0.0.1 in a thread, and the key files of the
    test signer: the portal's private key and the fake's public key."""

    def __init__(self, folder: Path) -> None:
        portal_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fake = FakeEsia(portal_key=portal_key.public_key())
        self.signer_key = folder / "portal-key.pem"
        self.signer_key.write_bytes(pem_private(portal_key))
        self.esia_public_key = folder / "esia-public.pem"
        self.esia_public_key.write_bytes(pem_public(self.fake.key))
        self.server = make_server("127.0.0.1", 0, self.fake, threaded=True)
        self.fake.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
