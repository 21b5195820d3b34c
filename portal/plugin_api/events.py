"""The typed events a plugin may subscribe to with the ``event_handlers`` hook (``portal.events``).

Each is a frozen data class of ids and small facts, never medical text; its handler runs as a job
after the commit of what it tells, so it cannot change what the user sees.
"""

from portal.events import (
    AccountVerified,
    AppointmentBooked,
    AppointmentCancelled,
    CardClosed,
    ConsentRevoked,
    Event,
    GuardianAccessEnding,
    PrescriptionIssued,
    ResultFiled,
)

__all__ = [
    "AccountVerified",
    "AppointmentBooked",
    "AppointmentCancelled",
    "CardClosed",
    "ConsentRevoked",
    "Event",
    "GuardianAccessEnding",
    "PrescriptionIssued",
    "ResultFiled",
]
