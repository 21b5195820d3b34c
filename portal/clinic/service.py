"""Staff roles and their separation of duties.

- nobody gives a role to themselves, nor suspends themselves;
- only an organisation's admin gives, removes, suspends and reactivates roles in that
  organisation (the command line acts for the operator when an organisation has no admin yet);
- an auditor holds no other role in the organisation they audit, and the other way round;
- an organisation is never left without an admin: its last admin keeps the role;
- a suspended person's roles in the organisation stay as they were, closed, until reactivated:
  nothing is given or removed meanwhile.

Suspension is per organisation, not per account: a person who works in two clinics and is
suspended in one still works in the other. It ends the person's roles there (``ended_at``, so
every check of a role closes at once) and marks them ``suspended_at``; reactivating reopens
exactly those rows. Every change is audited. The functions without a transaction of their own
(``add_role``, ``end_role``, ``suspend_roles``, ``reactivate_roles``) run inside the caller's
write transaction, so a change and what goes with it (an accepted invitation, a new account, a
message) land together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from portal.audit import service as audit
from portal.auth.models import STAFF_ROLES, Account, StaffMembership
from portal.database import db, write_transaction


class RoleRefused(Exception):
    """The change breaks a rule: the message says which (for the command line and the log);
    ``reason`` is its key for the pages, which say it in the reader's language."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


AUDITOR_ALONE = "an auditor holds no other role in the organisation they audit"


def _rows(account_id: int, organisation_id: int, *conditions) -> list[StaffMembership]:
    return list(
        db.session.scalars(
            select(StaffMembership).where(
                StaffMembership.account_id == account_id,
                StaffMembership.organisation_id == organisation_id,
                *conditions,
            )
        )
    )


def _active_roles(account_id: int, organisation_id: int) -> set[str]:
    return {m.role for m in _rows(account_id, organisation_id, StaffMembership.ended_at.is_(None))}


def _suspended_rows(account_id: int, organisation_id: int) -> list[StaffMembership]:
    return _rows(account_id, organisation_id, StaffMembership.suspended_at.is_not(None))


def is_suspended(account_id: int, organisation_id: int) -> bool:
    return bool(_suspended_rows(account_id, organisation_id))


def _audit(action: str, by: Account | None, account_id: int, organisation_id: int, reason: str | None) -> None:
    audit.record(
        action,
        actor_id=by.id if by else None,
        actor_role="org_admin" if by else "operator",
        organisation_id=organisation_id,
        object_type="account",
        object_id=account_id,
        reason=reason,
    )


def _require_admin(by: Account | None, organisation_id: int) -> None:
    if by is not None and "org_admin" not in _active_roles(by.id, organisation_id):
        raise RoleRefused("only the organisation's admin gives roles in it", "not_admin")


def check_role(by: Account | None, account_id: int | None, organisation_id: int, role: str) -> None:
    """RoleRefused when ``by`` may not give ``role`` to the account here (None: a new account)."""
    if role not in STAFF_ROLES:
        raise RoleRefused(f"unknown role {role!r}", "unknown")
    if by is not None and by.id == account_id:
        raise RoleRefused("nobody gives a role to themselves", "self")
    _require_admin(by, organisation_id)
    if account_id is None:
        return
    if is_suspended(account_id, organisation_id):
        raise RoleRefused("the account is suspended here: reactivate it first", "suspended")
    held = _active_roles(account_id, organisation_id)
    if role in held:
        raise RoleRefused(f"the account already holds {role} here", "held")
    if (role == "auditor" and held) or "auditor" in held:
        raise RoleRefused(AUDITOR_ALONE, "auditor")


def add_role(
    by: Account | None, account_id: int, organisation_id: int, role: str, specialty: str | None = None
) -> StaffMembership:
    """Give ``role`` in the organisation, inside the caller's write transaction."""
    check_role(by, account_id, organisation_id, role)
    membership = StaffMembership(account_id=account_id, organisation_id=organisation_id, role=role, specialty=specialty)
    db.session.add(membership)
    _audit("staff.role_assigned", by, account_id, organisation_id, role)
    return membership


def assign_role(
    by: Account | None, account_id: int, organisation_id: int, role: str, specialty: str | None = None
) -> StaffMembership:
    """Give ``role`` in the organisation; ``by`` None is the operator at the command line."""
    with write_transaction():
        return add_role(by, account_id, organisation_id, role, specialty)


def _admins(organisation_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(
            StaffMembership.organisation_id == organisation_id,
            StaffMembership.role == "org_admin",
            StaffMembership.ended_at.is_(None),
        )
    )


def end_role(by: Account, account_id: int, organisation_id: int, role: str) -> None:
    """Remove ``role`` (the membership ends; its row stays as history), in the caller's write
    transaction."""
    _require_admin(by, organisation_id)
    if is_suspended(account_id, organisation_id):
        raise RoleRefused("the account is suspended here: reactivate it first", "suspended")
    rows = _rows(account_id, organisation_id, StaffMembership.ended_at.is_(None), StaffMembership.role == role)
    if not rows:
        raise RoleRefused(f"the account does not hold {role} here", "not_held")
    if role == "org_admin" and _admins(organisation_id) <= 1:
        raise RoleRefused("the organisation's last admin keeps the role", "last_admin")
    rows[0].ended_at = datetime.now(UTC)
    _audit("staff.role_removed", by, account_id, organisation_id, role)


def suspend_roles(by: Account, account_id: int, organisation_id: int) -> list[str]:
    """Suspend the account's roles in the organisation (the caller ends its sessions); returns
    them. LookupError when it holds none here."""
    if by.id == account_id:
        raise RoleRefused("nobody suspends themselves", "suspend_self")
    _require_admin(by, organisation_id)
    if is_suspended(account_id, organisation_id):
        raise RoleRefused("the account is already suspended here", "already_suspended")
    rows = _rows(account_id, organisation_id, StaffMembership.ended_at.is_(None))
    if not rows:
        raise LookupError(account_id)
    moment = datetime.now(UTC)
    for row in rows:
        row.ended_at = row.suspended_at = moment
    roles = sorted(row.role for row in rows)
    _audit("staff.suspended", by, account_id, organisation_id, ",".join(roles))
    return roles


def reactivate_roles(by: Account, account_id: int, organisation_id: int) -> list[str]:
    """Reopen the roles a suspension closed; returns them. RoleRefused when none is suspended."""
    _require_admin(by, organisation_id)
    rows = _suspended_rows(account_id, organisation_id)
    if not rows:
        raise RoleRefused("the account is not suspended here", "not_suspended")
    for row in rows:
        row.ended_at = row.suspended_at = None
    roles = sorted(row.role for row in rows)
    _audit("staff.reactivated", by, account_id, organisation_id, ",".join(roles))
    return roles
