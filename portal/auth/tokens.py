"""Signed tokens for links sent by e-mail: itsdangerous with a salt per purpose, so a token made
for one purpose is refused for any other."""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

MAX_AGE = {"confirm-email": 24 * 3600, "reset-password": 30 * 60}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"medkarta:{purpose}")


def make(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str) -> dict[str, Any] | None:
    """The payload, or None when the token is forged, for another purpose or too old."""
    try:
        return _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except (BadSignature, SignatureExpired):
        return None
