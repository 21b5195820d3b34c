"""Test-only access rules: one plugin that takes access away, one whose rule breaks."""

from portal.plugin_api import hookimpl


class NoAccessLog:
    @staticmethod
    @hookimpl
    def access_denials(section: str):
        return "the region hides the access log" if section == "access_log" else None


class Broken:
    @staticmethod
    @hookimpl
    def access_denials(patient_id: int):
        raise RuntimeError("rule crashed")
