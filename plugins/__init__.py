"""First-party plugins. Each is a package registered through the ``portal.plugins`` entry points
and imports nothing from ``portal`` but ``portal.plugin_api``."""
