"""Test-only deny rules that declare what they govern: one that records what it is told, one that
crashes on the results section only, one that refuses trusted persons the export."""

from portal.plugin_api import governs, hookimpl

CONTRACT = "1.0"
TOLD: list[dict] = []


class Recorder:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    @governs()
    def access_denials(account_id, roles, action, patient_id, section, basis):
        TOLD.append({"roles": roles, "action": action, "section": section, "basis": basis})
        return None


class CrashesOnResults:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    @governs(sections=["results"])
    def access_denials(section):
        raise RuntimeError("the regional register is unreachable")


class NoExportForTrusted:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    @governs(actions=["export"])
    def access_denials(basis):
        return "trusted persons of this region do not export" if basis == "trusted" else None


class Undeclared:
    CONTRACT = "1.0"

    @staticmethod
    @hookimpl
    def access_denials(section):
        return None
