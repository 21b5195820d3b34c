"""Offering a free slot to the waiting list («лист ожидания»): the first matching entry, oldest
first, gets the slot held for it until the offer expires (WAITLIST_OFFER_MINUTES, default 30) and
is told by the channels it chose.

Its own module so that both the booking service (a cancellation frees a slot: it is offered at
once) and the waiting list (a declined or expired offer passes on) call it without importing each
other: this module knows neither.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import select, update

from portal import clock
from portal.access import policy
from portal.appointments.models import Slot, WaitingListEntry, WaitingListOffer
from portal.audit import service as audit
from portal.database import db
from portal.directory.models import Practitioner
from portal.directory.specialties import by_code
from portal.notify import inbox

SECTION = policy.APPOINTMENTS
CHANNELS = ("email", "sms")


def offer_minutes() -> int:
    return int(current_app.config.get("WAITLIST_OFFER_MINUTES", 30))


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record(
    action: str,
    patient_id: int,
    what: WaitingListEntry | WaitingListOffer,
    *,
    account=None,
    decision: policy.Decision | None = None,
    reason: str | None = None,
    organisation_id: int | None = None,
) -> None:
    """Audit a step of the waiting list (``waitlist.<action>``) on an entry or an offer: the
    citizen's (``account`` on the booking ``decision``'s basis) or, with neither, the portal's own."""
    audit.record(
        f"waitlist.{action}",
        actor_id=account.id if account is not None else None,
        actor_role=decision.basis if decision is not None else "system",
        patient_id=patient_id,
        section=SECTION,
        organisation_id=organisation_id,
        object_type=what.__tablename__,
        object_id=what.id,
        reason=reason,
    )


# -- offering ------------------------------------------------------------------------------------


def _matches(entry: WaitingListEntry, slot: Slot, practitioner_specialty: str) -> bool:
    if entry.specialty_code != practitioner_specialty:
        return False
    if entry.practitioner_id is not None and entry.practitioner_id != slot.practitioner_id:
        return False
    local = aware(slot.starts_at).astimezone(clock.zone())
    if entry.preferred_weekdays and str(local.isoweekday()) not in entry.preferred_weekdays:
        return False
    if entry.preferred_from is not None and local.time() < entry.preferred_from:
        return False
    return entry.preferred_until is None or local.time() < entry.preferred_until


def _offerable(slot: Slot, moment: datetime) -> bool:
    """A slot is worth offering when it is free and starts after the offer would expire."""
    return slot.status == "free" and aware(slot.starts_at) > moment + timedelta(minutes=offer_minutes())


def offer_slot(slot_id: int, moment: datetime | None = None) -> WaitingListOffer | None:
    """Offer the slot to the first matching waiting entry (inside the caller's write transaction):
    the oldest entry of the slot's specialty that has no open offer and was never offered this
    slot. None when nobody matches (the slot stays free)."""
    moment = moment or clock.now()
    slot = db.session.get(Slot, slot_id)
    if slot is None or not _offerable(slot, moment):
        return None
    specialty = db.session.scalar(select(Practitioner.specialty_code).where(Practitioner.id == slot.practitioner_id))
    busy = select(WaitingListOffer.entry_id).where(WaitingListOffer.status == "open")
    seen = select(WaitingListOffer.entry_id).where(WaitingListOffer.slot_id == slot.id)
    candidates = db.session.scalars(
        select(WaitingListEntry)
        .where(
            WaitingListEntry.specialty_code == specialty,
            WaitingListEntry.status == "waiting",
            WaitingListEntry.id.not_in(busy),
            WaitingListEntry.id.not_in(seen),
        )
        .order_by(WaitingListEntry.created_at, WaitingListEntry.id)
    )
    for entry in candidates:
        if _matches(entry, slot, specialty):
            return _offer(entry, slot, moment)
    return None


def _offer(entry: WaitingListEntry, slot: Slot, moment: datetime) -> WaitingListOffer | None:
    expires = moment + timedelta(minutes=offer_minutes())
    held = db.session.execute(
        update(Slot).where(Slot.id == slot.id, Slot.status == "free").values(status="held", held_until=expires)
    )
    if held.rowcount != 1:  # booked or offered by someone else meanwhile: nothing to offer
        return None
    offer = WaitingListOffer(entry_id=entry.id, slot_id=slot.id, status="open", offered_at=moment, expires_at=expires)
    db.session.add(offer)
    db.session.flush()  # one open offer per slot: the partial unique index
    doctor = db.session.get(Practitioner, slot.practitioner_id)
    record("offered", entry.patient_id, offer, reason=f"slot {slot.id}", organisation_id=slot.organisation_id)
    inbox.post(
        entry.created_by_id,
        "appointment_offer",
        patient_id=entry.patient_id,
        params={
            "specialty": _specialty_label(entry.specialty_code, "ru"),
            "specialty_en": _specialty_label(entry.specialty_code, "en"),
            "doctor": doctor.full_name if doctor else "",
            "starts_at": aware(slot.starts_at).isoformat(),
            "expires_at": expires.isoformat(),
        },
        url=_page_url(entry.patient_id),
        channels=tuple(c for c in entry.channels.split(",") if c in CHANNELS),
    )
    return offer


def _specialty_label(code: str, locale: str) -> str:
    found = by_code().get(code)
    return found.label(locale) if found else code


def _page_url(patient_id: int) -> str:
    from flask import has_request_context

    if has_request_context():
        return url_for("care.page", patient_id=patient_id)
    with current_app.test_request_context():
        return url_for("care.page", patient_id=patient_id)
