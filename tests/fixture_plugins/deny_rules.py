"""Test-only access rules: one plugin that takes access away, one whose rule breaks."""

from portal.plugin_api import governs, hookimpl


class NoAccessLog:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    @governs(sections=["access_log"])
    def access_denials(section: str):
        return "the region hides the access log" if section == "access_log" else None


class Broken:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    @governs()
    def access_denials(patient_id: int):
        raise RuntimeError("rule crashed")
