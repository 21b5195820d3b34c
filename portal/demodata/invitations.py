"""The demo org admin's pending invitation: a nurse invited to clinic A a day ago, so the staff
page shows one waiting. Its link was never sent (no one knows its token): «Отправить снова»
sends a new one, which the demo outbox shows."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal.auth.models import Account
from portal.database import db
from portal.demodata.people import PEOPLE, email_of
from portal.demodata.synthetic import demo_organisations
from portal.orgadmin.models import StaffInvitation

EMAIL = "kravtsova@example.ru"


def seed_demo_invitation() -> int:
    """Add the invitation unless it is there (any state); return how many were added."""
    if db.session.scalar(select(StaffInvitation.id).where(StaffInvitation.email == EMAIL)) is not None:
        return 0
    admin = db.session.scalar(
        select(Account.id).where(Account.email == email_of(next(p for p in PEOPLE if p.key == "org_admin")))
    )
    if admin is None:
        return 0
    sent = datetime.now(UTC) - timedelta(days=1)
    db.session.add(
        StaffInvitation(
            organisation_id=demo_organisations()["A"].id,
            email=EMAIL,
            surname="Кравцова",
            name="Мария",
            patronymic="Андреевна",
            roles="nurse",
            token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
            invited_by_id=admin,
            created_at=sent,
            expires_at=sent + timedelta(hours=current_app.config["INVITATION_HOURS"]),
            status="pending",
        )
    )
    return 1
