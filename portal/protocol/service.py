"""The visit protocol: the doctor of an appointment writes it, a draft kept on the server while
they type (autosaved, versioned: a save from a stale tab is refused with both texts shown), then
signs it into the record through ``intake.write_visit`` (a visit and its diagnoses, told to the
card's holders). Only the doctor the appointment is booked with, in an organisation where they
work as a doctor, sees or writes it (``policy.decide_own_appointment``); everyone else: LookupError
(404). Every read and write is audited (``card.read`` / ``card.write`` of the section «visits»).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import clock
from portal.access import policy
from portal.appointments.models import Appointment
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Practitioner
from portal.mkb10 import search as book
from portal.protocol.models import VisitProtocol
from portal.record import intake
from portal.record.models import Patient, Visit

TEXTS = ("complaints", "history", "examination", "conclusion", "recommendations")
KINDS = {"main": _l("Main"), "complication": _l("Complication"), "concomitant": _l("Concomitant")}
VERIFICATIONS = {"preliminary": _l("Preliminary"), "final": _l("Final")}
MAX_ROWS = 10
MAX_TEXT = 10_000
VISIT_KINDS = {"in_person": "clinic", "online": "telemedicine", "home": "home"}


@dataclass
class Row:
    """A diagnosis row as typed: kind, verification, the chosen code and the combobox's text."""

    kind: str = "main"
    status: str = ""
    code: str = ""
    text: str = ""

    @property
    def empty(self) -> bool:
        return not (self.code or self.text.strip())

    def typed_code(self) -> str:
        """The code the row names: the one chosen, else the first word typed («J06.9 Острая …»)."""
        if self.code:
            return self.code.strip()
        words = self.text.split()
        return words[0] if words else ""


@dataclass
class Typed:
    """The protocol as typed (or as the draft keeps it)."""

    texts: dict[str, str] = field(default_factory=lambda: dict.fromkeys(TEXTS, ""))
    rows: list[Row] = field(default_factory=lambda: [Row()])

    def columns(self) -> dict[str, str]:
        rows = [row.__dict__ for row in self.rows if not row.empty]
        return {**{name: self.texts.get(name, "")[:MAX_TEXT] for name in TEXTS}, "diagnoses": json.dumps(rows)}

    @classmethod
    def of(cls, draft: VisitProtocol | None) -> Typed:
        if draft is None:
            return cls()
        rows = [Row(**{k: str(v) for k, v in r.items() if k in Row.__dataclass_fields__}) for r in _rows(draft)]
        return cls({name: getattr(draft, name) or "" for name in TEXTS}, rows or [Row()])


def _rows(draft: VisitProtocol) -> list[dict]:
    try:
        found = json.loads(draft.diagnoses or "[]")
    except ValueError:
        return []
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


class Stale(Exception):
    """The draft was saved from another tab since this one loaded it: what it holds now."""

    def __init__(self, stored: Typed, version: int):
        super().__init__("the draft was changed in another tab")
        self.stored, self.version = stored, version


class AlreadySigned(Exception):
    """The protocol is signed: part of the record, no longer a draft."""


class Invalid(ValueError):
    """What stops the protocol being signed: {"main": message} or {row index: message}."""

    def __init__(self, errors: dict):
        super().__init__("the protocol cannot be signed as it is")
        self.errors = errors


@dataclass(frozen=True)
class Opened:
    appointment: Appointment
    patient: Patient
    draft: VisitProtocol | None
    decision: policy.Decision

    @property
    def version(self) -> int:
        return self.draft.version if self.draft is not None else 0


class Refused(LookupError):
    """Not this account's protocol (404); the refusal is audited."""

    def __init__(self, appointment_id: int, reason: str):
        super().__init__(appointment_id)
        self.reason = reason


@contextmanager
def _refusals_audited(account: Account, appointment_id: int, action: str) -> Iterator[None]:
    """Audit a refusal in a transaction of its own (the refused one was rolled back), then raise it."""
    try:
        yield
    except Refused as refused:
        with write_transaction():
            audit.record(
                f"protocol.{action}",
                actor_id=account.id,
                actor_role="clinician" if policy.clinical_organisations(account, "doctor") else "none",
                object_type="appointment",
                object_id=appointment_id,
                outcome="denied",
                reason=refused.reason,
            )
        raise


def _own(account: Account, appointment_id: int) -> tuple[Appointment, VisitProtocol | None, policy.Decision]:
    """The appointment, booked with this doctor, and its protocol: one statement. LookupError for
    anyone else's (and for a cancelled one)."""
    mine = select(Practitioner.id).where(Practitioner.account_id == account.id).scalar_subquery()
    found = db.session.execute(
        select(Appointment, VisitProtocol)
        .outerjoin(VisitProtocol, VisitProtocol.appointment_id == Appointment.id)
        .where(Appointment.id == appointment_id, Appointment.practitioner_id == mine)
    ).first()
    appointment, draft = found if found is not None else (None, None)
    decision = policy.decide_own_appointment(
        account, appointment, appointment.practitioner_id if appointment is not None else None
    )
    if not decision.allowed:
        raise Refused(appointment_id, decision.reason)
    if appointment.status == "cancelled":
        raise Refused(appointment_id, "the appointment is cancelled")
    if draft is not None and draft.author_id != account.id:
        raise Refused(appointment_id, "the draft is another doctor's")
    return appointment, draft, decision


def _audit(account: Account, decision: policy.Decision, action: str, patient_id: int, object_id) -> None:
    policy.record_access(account, decision, action, patient_id, "visits", "visit_protocol", object_id)


def open_protocol(account: Account, appointment_id: int) -> Opened:
    """The appointment, its patient and the draft (None before the first save), audited."""
    with _refusals_audited(account, appointment_id, "read"), write_transaction():
        appointment, draft, decision = _own(account, appointment_id)
        patient = db.session.get(Patient, appointment.patient_id)
        _audit(account, decision, "read", patient.id, f"appointment:{appointment.id}")
    return Opened(appointment, patient, draft, decision)


def save_draft(account: Account, appointment_id: int, typed: Typed, version: int) -> int:
    """Keep ``typed`` as the draft, if ``version`` is the one stored (0: none yet); the new
    version. Stale when another tab saved since; AlreadySigned once signed. Two statements and
    the audit's: the appointment with its draft, then the UPDATE (or INSERT); nothing when
    nothing changed."""
    with _refusals_audited(account, appointment_id, "write"), write_transaction():
        appointment, draft, decision = _own(account, appointment_id)
        if draft is not None and draft.signed_at is not None:
            raise AlreadySigned(appointment_id)
        stored = draft.version if draft is not None else 0
        if version != stored:
            raise Stale(Typed.of(draft), stored)
        values = typed.columns()
        if draft is not None and all(getattr(draft, name) == value for name, value in values.items()):
            return stored
        if draft is None:
            draft = VisitProtocol(
                appointment_id=appointment.id, patient_id=appointment.patient_id, author_id=account.id, version=1,
                **values,
            )  # fmt: skip
            db.session.add(draft)
            db.session.flush()
        else:
            changed = db.session.execute(
                update(VisitProtocol)
                .where(
                    VisitProtocol.id == draft.id,
                    VisitProtocol.version == version,
                    VisitProtocol.signed_at.is_(None),
                )
                .values(version=version + 1, updated_at=clock.now(), **values)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:  # another tab got in between the read and the write
                raise Stale(Typed.of(draft), version + 1)
        _audit(account, decision, "write", appointment.patient_id, draft.id)
        return version + 1


def check(typed: Typed) -> tuple[dict, list[intake.NewDiagnosis]]:
    """What stops ``typed`` being signed ({"main" or a row's index: message}), and its diagnoses
    with the book's codes and titles. A main diagnosis is required; every row needs a code the
    book has (one a diagnosis may have) and its verification."""
    errors: dict = {}
    found: list[intake.NewDiagnosis] = []
    for index, row in enumerate(typed.rows):
        if row.empty:
            continue
        typed_code = row.typed_code()
        code = book.find(typed_code) or (book.find(book.canonical(typed_code) or "") if typed_code else None)
        if code is None:
            errors[index] = _l("There is no code %(code)s in ICD-10: choose a code from the list", code=typed_code)
        elif not code.usable:
            errors[index] = _l("%(code)s is a group of codes: choose a more precise code", code=code.code)
        elif row.kind not in KINDS:
            errors[index] = _l("Choose whether the diagnosis is main, a complication or concomitant")
        elif row.status not in VERIFICATIONS:
            errors[index] = _l("Choose whether the diagnosis %(code)s is preliminary or final", code=code.code)
        else:
            found.append(intake.NewDiagnosis(code.code, code.title, row.kind, row.status))
    if not any(d.kind == "main" for d in found) and not any(
        typed.rows[i].kind == "main" for i in errors if isinstance(i, int)
    ):
        errors["main"] = _l("Enter the main diagnosis: the protocol is signed with one")
    return errors, found


def sign(account: Account, appointment_id: int, version: int) -> Visit:
    """Sign the draft of ``version`` into the record: a visit and its diagnoses, told to the
    card's holders. AlreadySigned the second time (another tab); Stale when the draft changed
    since the confirmation; Invalid when it cannot be signed as it is."""
    with _refusals_audited(account, appointment_id, "sign"), write_transaction():
        appointment, draft, decision = _own(account, appointment_id)
        if draft is not None and draft.signed_at is not None or appointment.visit_id is not None:
            raise AlreadySigned(appointment_id)
        if draft is None or draft.version != version:
            raise Stale(Typed.of(draft), draft.version if draft is not None else 0)
        typed = Typed.of(draft)
        errors, diagnoses = check(typed)
        if errors:
            raise Invalid(errors)
        moment: datetime = clock.now()
        signed = db.session.execute(
            update(VisitProtocol)
            .where(VisitProtocol.id == draft.id, VisitProtocol.version == version, VisitProtocol.signed_at.is_(None))
            .values(signed_at=moment, updated_at=moment)
            .execution_options(synchronize_session=False)
        ).rowcount
        if signed != 1:
            raise AlreadySigned(appointment_id)
        try:
            visit = intake.write_visit(
                account,
                appointment.patient_id,
                started_at=appointment.starts_at,
                kind=VISIT_KINDS.get(appointment.kind, "clinic"),
                diagnoses=diagnoses,
                appointment=appointment,
                **{name: typed.texts[name].strip() for name in TEXTS},
            )
        except intake.AlreadyInCard as error:
            raise AlreadySigned(appointment_id) from error
        db.session.execute(
            update(VisitProtocol)
            .where(VisitProtocol.id == draft.id)
            .values(visit_id=visit.id)
            .execution_options(synchronize_session=False)
        )
        _audit(account, decision, "write", appointment.patient_id, draft.id)
        return visit
