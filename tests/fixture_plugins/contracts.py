"""Test-only plugins built for other contract versions than the portal's, or for none."""

from portal.plugin_api import hookimpl


class NextMajor:
    CONTRACT = "2.0"


class NewerMinor:
    CONTRACT = "1.99"


class Undeclared:
    @staticmethod
    @hookimpl
    def footer_links():
        return []


class Garbled:
    CONTRACT = "one"
