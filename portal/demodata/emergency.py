"""The demo auditor's work: two emergency accesses in clinic A to generated patients' cards (people
with no account), each with the sections opened meanwhile in the audit log. The nurse's, nine days
ago, is already reviewed by the auditor; the doctor's, two days ago, waits for review. Added once
(while clinic A has no emergency access). The events are backdated to when the accesses happened;
the sealer seals them like any others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal import clock
from portal.access.models import EmergencyAccess
from portal.audit import service as audit
from portal.auditor.models import EmergencyReview
from portal.auth.models import Account
from portal.database import db
from portal.demodata.people import PEOPLE, email_of
from portal.directory.models import Organisation

# (who, patient among the generated ones, days ago, Moscow time, reason, sections opened (minute, section),
# the auditor's note when already reviewed)
ACCESSES = (
    (
        "nurse",
        4,
        9,
        (11, 40),
        "Пациентке стало плохо в холле поликлиники, нужен список аллергий до приезда бригады.",
        ((1, "summary"), (2, "allergies")),
        "Обоснованно: вызов бригады скорой помощи записан в журнале дежурного администратора.",
    ),
    (
        "doctor",
        2,
        2,
        (3, 10),
        "Доставлен скорой без сознания, родственников нет; нужны аллергии и текущие назначения.",
        ((1, "summary"), (2, "allergies"), (3, "prescriptions"), (6, "diagnoses"), (9, "results")),
        None,
    ),
)


def _account(key: str) -> Account | None:
    return db.session.scalar(select(Account).where(Account.email == email_of(next(p for p in PEOPLE if p.key == key))))


def seed_demo_emergencies(organisation: Organisation, patients: list[int]) -> int:
    """Add the demo's emergency accesses in ``organisation`` (clinic A) unless it has one already;
    ``patients`` are the generated patients' ids. Returns how many were added."""
    auditor = _account("auditor")
    if auditor is None or len(patients) < 5:
        return 0
    if db.session.scalar(select(EmergencyAccess.id).where(EmergencyAccess.organisation_id == organisation.id)):
        return 0
    minutes = current_app.config["EMERGENCY_ACCESS_MINUTES"]
    for who, patient_index, days_ago, (hour, minute), reason, opened, note in ACCESSES:
        clinician = _account(who)
        if clinician is None:
            continue
        day = clock.today() - timedelta(days=days_ago)
        started = datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.zone()).astimezone(UTC)
        access = EmergencyAccess(
            practitioner_id=clinician.id,
            patient_id=patients[patient_index],
            organisation_id=organisation.id,
            reason=reason,
            started_at=started,
            expires_at=started + timedelta(minutes=minutes),
        )
        db.session.add(access)
        db.session.flush()
        common = {"actor_id": clinician.id, "actor_role": "emergency", "patient_id": access.patient_id}
        events = [audit.event("access.emergency", organisation_id=organisation.id, reason=reason, **common)]
        events += [
            audit.event(
                "card.read",
                section=section,
                organisation_id=organisation.id,
                reason=f"emergency access: {reason}",
                **common,
            )
            for _minute, section in opened
        ]
        for event, at in zip(events, [started] + [started + timedelta(minutes=m) for m, _s in opened], strict=True):
            event["created_at"], event["ip"] = at, "10.0.0.12"
        if note:
            decided = started + timedelta(days=1, hours=7)
            db.session.add(
                EmergencyReview(
                    emergency_access_id=access.id,
                    decision="reviewed",
                    note=note,
                    decided_by_id=auditor.id,
                    decided_at=decided,
                )
            )
            events.append(
                audit.event(
                    "audit.emergency_reviewed",
                    actor_id=auditor.id,
                    actor_role="auditor",
                    organisation_id=organisation.id,
                    patient_id=access.patient_id,
                    object_type="emergency_access",
                    object_id=access.id,
                    reason=note,
                )
                | {"created_at": decided, "ip": "10.0.0.31"}
            )
        audit.record_many(events)
    return len(ACCESSES)
