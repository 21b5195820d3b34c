"""Separation of duties for staff roles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import Account, StaffMembership
from portal.clinic.service import RoleRefused, assign_role
from portal.database import db
from portal.directory.models import Organisation


def org_of(app, demo, key):
    with app.app_context():
        return db.session.scalar(
            sa.select(StaffMembership.organisation_id).where(StaffMembership.account_id == demo[key].id)
        )


def test_an_org_admin_gives_roles_in_their_organisation_and_it_is_audited(app, demo):
    org = org_of(app, demo, "org_admin")
    with app.app_context():
        admin = db.session.get(Account, demo["org_admin"].id)
        assign_role(admin, demo["patient"].id, org, "nurse")
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "staff.role_assigned"))
        assert db.session.get(Account, demo["patient"].id).roles == {"nurse"}
    assert (event.actor_id, event.object_id, event.reason) == (demo["org_admin"].id, str(demo["patient"].id), "nurse")


@pytest.mark.parametrize(
    "by,target,role,message",
    [
        ("org_admin", "org_admin", "doctor", "to themselves"),
        ("doctor", "patient", "nurse", "only the organisation's admin"),
        ("org_admin", "auditor", "registrar", "an auditor holds no other role"),
        ("org_admin", "registrar", "auditor", "an auditor holds no other role"),
        ("org_admin", "registrar", "registrar", "already holds"),
        ("org_admin", "patient", "surgeon", "unknown role"),
    ],
)
def test_separation_of_duties(app, demo, by, target, role, message):
    org = org_of(app, demo, "org_admin")
    with app.app_context():
        actor = db.session.get(Account, demo[by].id)
        with pytest.raises(RoleRefused, match=message):
            assign_role(actor, demo[target].id, org, role)


def test_an_admin_of_another_organisation_gives_nothing_here(app, demo):
    with app.app_context():
        other = db.session.scalar(
            sa.select(Organisation.id).where(Organisation.id != org_of(app, demo, "org_admin")).limit(1)
        )
        admin = db.session.get(Account, demo["org_admin"].id)
        with pytest.raises(RoleRefused, match="only the organisation's admin"):
            assign_role(admin, demo["patient"].id, other, "doctor")


def test_the_operator_appoints_the_first_admin_from_the_command_line(app, demo):
    with app.app_context():
        oid = db.session.scalar(sa.select(Organisation.oid).order_by(Organisation.id.desc()).limit(1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["assign-role", "patient@example.ru", "org_admin", oid])
    assert result.exit_code == 0 and "is now org_admin" in result.output
    refused = runner.invoke(args=["assign-role", "patient@example.ru", "auditor", oid])
    assert refused.exit_code != 0 and "an auditor holds no other role" in refused.output


def test_a_fresh_database_has_no_accounts(app):
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 0
