"""Staff roles and their separation of duties.

- nobody gives a role to themselves;
- only an organisation's admin gives roles in that organisation (the command line acts for the
  operator when an organisation has no admin yet);
- an auditor holds no other role in the organisation they audit, and the other way round.
Every change is audited.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.audit import service as audit
from portal.auth.models import STAFF_ROLES, Account, StaffMembership
from portal.database import db, write_transaction


class RoleRefused(Exception):
    """The assignment breaks a rule; the message says which."""


def _active_roles(account_id: int, organisation_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(StaffMembership.role).where(
                StaffMembership.account_id == account_id,
                StaffMembership.organisation_id == organisation_id,
                StaffMembership.ended_at.is_(None),
            )
        )
    )


def assign_role(
    by: Account | None, account_id: int, organisation_id: int, role: str, specialty: str | None = None
) -> StaffMembership:
    """Give ``role`` in the organisation; ``by`` None is the operator at the command line."""
    if role not in STAFF_ROLES:
        raise RoleRefused(f"unknown role {role!r}")
    with write_transaction():
        if by is not None:
            if by.id == account_id:
                raise RoleRefused("nobody gives a role to themselves")
            if "org_admin" not in _active_roles(by.id, organisation_id):
                raise RoleRefused("only the organisation's admin gives roles in it")
        held = _active_roles(account_id, organisation_id)
        if role in held:
            raise RoleRefused(f"the account already holds {role} here")
        if role == "auditor" and held:
            raise RoleRefused("an auditor holds no other role in the organisation they audit")
        if "auditor" in held:
            raise RoleRefused("an auditor holds no other role in the organisation they audit")
        membership = StaffMembership(
            account_id=account_id, organisation_id=organisation_id, role=role, specialty=specialty
        )
        db.session.add(membership)
        audit.record(
            "staff.role_assigned",
            actor_id=by.id if by else None,
            actor_role="org_admin" if by else "operator",
            organisation_id=organisation_id,
            object_type="account",
            object_id=account_id,
            reason=role,
        )
        return membership
