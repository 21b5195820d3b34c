"""Plugin settings at start-up: each enabled plugin's declared settings (``plugin_api.Setting``)
overlaid with the deployment's ``[PLUGIN_CONFIG.<name>]`` table and, for secrets, the
environment, each value converted to its declared type. Kept apart from the host so a later
overlay (per-region settings) can call ``resolve`` again with another table."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from portal.plugin_api.settings import Setting

log = logging.getLogger(__name__)

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A plugin's settings are wrong; the message names the plugin and the key."""


def env_name(plugin: str, setting: Setting) -> str:
    """Where a secret comes from: ``setting.env``, or ``PORTAL_PLUGIN_<PLUGIN>_<NAME>``."""
    if setting.env:
        return setting.env
    return re.sub(r"[^A-Z0-9]+", "_", f"PORTAL_PLUGIN_{plugin}_{setting.name}".upper())


def declared_settings(plugin: str, declared: Any) -> dict[str, Setting | None]:
    """The plugin's settings by key. The dict form of contract 1.0's first plugins
    (``{"phone": "122"}``) is still accepted: each key is an untyped setting (``None`` here),
    whose configured value is taken as the TOML file gives it."""
    if declared is None:
        return {}
    if isinstance(declared, Mapping):
        return {str(key): None for key in declared}
    found: dict[str, Setting | None] = {}
    for setting in declared:
        if not isinstance(setting, Setting):
            raise SettingsError(
                f"plugin {plugin!r}: plugin_settings must return plugin_api.Setting objects, got {setting!r}"
            )
        if setting.name in found:
            raise SettingsError(f"plugin {plugin!r} declares the setting {setting.name!r} twice")
        if setting.default is not None and not _is_a(setting.default, setting.type):
            raise SettingsError(
                f"plugin {plugin!r}: the default of setting {setting.name!r} is {setting.default!r}, "
                f"not {setting.type.__name__} (None means no value)"
            )
        found[setting.name] = setting
    return found


def defaults(declared: Any) -> dict[str, Any]:
    if isinstance(declared, Mapping):
        return dict(declared)
    return {setting.name: setting.default for setting in declared or ()}


def _is_a(value: Any, kind: type) -> bool:
    """``isinstance``, except that a bool is no number (``True`` is an ``int`` in Python)."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def convert(plugin: str, setting: Setting, raw: Any) -> Any:
    """``raw`` as ``setting.type``: TOML gives typed values, the environment strings."""
    kind = setting.type
    value: Any = None
    if _is_a(raw, kind):
        value = raw
    elif kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str) and kind is bool and raw.strip().lower() in TRUE | FALSE:
        value = raw.strip().lower() in TRUE
    elif isinstance(raw, str) and kind in (int, float):
        try:
            value = kind(raw.strip())
        except ValueError:
            value = None
    if value is None:
        shown = "(hidden: a secret)" if setting.secret else repr(raw)
        expected = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[kind]
        raise SettingsError(f"plugin {plugin!r}: setting {setting.name!r} must be {expected}, got {shown}")
    return value


def resolve(plugin: str, declared: Any, configured: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The plugin's settings: defaults, then ``configured`` (its TOML table), then secrets from
    ``environ``; SettingsError naming the plugin, the key and the valid keys."""
    settings = declared_settings(plugin, declared)
    values = defaults(declared)
    unknown = sorted(set(configured) - set(settings))
    if unknown:
        valid = ", ".join(sorted(settings)) or "none: it declares no settings"
        raise SettingsError(f"plugin {plugin!r} has no settings named {unknown}; its settings are: {valid}")
    for key, raw in configured.items():
        setting = settings[key]
        if setting is None:
            values[key] = raw
        elif setting.secret:
            raise SettingsError(
                f"plugin {plugin!r}: setting {key!r} is a secret and is never read from PLUGIN_CONFIG; "
                f"set the environment variable {env_name(plugin, setting)} instead"
            )
        else:
            values[key] = convert(plugin, setting, raw)
    for key, setting in settings.items():
        if setting is not None and setting.secret and env_name(plugin, setting) in environ:
            values[key] = convert(plugin, setting, environ[env_name(plugin, setting)])
    return values


def resolve_all(
    declared: Mapping[str, Any], configured: Mapping[str, Mapping[str, Any]], environ: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Every enabled plugin's settings. A table for a plugin that is not enabled is logged and
    left alone: a region may keep the settings of a plugin it switched off."""
    for name in sorted(set(configured) - set(declared)):
        log.warning("PLUGIN_CONFIG has settings for %r, which is not enabled; they are not used", name)
    return {name: resolve(name, found, configured.get(name) or {}, environ) for name, found in declared.items()}


def describe(plugin: str, declared: Any, values: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """One line per setting for ``flask --app portal plugins --settings``: key, type, value and
    what it is for; a secret shows its environment variable and whether it is set, never its value."""
    lines = []
    for key, setting in sorted(declared_settings(plugin, declared).items()):
        if setting is None:
            lines.append(f"{key} (untyped) = {values[key]!r}")
        elif setting.secret:
            variable = env_name(plugin, setting)
            state = "set" if variable in environ else "not set"
            lines.append(f"{key} ({setting.type.__name__}, secret from {variable}: {state}): {setting.description}")
        else:
            lines.append(f"{key} ({setting.type.__name__}) = {values[key]!r}: {setting.description}")
    return lines
