"""Regions: one deployment serves several regions, each with its own plugins, theme and settings.

A region is a TOML table ``[REGIONS.<code>]`` (the code is the subject's code the directory keeps
on each organisation: 77 Moscow, 16 Tatarstan) with a ``name``, the ``hosts`` it answers on, the
``plugins`` it enables (a subset of the deployment's ``PLUGINS``; core features are always on), a
``theme`` and ``[REGIONS.<code>.PLUGIN_CONFIG.<plugin>]`` overrides of plugin settings.

A request's region is found once and kept on ``g``: its host name (port ignored), else the region
of the clinic the signed-in citizen is attached to, else ``DEFAULT_REGION`` (empty: the deployment
itself, every enabled plugin with the deployment's settings and theme).

The hook callers of each region are built once at start-up (pluggy's ``subset_hook_caller``), so
``PluginHost.collect`` calls only the region's plugins and no view filters plugins by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, abort, current_app, g, has_request_context, request

if TYPE_CHECKING:
    import pluggy

KEYS = frozenset({"name", "hosts", "plugins", "theme", "PLUGIN_CONFIG"})
CODE = re.compile(r"^[0-9A-Za-z]{1,8}$")
# Hooks that serve the whole deployment whatever the request's region: a message queued in one
# region is delivered later by the worker, outside any request, by the same channels.
DEPLOYMENT_HOOKS = frozenset({"notification_channels"})


@dataclass(frozen=True)
class Region:
    """A region as configured; ``code`` "" is the deployment itself (no ``[REGIONS]`` entry)."""

    code: str
    name: str
    hosts: tuple[str, ...] = ()
    plugins: tuple[str, ...] | None = None  # None: every plugin the deployment enables
    theme: str | None = None  # None: DEFAULT_THEME
    plugin_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


DEPLOYMENT = Region("", "")


def parse(raw: Mapping[str, Any], default: str) -> dict[str, Region]:
    """The regions of the ``REGIONS`` setting by code, checked for shape; a mistake raises
    ``ConfigError`` naming the region (what needs the plugins is checked by ``RegionalHooks``)."""
    from portal.config import ConfigError

    regions: dict[str, Region] = {}
    owner: dict[str, str] = {}
    for code, table in raw.items():
        where = f"REGIONS.{code}"
        if not CODE.match(str(code)):
            raise ConfigError(f"{where}: a region's code is its subject code, letters and digits (77, 16)")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table with name, hosts, plugins, theme, PLUGIN_CONFIG")
        table = {("PLUGIN_CONFIG" if key.upper() == "PLUGIN_CONFIG" else key.lower()): v for key, v in table.items()}
        unknown = set(table) - KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(KEYS))})")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: a region needs a name")
        hosts = _strings(table.get("hosts", []), f"{where}.hosts")
        for host in hosts:
            host = host.lower()
            if host in owner:
                raise ConfigError(f"host {host!r} is in two regions: {owner[host]} and {code}")
            owner[host] = str(code)
        plugins = table.get("plugins")
        theme = table.get("theme")
        if theme is not None and not isinstance(theme, str):
            raise ConfigError(f"{where}.theme must be a theme's name")
        config = table.get("PLUGIN_CONFIG", {})
        if not isinstance(config, Mapping) or not all(isinstance(v, Mapping) for v in config.values()):
            raise ConfigError(f"{where}.PLUGIN_CONFIG must hold one table per plugin")
        regions[str(code)] = Region(
            code=str(code),
            name=name.strip(),
            hosts=tuple(h.lower() for h in hosts),
            plugins=None if plugins is None else _strings(plugins, f"{where}.plugins"),
            theme=theme,
            plugin_config={plugin: dict(values) for plugin, values in config.items()},
        )
    if default and default not in regions:
        raise ConfigError(f"DEFAULT_REGION {default!r} is not one of the REGIONS ({', '.join(regions) or 'none'})")
    return regions


def _strings(value: Any, where: str) -> tuple[str, ...]:
    from portal.config import ConfigError

    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where} must be a list of names")
    return tuple(v.strip() for v in value)


class RegionalHooks:
    """The regions of one app with what each enables: the hook callers of its plugins (built once
    here, never per request) and its plugins' settings (the deployment's, then the region's)."""

    def __init__(
        self,
        app: Flask,
        pm: pluggy.PluginManager,
        optional: list[str],
        settings: dict[str, dict],
        overlay: Callable[[str, Mapping[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """``overlay(plugin, values)`` gives the plugin's settings with a region's ``values`` laid
        over the deployment's, typed and checked as the deployment's are (an error names the key)."""
        from portal.plugins import PluginError

        self.regions = parse(app.config.get("REGIONS") or {}, app.config.get("DEFAULT_REGION") or "")
        self.optional = frozenset(optional)
        self.default = self.regions.get(app.config.get("DEFAULT_REGION") or "", DEPLOYMENT)
        self.by_host = {host: region for region in self.regions.values() for host in region.hosts}
        self.off: dict[str, frozenset[str]] = {}
        self.callers: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, dict[str, dict[str, Any]]] = {}
        hook_names = [name for name in vars(pm.hook) if not name.startswith("_")]
        for region in self.regions.values():
            where = f"REGIONS.{region.code}"
            enabled = set(optional if region.plugins is None else region.plugins)
            if stray := sorted(enabled - set(optional)):
                raise PluginError(f"{where} enables {stray}, which the deployment does not (PLUGINS)")
            self.off[region.code] = frozenset(set(optional) - enabled)
            removed = [pm.get_plugin(name) for name in sorted(self.off[region.code])]
            self.callers[region.code] = {name: pm.subset_hook_caller(name, removed) for name in hook_names}
            self.settings[region.code] = {}
            for name, values in region.plugin_config.items():
                if name not in settings or name in self.off[region.code]:
                    raise PluginError(f"{where}.PLUGIN_CONFIG has settings for {name!r}, which is not on in the region")
                if overlay is not None:
                    try:
                        self.settings[region.code][name] = overlay(name, values)
                    except Exception as exc:
                        raise PluginError(f"{where}: {exc}") from exc
                    continue
                unknown = set(values) - set(settings[name])
                if unknown:
                    raise PluginError(f"{where}: plugin {name!r} has no settings named {sorted(unknown)}")
                self.settings[region.code][name] = {**settings[name], **values}

    def check_themes(self, themes: Mapping[str, Any]) -> None:
        from portal.plugins import PluginError

        for region in self.regions.values():
            if region.theme is not None and region.theme not in themes:
                raise PluginError(f"REGIONS.{region.code}: theme {region.theme!r} is not a registered theme")

    def caller(self, region: Region, hook_name: str) -> Any:
        """The region's caller of the hook, or None where every enabled plugin takes part."""
        found = self.callers.get(region.code)
        return None if found is None or hook_name in DEPLOYMENT_HOOKS else found[hook_name]

    def is_on(self, region: Region, plugin: str) -> bool:
        return plugin not in self.off.get(region.code, ())

    def where_on(self, plugin: str) -> str:
        """The codes of the regions where the plugin is on, for ``flask plugins`` ("all": everywhere)."""
        codes = [region.code for region in self.regions.values() if self.is_on(region, plugin)]
        return "all" if len(codes) == len(self.regions) else ",".join(codes) or "none"

    def settings_of(self, region: Region, plugin: str) -> dict[str, Any] | None:
        return self.settings.get(region.code, {}).get(plugin)

    def resolve(self) -> Region:
        """This request's region: by host name, else the signed-in citizen's clinic, else the default."""
        if not self.regions:
            return self.default
        found = self.by_host.get(host_name(request.host))
        if found is None:
            code = _attached_region_code()
            found = self.regions.get(code) if code else None
        return found or self.default


def host_name(host: str) -> str:
    """``host`` without its port, in lower case (``[::1]:5000`` gives ``[::1]``)."""
    host = host.lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def _attached_region_code() -> str | None:
    """The region code of the clinic the signed-in citizen is attached to today, if any. Only the
    clinic's region is read (to choose the portal's plugins), nothing of the card is shown."""
    from portal.auth.sessions import account_if_signed_in
    from portal.directory.service import attached_region_code

    account = account_if_signed_in()
    return attached_region_code(account.patient_id) if account is not None and account.patient_id else None


def regional_hooks() -> RegionalHooks:
    return current_app.extensions["portal.plugins"].regions


def current_region() -> Region | None:
    """The region of this request (found once, kept on ``g``); None outside a request."""
    if not has_request_context():
        return None
    if "region" not in g:
        from portal.database import _write_intent

        if "portal_current" not in g and _write_intent.get():
            # Loading the session may write: never from inside another write. Not kept, so the
            # region is looked up in full the next time it is asked for outside the write.
            return regional_hooks().by_host.get(host_name(request.host), regional_hooks().default)
        g.region = regional_hooks().resolve()
    return g.region


def refuse_plugins_off_here() -> None:
    """Before each request: a page of a plugin that is off in this region answers 404."""
    owners = current_app.extensions["portal.plugin_blueprints"]
    for blueprint in request.blueprints:  # a nested blueprint's page belongs to the outer one's plugin
        plugin = owners.get(blueprint)
        if plugin is not None and not regional_hooks().is_on(current_region(), plugin):
            abort(404)
