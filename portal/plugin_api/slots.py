"""The slots a plugin fills on the card, the profile and the appointments: each hook returns these
data classes and a core macro renders them, so headings, landmarks and focus order stay the core's.

- ``record_sections`` → ``RecordSection``: a section of the card, governed like the core's;
- ``card_actions`` → ``CardAction``: a link in the card's list of actions;
- ``profile_fields`` → ``ProfileField``: a line of the profile page;
- ``appointment_kinds`` → ``AppointmentKind``: a kind of appointment beside the core's three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class SectionRow:
    """One line of a plugin's section: what it is, its value and, if it has one, its date."""

    label: str
    value: str
    on: date | None = None


@dataclass(frozen=True)
class CardView:
    """What a plugin's section function learns of the card it shows, read-only: whose card
    (``patient_id``), who reads it and on what basis (self, guardian, trusted, clinician,
    emergency), and the reader's language. The core has already decided and audited the read."""

    patient_id: int
    basis: str
    locale: str
    name: str  # «Смирнова Елена»: how the card is named on its pages
    birth_date: date


@dataclass(frozen=True)
class RecordSection:
    """A section of the card that a plugin adds.

    ``key`` (lower-case letters, digits and ``_``; never a core section's) becomes a section the
    policy governs like a core section of the record: the patient and their guardian read it, a
    trusted person only when the grant names it, a clinician treating the patient by role, and a
    deny rule (``access_denials``) can name it. It is listed among the card's sections, offered in
    the sharing form and named by ``title`` in «Кто смотрел мою карту».

    ``rows(view)`` gives the section's content for one card (``CardView``), after the core decided
    and audited the read; the core renders its page (heading, breadcrumbs, a table of the rows), or
    ``template`` renders the content inside that frame with ``section``, ``rows`` and ``view``.
    With ``export(view)`` its rows are also put into the card's PDF summary and IPS export.
    """

    key: str
    title: str
    rows: Callable[[CardView], Iterable[SectionRow]]
    order: int = 100
    intro: str = ""  # one paragraph under the heading: what the section holds
    template: str | None = None
    export: Callable[[CardView], Iterable[SectionRow]] | None = None
    plugin: str = ""  # filled in by the host: whose translation domain renders the template


@dataclass(frozen=True)
class CardAction:
    """A link in the card's list of actions (beside «Скачать карту»); ``order`` sorts them (the
    core's use 10, 20)."""

    label: str
    url: str
    order: int = 100


@dataclass(frozen=True)
class ProfileField:
    """A line of the profile page under the plugin's heading: a label and its ``value``, or a
    ``template`` rendered with ``field``, ``page`` and ``context`` (a form posting to the plugin's
    own route, for example), and an optional hint under it."""

    key: str
    label: str
    value: str = ""
    hint: str = ""
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100
    plugin: str = ""  # filled in by the host


@dataclass(frozen=True)
class AppointmentTicket:
    """What an appointment kind's ``ticket`` function learns of one booked appointment."""

    appointment_id: int
    patient_id: int
    starts_at: datetime
    kind: str
    status: str


@dataclass(frozen=True)
class AppointmentKind:
    """A kind of appointment beside the core's (in person, at home, online): schedule rules and
    their slots may have it, the booking pages and the ticket name it by ``label``. ``key`` is at
    most 16 lower-case letters, digits or ``_``. ``ticket(appointment)`` may return a link the
    appointment's ticket shows (a link to join an online consultation, for example)."""

    key: str
    label: str
    description: str = ""
    ticket: Callable[[AppointmentTicket], Any] | None = None  # returns a plugin_api.Link or None
    plugin: str = ""  # filled in by the host
