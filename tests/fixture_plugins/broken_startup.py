"""A test-only plugin whose start-up hook raises: start-up must stop and name it."""

from portal.plugin_api import hookimpl

CONTRACT = "1.0"


@hookimpl
def register_blueprints():
    raise ValueError("cannot build routes")
