"""Reminders: the ``send-reminders`` job. It repeats open reminders that are due and creates the
ones the record calls for: vaccinations due by the national calendar, check-ups due and
prescriptions about to expire, for everyone who may open the card as its owner or as a guardian.

Running it twice creates nothing new (one open reminder per account and subject). A reminder
ends when it is done (the job sees the vaccination recorded, a new check-up, the prescription
used or gone), when its reader dismisses it, or when its reader no longer holds the card (a
guardianship ended, a card closed by opt-out). Only active, verified accounts are reminded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from sqlalchemy import select
from werkzeug.routing import BuildError

from portal import clock
from portal.access.service import owner_and_guardian_cards
from portal.audit import service as audit
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


def run(now: datetime | None = None, batch: int = 200) -> Outcome:
    """The whole job: repeat what is due, then the record's reminders ``batch`` accounts at a time,
    each batch in one transaction and a fixed number of queries whatever its size."""
    now = now or clock.now()
    outcome = Outcome()
    with inbox.one_message_per_event():
        _run(now, outcome, batch)
    return outcome


def _run(now: datetime, outcome: Outcome, batch: int) -> None:
    account_ids = list(
        db.session.scalars(
            select(Account.id)
            .where(Account.is_active.is_(True), Account.verification_status == "verified")
            .order_by(Account.id)
        )
    )
    # The record's reminders first, so that one the reader no longer has a basis for (a guardian
    # whose guardianship ended, a card closed by opt-out) ends before it could be repeated.
    for start in range(0, len(account_ids), batch):
        with write_transaction():
            _for_accounts(account_ids[start : start + batch], now, outcome)
    with write_transaction():
        due = list(
            db.session.scalars(
                select(Notification)
                .join(Account, Account.id == Notification.account_id)
                .where(
                    Notification.remind_at <= now,
                    Notification.done_at.is_(None),
                    Notification.dismissed_at.is_(None),
                    Account.is_active.is_(True),
                    Account.verification_status == "verified",
                )
            )
        )
        for note in due:
            inbox.remind_again(note, EVERY.get(note.event, timedelta(days=7)))
        outcome.repeated = len(due)


def _for_accounts(account_ids: list[int], now: datetime, outcome: Outcome) -> None:
    """Reminders for the cards these accounts own or hold as a guardian (the access policy's
    bases), reading each section once for the whole batch. The job's reads are audited once per
    batch, naming the cards (a system reading, not shown in «Кто смотрел мою карту»)."""
    pairs = owner_and_guardian_cards(account_ids)
    ids = sorted({patient.id for _account_id, patient in pairs})
    on = clock.local_date(now)  # the reader's day (the portal's time zone), as every date rule counts it
    given: dict[int, list[tuple]] = {pid: [] for pid in ids}
    for pid, target, dose, given_on in db.session.execute(
        select(Immunization.patient_id, Immunization.target, Immunization.dose_label, Immunization.given_on).where(
            Immunization.patient_id.in_(ids)
        )
    ):
        given[pid].append((target, dose, given_on))
    latest: dict[int, Checkup] = {}
    for checkup in db.session.scalars(
        select(Checkup)
        .where(Checkup.patient_id.in_(ids))
        .order_by(Checkup.patient_id, Checkup.started_on.desc(), Checkup.id.desc())
    ):
        latest.setdefault(checkup.patient_id, checkup)
    expiring: dict[int, list[Prescription]] = {pid: [] for pid in ids}
    for rx in db.session.scalars(
        select(Prescription)
        .where(
            Prescription.patient_id.in_(ids),
            Prescription.cancelled_at.is_(None),
            Prescription.valid_until >= on,
            Prescription.valid_until <= on + EXPIRING_WITHIN,
            Prescription.pharmacy_status.is_distinct_from("dispensed"),
        )
        .order_by(Prescription.id)
    ):
        expiring[rx.patient_id].append(rx)
    if ids:
        audit.record(
            "reminders.read",
            actor_role="system",
            object_type="patients",
            reason="vaccinations, checkups, prescriptions of cards " + ", ".join(str(pid) for pid in ids),
        )

    wanted_by_pair = {
        (account_id, patient.id): _wanted(patient, given[patient.id], latest.get(patient.id), expiring[patient.id], on)
        for account_id, patient in pairs
    }
    wanted_keys = [key for wanted in wanted_by_pair.values() for key in wanted]
    known = {
        (account_id, key)
        for account_id, key in db.session.execute(
            select(Notification.account_id, Notification.subject_key).where(
                Notification.account_id.in_(account_ids), Notification.subject_key.in_(wanted_keys)
            )
        )
    }
    for note in db.session.scalars(
        select(Notification).where(
            Notification.account_id.in_(account_ids),
            Notification.event.in_(list(EVERY)),
            Notification.subject_key.is_not(None),
            Notification.done_at.is_(None),
            Notification.dismissed_at.is_(None),
        )
    ):
        # An open reminder is done when the record no longer calls for it, or when its reader no
        # longer holds the card (the guardianship ended, the child came of age, the card closed).
        if note.patient_id is None:
            continue
        wanted = wanted_by_pair.get((note.account_id, note.patient_id), {})
        if note.subject_key not in wanted:
            note.done_at = now
            note.read_at = note.read_at or now
            outcome.ended += 1
    for (account_id, patient_id), wanted in wanted_by_pair.items():
        for key, (event, params, url) in wanted.items():
            if (account_id, key) in known:  # open, done or dismissed: never a second one
                continue
            inbox.post(
                account_id,
                event,
                patient_id=patient_id,
                params=params,
                url=url,
                subject_key=key,
                remind_at=now + EVERY[event],
            )
            outcome.created += 1


def _wanted(patient: Patient, given: list[tuple], latest: Checkup | None, expiring: list[Prescription], on):
    """subject_key → (event, params, url): what this card calls for today."""
    wanted: dict[str, tuple[str, dict, str]] = {}
    who = f"{patient.name} {patient.surname}"
    for item in calendar.due(patient.birth_date, given, on):
        if item.status in ("due", "overdue") and not item.by_indication:
            key = f"vaccination:{patient.id}:{item.code}:{item.due_from.isoformat()}"
            params = {"vaccine": item.label_ru, "vaccine_en": item.label_en, "patient": who, "due_on": item.due_from}
            wanted[key] = ("vaccination_due", params, card_url(patient.id, "vaccinations"))
    if latest is not None and latest.next_due_on is not None and latest.next_due_on <= on:
        key = f"checkup:{patient.id}:{latest.next_due_on.isoformat()}"
        wanted[key] = ("checkup_due", {"patient": who, "due_on": latest.next_due_on}, card_url(patient.id, "checkups"))
    for rx in expiring:
        key = f"prescription:{rx.id}:expiring"
        params = {"drug": rx.drug, "valid_until": rx.valid_until}
        wanted[key] = ("prescription_expiring", params, card_url(patient.id, "prescriptions"))
    return wanted
