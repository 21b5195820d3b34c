"""The waiting list («лист ожидания»), after MyChart's "Fast Pass".

When no time of a specialty is free within the horizon, a citizen (for their own card, a child's,
or a card they hold a grant with the appointments section at level «add» for: the booking
policy) joins the list, optionally for one doctor and preferred weekdays and part of the day.

A slot that becomes free (a cancellation) or is newly made (``generate-slots``) is offered to the
first matching entry, oldest first: the slot is ``held`` until the offer expires
(WAITLIST_OFFER_MINUTES, default 30), so nobody else books it, and the citizen is told by the
channels they chose. Accepting books it through ``booking`` (the unique index and the audit
apply); declining or silence passes it to the next entry, or frees it (the offering itself is
``offers.offer_slot``, which the booking service calls too). ``run`` (the command
``flask expire-offers`` and the worker's periodic task) expires what is due and offers what is
free; running it twice does nothing more (one open offer per slot is a partial unique index, one
open offer per entry is checked under the write lock, and a slot is never offered to the same
entry twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from portal import clock
from portal.access import policy
from portal.appointments import booking, schedule
from portal.appointments.models import Appointment, Slot, WaitingListEntry, WaitingListOffer
from portal.appointments.offers import CHANNELS, aware, offer_minutes, offer_slot, record
from portal.database import db, write_transaction
from portal.directory.models import Organisation, Practitioner
from portal.directory.specialties import by_code

SECTION = policy.APPOINTMENTS
PARTS = {"morning": (time(0, 0), time(12, 0)), "afternoon": (time(12, 0), time(23, 59))}
LIST_LIMIT = 50


class Refused(Exception):
    """Joining, accepting or declining was refused; nothing changed. ``field`` names the form
    field the message belongs to (None: the page's own message)."""

    def __init__(self, message, field: str | None = None, booking_reason: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field
        self.booking_reason = booking_reason  # why the booking service refused, when it did


# -- joining and leaving -------------------------------------------------------------------------


def free_within_horizon(specialty: str, practitioner_id: int | None) -> int:
    """How many free slots of the specialty (or of one doctor) there are ahead. One statement."""
    query = (
        select(func.count(Slot.id))
        .join(Practitioner, Practitioner.id == Slot.practitioner_id)
        .where(
            Practitioner.specialty_code == specialty,
            Slot.status == "free",
            Slot.starts_at > clock.now(),
            Slot.starts_at < clock.day_start(clock.today() + timedelta(days=schedule.horizon_days() + 1)),
        )
    )
    if practitioner_id is not None:
        query = query.where(Slot.practitioner_id == practitioner_id)
    return db.session.scalar(query)


def join(
    account,
    patient_id: int,
    specialty: str,
    practitioner_id: int | None = None,
    weekdays: str = "",
    part: str = "",
    channels: tuple[str, ...] = (),
) -> WaitingListEntry:
    """Put the card on the list. Refused when the specialty is not booked directly, when a time is
    free (book it instead), when the card already waits for it or holds an appointment with it."""
    with write_transaction():
        decision, patient = policy.require_booking(account, patient_id)
        if specialty not in by_code():
            raise Refused(_l("Choose a specialty from the list"), "specialty")
        if specialty not in booking.direct_specialties():
            raise Refused(_l("The waiting list is for the specialties booked without a referral"), "specialty")
        if practitioner_id is not None:
            doctor = db.session.get(Practitioner, practitioner_id)
            if doctor is None or doctor.specialty_code != specialty:
                raise Refused(_l("Choose a doctor of this specialty, or any doctor"), "doctor")
        if any(d not in "1234567" for d in weekdays) or len(set(weekdays)) != len(weekdays):
            raise Refused(_l("Choose weekdays from the list"), "weekdays")
        if part and part not in PARTS:
            raise Refused(_l("Choose a part of the day from the list"), "part")
        if free_within_horizon(specialty, practitioner_id):
            raise Refused(_l("There are free times for this specialty now: book one of them"), "specialty")
        already = db.session.scalar(
            select(WaitingListEntry.id).where(
                WaitingListEntry.patient_id == patient_id,
                WaitingListEntry.specialty_code == specialty,
                WaitingListEntry.status == "waiting",
            )
        )
        if already is not None:
            raise Refused(_l("This card is already on the waiting list for this specialty"), "specialty")
        booked = db.session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.patient_id == patient_id,
                Appointment.specialty_code == specialty,
                Appointment.status == "booked",
                Appointment.starts_at > clock.now(),
            )
        )
        if booked >= booking.per_specialty():
            raise Refused(_l("This card already has an upcoming appointment with this specialty"), "specialty")
        start, until = PARTS.get(part, (None, None))
        entry = WaitingListEntry(
            patient_id=patient_id,
            specialty_code=specialty,
            practitioner_id=practitioner_id,
            organisation_id=db.session.get(Practitioner, practitioner_id).organisation_id if practitioner_id else None,
            preferred_weekdays="".join(sorted(weekdays)) or None,
            preferred_from=start,
            preferred_until=until,
            channels=",".join(["portal", *[c for c in CHANNELS if c in channels]]),
            status="waiting",
            created_by_id=account.id,
            created_at=clock.now(),
        )
        db.session.add(entry)
        db.session.flush()
        record("joined", patient_id, entry, account=account, decision=decision, reason=f"specialty {specialty}")
        return entry


def leave(account, patient_id: int, entry_id: int) -> None:
    """Take the card off the list; an open offer is withdrawn and passed on."""
    with write_transaction():
        decision, _patient = policy.require_booking(account, patient_id)
        entry = db.session.get(WaitingListEntry, entry_id)
        if entry is None or entry.patient_id != patient_id:
            raise LookupError(entry_id)
        if entry.status != "waiting":
            raise Refused(_l("This card is no longer on this waiting list"))
        moment = clock.now()
        entry.status = "cancelled"
        entry.updated_at = moment
        for offer in db.session.scalars(
            select(WaitingListOffer).where(WaitingListOffer.entry_id == entry.id, WaitingListOffer.status == "open")
        ):
            _close(offer, "withdrawn", moment)
        record("left", patient_id, entry, account=account, decision=decision)


# -- passing offers on ------------------------------------------------------------------------


def _close(offer: WaitingListOffer, status: str, moment: datetime, pass_on: bool = True) -> None:
    """End an open offer; the held slot is freed and (``pass_on``) offered to the next entry."""
    offer.status = status
    offer.decided_at = moment
    db.session.flush()
    db.session.execute(
        update(Slot).where(Slot.id == offer.slot_id, Slot.status == "held").values(status="free", held_until=None)
    )
    if pass_on:
        offer_slot(offer.slot_id, moment)


@dataclass
class Outcome:
    expired: int = 0
    offered: int = 0


def run(moment: datetime | None = None) -> Outcome:
    """Expire the offers that are due (each passed on), then offer every free slot ahead that a
    waiting entry matches. Safe to run again at once: it finds nothing more to do."""
    moment = moment or clock.now()
    outcome = Outcome()
    with write_transaction():
        due = list(
            db.session.scalars(
                select(WaitingListOffer)
                .where(WaitingListOffer.status == "open", WaitingListOffer.expires_at <= moment)
                .order_by(WaitingListOffer.id)
            )
        )
        for offer in due:
            _close(offer, "passed", moment)
            outcome.expired += 1
        specialties = list(
            db.session.scalars(
                select(WaitingListEntry.specialty_code).where(WaitingListEntry.status == "waiting").distinct()
            )
        )
        if specialties:
            free = list(
                db.session.scalars(
                    select(Slot.id)
                    .join(Practitioner, Practitioner.id == Slot.practitioner_id)
                    .where(
                        Practitioner.specialty_code.in_(specialties),
                        Slot.status == "free",
                        Slot.starts_at > moment + timedelta(minutes=offer_minutes()),
                    )
                    .order_by(Slot.starts_at, Slot.id)
                )
            )
            for slot_id in free:
                if offer_slot(slot_id, moment) is not None:
                    outcome.offered += 1
    return outcome


# -- the citizen's answer ------------------------------------------------------------------------


def _open_offer(patient_id: int, offer_id: int) -> WaitingListOffer:
    offer = db.session.get(WaitingListOffer, offer_id)
    entry = db.session.get(WaitingListEntry, offer.entry_id) if offer else None
    if offer is None or entry is None or entry.patient_id != patient_id:
        raise LookupError(offer_id)
    if offer.status != "open" or aware(offer.expires_at) <= clock.now():
        raise Refused(_l("This offer has expired or was already answered: the time went to the next person"))
    return offer


def accept(account, patient_id: int, offer_id: int) -> Appointment:
    """Book the offered slot through the booking service, in one transaction with the offer."""
    try:
        with write_transaction():
            decision, _patient = policy.require_booking(account, patient_id)
            offer = _open_offer(patient_id, offer_id)
            entry = db.session.get(WaitingListEntry, offer.entry_id)
            moment = clock.now()
            offer.status = "accepted"
            offer.decided_at = moment
            entry.status = "booked"
            entry.updated_at = moment
            db.session.flush()
            db.session.execute(
                update(Slot)
                .where(Slot.id == offer.slot_id, Slot.status == "held")
                .values(status="free", held_until=None)
            )
            done = booking._book(account, patient_id, offer.slot_id, None, None)
            record(
                "accepted", patient_id, offer, account=account, decision=decision,
                reason=f"appointment {done.appointment.id}",
            )  # fmt: skip
            return done.appointment
    except booking.Refused as refused:
        raise Refused(_l("This time cannot be booked"), booking_reason=refused.reason) from None


def decline(account, patient_id: int, offer_id: int) -> None:
    """Say no to the offered time: the card stays on the list, the time goes to the next person."""
    with write_transaction():
        decision, _patient = policy.require_booking(account, patient_id)
        offer = _open_offer(patient_id, offer_id)
        record("declined", patient_id, offer, account=account, decision=decision)
        _close(offer, "passed", clock.now())


# -- the citizen's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferShown:
    id: int
    starts_at: datetime
    expires_at: datetime
    doctor: str
    organisation: str
    address: str
    room: str | None


@dataclass(frozen=True)
class EntryShown:
    id: int
    specialty_code: str
    doctor: str | None
    weekdays: str | None
    part: str
    created_at: datetime
    place: int
    offer: OfferShown | None


def entries_of(patient_id: int) -> list[EntryShown]:
    """The card's waiting entries with their place in the line and any open offer. Three
    statements whatever the number of entries."""
    rows = list(
        db.session.execute(
            select(WaitingListEntry, Practitioner.surname, Practitioner.name, Practitioner.patronymic)
            .outerjoin(Practitioner, Practitioner.id == WaitingListEntry.practitioner_id)
            .where(WaitingListEntry.patient_id == patient_id, WaitingListEntry.status == "waiting")
            .order_by(WaitingListEntry.created_at, WaitingListEntry.id)
            .limit(LIST_LIMIT)
        )
    )
    if not rows:
        return []
    earlier = WaitingListEntry.__table__.alias("earlier")
    mine = WaitingListEntry.__table__.alias("mine")
    places = dict(
        db.session.execute(
            select(mine.c.id, func.count(earlier.c.id))
            .join(
                earlier,
                (earlier.c.specialty_code == mine.c.specialty_code)
                & (earlier.c.status == "waiting")
                & (
                    (earlier.c.created_at < mine.c.created_at)
                    | ((earlier.c.created_at == mine.c.created_at) & (earlier.c.id <= mine.c.id))
                ),
            )
            .where(mine.c.id.in_([r[0].id for r in rows]))
            .group_by(mine.c.id)
        ).all()
    )
    offers = {
        row[0]: OfferShown(
            row[1], aware(row[2]), aware(row[3]), " ".join(p for p in row[4:7] if p), row[7], row[8], row[9]
        )
        for row in db.session.execute(
            select(
                WaitingListOffer.entry_id,
                WaitingListOffer.id,
                Slot.starts_at,
                WaitingListOffer.expires_at,
                Practitioner.surname,
                Practitioner.name,
                Practitioner.patronymic,
                Organisation.name,
                Organisation.address,
                Slot.room,
            )
            .join(Slot, Slot.id == WaitingListOffer.slot_id)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .join(Organisation, Organisation.id == Slot.organisation_id)
            .where(
                WaitingListOffer.entry_id.in_([r[0].id for r in rows]),
                WaitingListOffer.status == "open",
                WaitingListOffer.expires_at > clock.now(),
            )
        )
    }
    shown = []
    for entry, surname, name, patronymic in rows:
        part = next((k for k, (a, _b) in PARTS.items() if entry.preferred_from == a), "")
        shown.append(
            EntryShown(
                entry.id,
                entry.specialty_code,
                " ".join(p for p in (surname, name, patronymic) if p) or None,
                entry.preferred_weekdays,
                part,
                aware(entry.created_at),
                places.get(entry.id, 1),
                offers.get(entry.id),
            )
        )
    return shown
