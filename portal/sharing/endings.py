"""A guardian's access to a child's card ends on the child's birthday at the guardian age limit
(``policy.is_child``, 15 by default). Nothing is written that day, so a job looks for the
guardianships ending today, or on the days before that a stopped worker missed, and publishes
``GuardianAccessEnding`` once for each (a marker in the task queue's storage remembers it)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal import clock, events, tasks
from portal.access.policy import birthday, guardian_age_limit
from portal.database import db
from portal.record.models import Patient
from portal.sharing.models import Guardianship

LOOK_BACK_DAYS = 7  # a worker stopped this long still tells of the endings it missed


def published_key(guardianship_id: int, ends_on: date) -> str:
    return f"published:GuardianAccessEnding:{guardianship_id}:{ends_on.isoformat()}"


def publish_endings(today: date | None = None) -> int:
    """Publish ``GuardianAccessEnding`` for each verified guardianship whose child reaches the age
    limit today or in the ``LOOK_BACK_DAYS`` before, not told yet; return how many."""
    today = today or clock.today()
    since = today - timedelta(days=LOOK_BACK_DAYS - 1)
    years = guardian_age_limit()
    rows = db.session.execute(
        select(Guardianship.id, Guardianship.guardian_id, Patient.id, Patient.birth_date)
        .join(Patient, Patient.id == Guardianship.child_id)
        .where(
            Guardianship.verified_at.is_not(None),
            Guardianship.ended_at.is_(None),
            # born on 29 February: the birthday of a year without one is 1 March
            Patient.birth_date.between(birthday(since, -years) - timedelta(days=1), birthday(today, -years)),
        )
        .order_by(Guardianship.id)
    ).all()
    storage = tasks.queue().huey.storage
    published = 0
    for guardianship_id, guardian_id, patient_id, born in rows:
        ends_on = birthday(born, years)
        if not since <= ends_on <= today or not storage.put_if_empty(published_key(guardianship_id, ends_on), b"1"):
            continue
        events.publish(
            events.GuardianAccessEnding(
                guardianship_id=guardianship_id,
                guardian_id=guardian_id,
                patient_id=patient_id,
                ends_on=ends_on.isoformat(),
            )
        )
        published += 1
    db.session.commit()  # nothing written: the commit that dispatches what was published
    return published
