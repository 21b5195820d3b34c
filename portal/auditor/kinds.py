"""What the auditor's pages call things: the kinds of event one can search for, and the words for an
event's action, basis, outcome and the staff roles. Codes the catalog does not know (a plugin's
events, a new feature's) are shown under their group's name with the code itself."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

# The search's choices: a value ending in ".*" is every action of that group.
SEARCH_KINDS = (
    ("card.*", _l("Card: any access")),
    ("card.read", _l("Card: a section opened")),
    ("card.add", _l("Card: an entry added")),
    ("card.write", _l("Card: an entry changed")),
    ("card.export", _l("Card: exported")),
    ("access.emergency", _l("Emergency access opened")),
    ("appointment.*", _l("Appointments")),
    ("care.*", _l("Care relationships opened and ended")),
    ("waitlist.*", _l("Waiting list")),
    ("home_visit.*", _l("Home visits")),
    ("attachment.*", _l("Attachment to a clinic")),
    ("verification.*", _l("Identity checks")),
    ("guardianship.*", _l("Legal representatives")),
    ("certificate.*", _l("Certificates and extracts")),
    ("correction.*", _l("Error reports")),
    ("opt_out.*", _l("Opt-outs")),
    ("consent.*", _l("Consent to processing")),
    ("staff.*", _l("Staff roles")),
    ("schedule.*", _l("Schedules")),
    ("protocol.*", _l("Visit protocols: refused drafts and signatures")),
    ("auth.sign_in", _l("Sign-in")),
    ("auth.*", _l("Sign-in and account security")),
    ("audit.*", _l("The auditors' own work")),
    ("plugin.*", _l("Plugins: events of the regional services")),
)
GROUPS = {value.removesuffix(".*"): label for value, label in SEARCH_KINDS if value.endswith(".*")}
ACTIONS = {
    **{value: label for value, label in SEARCH_KINDS if not value.endswith(".*")},
    "audit.searched": _l("Audit: events of a patient searched"),
    "audit.exported": _l("Audit: events exported"),
    "audit.chain_checked": _l("Audit: the log's check run"),
    "audit.emergency_reviewed": _l("Audit: emergency access marked reviewed"),
    "audit.emergency_escalated": _l("Audit: emergency access escalated"),
    "staff.directory_entry": _l("Staff: listed in the directory"),
    "schedule.rule_added": _l("Schedules: a working rule added"),
}

BASES = {
    "self": _l("the patient themselves"),
    "guardian": _l("legal representative"),
    "trusted": _l("trusted person"),
    "clinician": _l("care relationship"),
    "emergency": _l("emergency access"),
    "registrar": _l("registrar"),
    "org_admin": _l("organisation admin"),
    "auditor": _l("auditor"),
    "operator": _l("the clinic"),
    "system": _l("the portal"),
    "none": _l("no access"),
    "anonymous": _l("not signed in"),
}
OUTCOMES = {"success": _l("done"), "failure": _l("failed"), "denied": _l("refused")}
ROLES = {
    "doctor": _l("doctor"),
    "nurse": _l("nurse"),
    "registrar": _l("registrar"),
    "org_admin": _l("organisation admin"),
    "auditor": _l("auditor"),
    "accountant": _l("accountant"),
}


def action_label(action: str, actions: Mapping[str, object] = ACTIONS, groups: Mapping[str, object] = GROUPS) -> str:
    """The action in words: its own name, else its group's, else the code as it is. (``actions``
    and ``groups``: the same names already translated, for a file written after the request.)"""
    if action in actions:
        return str(actions[action])
    group = groups.get(action.split(".", 1)[0])
    return str(group) if group is not None else action


def matches(kind: str, action_column):
    """An SQL condition: the event is of the chosen kind (an action, or a group «prefix.*»)."""
    if kind.endswith(".*"):
        prefix = kind.removesuffix("*").replace("_", "\\_")  # "_" matches any letter in LIKE
        return action_column.like(prefix + "%", escape="\\")
    return action_column == kind
