"""Typed plugin settings: what a plugin declares with its ``plugin_settings`` hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SETTING_TYPES = (str, int, float, bool)


@dataclass(frozen=True)
class Setting:
    """One setting of a plugin: its key, type (``str``, ``int``, ``float`` or ``bool``), default and
    what it is for. A ``secret`` (a gateway's password) is read only from the environment variable
    ``env`` (by default ``PORTAL_PLUGIN_<PLUGIN>_<NAME>``), never from the TOML file."""

    name: str
    type: type
    default: Any
    description: str
    secret: bool = False
    env: str | None = None

    def __post_init__(self) -> None:
        if self.type not in SETTING_TYPES:
            names = ", ".join(t.__name__ for t in SETTING_TYPES)
            raise TypeError(f"setting {self.name!r}: type must be one of {names}, not {self.type!r}")
        if self.env is not None and not self.secret:
            raise TypeError(f"setting {self.name!r}: env= names where a secret comes from; add secret=True")
