"""Reminders: the ``send-reminders`` job. It repeats open reminders that are due and creates the
ones the record calls for: vaccinations due by the national calendar, check-ups due and
prescriptions about to expire, for everyone who may open the card as its owner or as a guardian.

Running it twice creates nothing new (one open reminder per account and subject). A reminder
ends when it is done (the job sees the vaccination recorded, a new check-up, the prescription
used or gone) or when its reader dismisses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import url_for
from sqlalchemy import select
from werkzeug.routing import BuildError

from portal.access.service import cards_for
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.notify import inbox
from portal.notify.models import Notification
from portal.record import calendar
from portal.record.models import Checkup, Immunization, Patient, Prescription

EVERY = {
    "vaccination_due": timedelta(days=7),
    "checkup_due": timedelta(days=14),
    "prescription_expiring": timedelta(days=2),
}
EXPIRING_WITHIN = timedelta(days=5)
CARD_BASES = ("self", "guardian")


@dataclass
class Outcome:
    repeated: int = 0
    created: int = 0
    ended: int = 0


def card_url(patient_id: int, section: str) -> str:
    try:
        return url_for("record.section", patient_id=patient_id, section=section)
    except BuildError:
        return url_for("record.card_overview", patient_id=patient_id)


def run(now: datetime | None = None) -> Outcome:
    """The whole job, one account per transaction."""
    now = now or datetime.now(UTC)
    outcome = Outcome()
    with inbox.one_message_per_event():
        _run(now, outcome)
    return outcome


def _run(now: datetime, outcome: Outcome) -> None:
    with write_transaction():
        due = list(
            db.session.scalars(
                select(Notification).where(
                    Notification.remind_at <= now, Notification.done_at.is_(None), Notification.dismissed_at.is_(None)
                )
            )
        )
        for note in due:
            inbox.remind_again(note, EVERY.get(note.event, timedelta(days=7)))
        outcome.repeated = len(due)
    account_ids = list(
        db.session.scalars(
            select(Account.id).where(Account.is_active.is_(True), Account.verification_status == "verified")
        )
    )
    for account_id in account_ids:
        with write_transaction():
            account = db.session.get(Account, account_id)
            for link in cards_for(account):
                if link.basis in CARD_BASES:
                    _for_card(account, link.patient, now, outcome)


def _for_card(account: Account, patient: Patient, now: datetime, outcome: Outcome) -> None:
    wanted: dict[str, tuple[str, dict, str]] = {}  # subject_key → (event, params, url)
    on = now.date()
    who = f"{patient.name} {patient.surname}"
    given = db.session.execute(
        select(Immunization.target, Immunization.dose_label, Immunization.given_on).where(
            Immunization.patient_id == patient.id
        )
    )
    for item in calendar.due(patient.birth_date, [tuple(row) for row in given], on):
        if item.status in ("due", "overdue") and not item.by_indication:
            key = f"vaccination:{patient.id}:{item.code}:{item.due_from.isoformat()}"
            params = {"vaccine": item.label_ru, "vaccine_en": item.label_en, "patient": who, "due_on": item.due_from}
            wanted[key] = ("vaccination_due", params, card_url(patient.id, "vaccinations"))
    latest = db.session.scalar(
        select(Checkup).where(Checkup.patient_id == patient.id).order_by(Checkup.started_on.desc(), Checkup.id.desc())
    )
    if latest is not None and latest.next_due_on is not None and latest.next_due_on <= on:
        key = f"checkup:{patient.id}:{latest.next_due_on.isoformat()}"
        wanted[key] = ("checkup_due", {"patient": who, "due_on": latest.next_due_on}, card_url(patient.id, "checkups"))
    for rx in db.session.scalars(
        select(Prescription).where(
            Prescription.patient_id == patient.id,
            Prescription.cancelled_at.is_(None),
            Prescription.valid_until >= on,
            Prescription.valid_until <= on + EXPIRING_WITHIN,
            Prescription.pharmacy_status.is_distinct_from("dispensed"),
        )
    ):
        key = f"prescription:{rx.id}:expiring"
        params = {"drug": rx.drug, "valid_until": rx.valid_until}
        wanted[key] = ("prescription_expiring", params, card_url(patient.id, "prescriptions"))

    _end_what_is_done(account.id, patient.id, set(wanted), now, outcome)
    known = set(
        db.session.scalars(
            select(Notification.subject_key).where(
                Notification.account_id == account.id, Notification.subject_key.in_(list(wanted))
            )
        )
    )
    for key, (event, params, url) in wanted.items():
        if key in known:  # open, done or dismissed: never a second one
            continue
        inbox.post(
            account.id,
            event,
            patient_id=patient.id,
            params=params,
            url=url,
            subject_key=key,
            remind_at=now + EVERY[event],
        )
        outcome.created += 1


def _end_what_is_done(account_id: int, patient_id: int, wanted: set[str], now: datetime, outcome: Outcome) -> None:
    """Open reminders about this card that the record no longer calls for are done."""
    for note in db.session.scalars(
        select(Notification).where(
            Notification.account_id == account_id,
            Notification.patient_id == patient_id,
            Notification.event.in_(list(EVERY)),
            Notification.subject_key.is_not(None),
            Notification.done_at.is_(None),
            Notification.dismissed_at.is_(None),
        )
    ):
        if note.subject_key not in wanted:
            note.done_at = now
            note.read_at = note.read_at or now
            outcome.ended += 1
