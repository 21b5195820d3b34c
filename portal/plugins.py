"""The plugin host: discovery, loading, validation and safe calling of hooks.

Built inside ``create_app`` and kept in ``app.extensions["portal.plugins"]``; nothing is loaded
at import time. Core features that are plugins register from ``CORE_PLUGINS``; others come from
the entry-point group ``portal.plugins``, and only those named in ``PLUGINS`` are enabled.
Test-only plugins come from ``TESTING_PLUGINS`` (import paths), which is refused unless the app
is in testing mode, so they never reach production.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy
from flask import Flask

from portal import hookspecs, plugin_faults, plugin_host_settings, regions
from portal.access import plugin_rules
from portal.plugin_api.contract import contract_problem

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "portal.plugins"
CORE_PLUGINS: tuple[str, ...] = (
    "portal.web.hooks",
    "portal.directory.hooks",
    "portal.appointments.hooks",
    "portal.record.hooks",
    "portal.auditor.hooks",
    "portal.orgadmin.hooks",
    "portal.accounting.hooks",
    "portal.protocol.hooks",
    "portal.notify.hooks",
    "portal.sharing.hooks",
    "portal.auth.hooks",  # sign-in providers
)


def declared_contract(plugin: object) -> object:
    """The contract version a plugin declares: its own ``CONTRACT``, or for a plugin class or
    object without one, its module's."""
    found = getattr(plugin, "CONTRACT", None)
    if found is None and not isinstance(plugin, ModuleType):
        found = getattr(sys.modules.get(getattr(plugin, "__module__", "") or ""), "CONTRACT", None)
    return found


class PluginError(RuntimeError):
    """An enabled plugin cannot be used; start-up stops with this message."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    status: str  # "core", "enabled", "installed, not enabled", "testing"


class PluginHost:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pm = pluggy.PluginManager("portal")
        self.pm.add_hookspecs(hookspecs)
        self._versions: dict[str, str] = {}
        self._status: dict[str, str] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        self._declared: dict[str, Any] = {}
        self._installed = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

        for module_name in CORE_PLUGINS:
            self._register(importlib.import_module(module_name), module_name, "core", "core")
        for name in app.config["PLUGINS"]:
            self._register(self._load_entry_point(name), name, "enabled", self._version_of(name))
        testing = app.config.get("TESTING_PLUGINS", ())
        if testing and not app.testing:
            raise PluginError("TESTING_PLUGINS is only allowed when TESTING is on")
        for path in testing:
            module_path, _, attribute = path.partition(":")
            module = importlib.import_module(module_path)
            self._register(getattr(module, attribute) if attribute else module, path, "testing", "test")

        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin)
            raise PluginError(f"plugin {name!r} implements an unknown hook: {exc}") from exc
        undeclared = plugin_rules.undeclared_rules(self.pm)
        if undeclared:
            raise PluginError(
                f"plugin {undeclared[0]!r}: its access_denials rule does not say what it governs; decorate it with "
                "@governs(sections=..., actions=...) from portal.plugin_api (@governs() for every section and action)"
            )
        with app.app_context():
            self._validate_settings(app.config.get("PLUGIN_CONFIG") or {})
        optional = [name for name, status in self._status.items() if status != "core"]
        configured = app.config.get("PLUGIN_CONFIG") or {}

        def overlay(name: str, values: Any) -> dict[str, Any]:
            table = {**(configured.get(name) or {}), **values}
            return plugin_host_settings.resolve(name, self._declared[name], table, os.environ)

        self.regions = regions.RegionalHooks(app, self.pm, optional, self._settings, overlay)

    # -- loading ---------------------------------------------------------------------------

    def _load_entry_point(self, name: str) -> ModuleType:
        ep: EntryPoint | None = self._installed.get(name)
        if ep is None:
            raise PluginError(
                f"plugin {name!r} is enabled in PLUGINS but not installed "
                f"(no entry point {name!r} in group {ENTRY_POINT_GROUP!r})"
            )
        try:
            return ep.load()
        except Exception as exc:  # any import-time failure of a plugin stops start-up
            raise PluginError(f"plugin {name!r} failed to load: {exc!r}") from exc

    def _version_of(self, name: str) -> str:
        ep = self._installed.get(name)
        dist = getattr(ep, "dist", None)
        return dist.version if dist is not None else "unknown"

    def _register(self, module: ModuleType, name: str, status: str, version: str) -> None:
        if status != "core":  # the portal's own features are built with the contract they define
            problem = contract_problem(name, declared_contract(module))
            if problem:
                raise PluginError(problem)
        try:
            self.pm.register(module, name=name)
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed to register: {exc}") from exc
        self._status[name] = status
        self._versions[name] = version

    def _validate_settings(self, configured: dict[str, Any]) -> None:
        """Each plugin's typed settings, checked once at start-up (``portal.plugin_host_settings``)."""
        declared: dict[str, Any] = {name: None for name, _plugin in self.pm.list_name_plugin()}
        declared.update(self.startup("plugin_settings"))
        self._declared = declared
        try:
            self._settings = plugin_host_settings.resolve_all(declared, configured, os.environ)
        except plugin_host_settings.SettingsError as exc:
            raise PluginError(str(exc)) from exc

    # -- calling ---------------------------------------------------------------------------

    def settings_for(self, name: str) -> dict[str, Any]:
        """The plugin's settings in this request's region (the deployment's outside a request)."""
        region = regions.current_region()
        regional = self.regions.settings_of(region, name) if region is not None else None
        return dict(regional if regional is not None else self._settings[name])

    def hook(self, hook_name: str) -> Any:
        """The hook's caller for this request's region: only the plugins on there take part."""
        region = regions.current_region()
        found = self.regions.caller(region, hook_name) if region is not None else None
        return found if found is not None else getattr(self.pm.hook, hook_name)

    def describe_settings(self, name: str) -> list[str]:
        """The plugin's settings, one line each (secrets without their values)."""
        return plugin_host_settings.describe(name, self._declared[name], self._settings[name], os.environ)

    def startup(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call a start-up hook plugin by plugin; an error stops start-up naming the plugin."""
        results = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                results.append((impl.plugin_name, impl.function()))
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc!r}") from exc
        return results

    def translations_of(self, name: str) -> Any:
        """The plugin's ``translations`` object (``plugin_api.Translations``), if it has one."""
        from portal.plugin_api import Translations

        found = getattr(self.pm.get_plugin(name), "translations", None) if name else None
        return found if isinstance(found, Translations) else None

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a presentation hook plugin by plugin and flatten the lists they return.

        One plugin that raises is logged and its contribution dropped, so the page still renders
        with everyone else's (re-raised when PLUGINS_RAISE_ERRORS is on, as in development).
        """
        hook = self.hook(hook_name)
        results: list[Any] = []
        for impl in hook.get_hookimpls():  # registration order
            args = {name: kwargs[name] for name in impl.argnames}
            try:
                returned = impl.function(**args)
            except Exception:
                if self.app.config.get("PLUGINS_RAISE_ERRORS"):
                    raise
                log.exception("plugin %r failed in hook %s; its part is left out", impl.plugin_name, hook_name)
                plugin_faults.record(impl.plugin_name, hook_name)
                continue
            for item in returned or ():
                if hasattr(item, "plugin"):  # a card, a section, a field: rendered in its plugin's domain
                    item = replace(item, plugin=impl.plugin_name)
                results.append(item)
        return results

    def describe(self) -> list[PluginInfo]:
        rows = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            rows.append(PluginInfo(name, self._versions[name], hooks, self._status[name]))
        for name in sorted(set(self._installed) - set(self._status)):
            rows.append(PluginInfo(name, self._version_of(name), (), "installed, not enabled"))
        return rows


def init_app(app: Flask) -> PluginHost:
    host = PluginHost(app)
    app.extensions["portal.plugins"] = host
    owners = app.extensions["portal.plugin_blueprints"] = {}
    for name, blueprints in host.startup("register_blueprints"):
        for blueprint in blueprints:
            for path in getattr(blueprint, "static_files", dict)().values():
                if not path.is_file():
                    raise PluginError(
                        f"plugin {name!r}: blueprint {blueprint.name!r} names {path}, which does not exist"
                    )
            app.register_blueprint(blueprint)
            if name in host.regions.optional:  # the core's pages are on in every region
                owners[blueprint.name] = name
    app.before_request(regions.refuse_plugins_off_here)
    for _name, commands in host.startup("register_commands"):
        for command in commands:
            app.cli.add_command(command)
    themes = {}
    for _name, registered in host.startup("register_themes"):
        for theme in registered:
            if not theme.stylesheet.is_file():
                raise PluginError(f"theme {theme.name!r}: stylesheet {theme.stylesheet} not found")
            themes[theme.name] = theme
    if app.config["DEFAULT_THEME"] not in themes:
        raise PluginError(f"DEFAULT_THEME {app.config['DEFAULT_THEME']!r} is not a registered theme")
    host.regions.check_themes(themes)
    app.extensions["portal.themes"] = themes
    from portal import plugin_host_data

    plugin_host_data.check_plugins(app, host.startup("plugin_data"))
    plugin_host_data.init_cli(app)
    return host
