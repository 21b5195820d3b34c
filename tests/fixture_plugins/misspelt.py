"""A test-only plugin with a misspelt hook name: start-up must refuse it."""

from portal.plugin_api import hookimpl

CONTRACT = "1.0"


@hookimpl
def dashbord_cards(page):
    return []
