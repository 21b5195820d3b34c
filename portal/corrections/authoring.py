"""Corrections by the author: a doctor corrects the entries they wrote after signing (a visit's
report, a diagnosis, a prescription, a result's conclusion).

Every changed field is a new version of the entry: an ``EntryRevision`` (who, when, old → new,
the reason) written in the same write transaction as the change, audited (``card.write``), and the
card's holders are told in their inbox; the patient sees it in the entry's «История изменений».
The fields, how a typed value is read and how it is shown are those of ``service.CORRECTABLE``.
Who may correct is ``policy.decide_author``: the practitioner the entry names, working as a doctor
now in the organisation that wrote it; anyone else gets 404.

A form carries the ``stamp`` of the values it was opened with: if the entry changed since (another
correction, a registrar's), the correction is refused and the page shows the current values next
to what was typed, so nothing is lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import literal, select, union_all

from portal.access import policy
from portal.access.service import card_holders
from portal.audit import service as audit
from portal.auth.models import Account
from portal.corrections import service
from portal.database import db, write_transaction
from portal.notify import inbox
from portal.record import models as m

PAGE_SIZE = 20
SECTIONS = policy.AUTHOR_SECTIONS


class Invalid(Exception):
    """The correction is refused: ``errors`` by form field (a field's name, "note", "stamp")."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def fields(section: str) -> tuple[service.Field, ...]:
    return service.CORRECTABLE[section].fields


def typed_value(f: service.Field, value: Any) -> str:
    """A value as the form shows it for editing: dates as 15.03.2026, choices by their key."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def stamp(section: str, entry) -> str:
    """A fingerprint of the entry's correctable values: the form keeps it, the correction
    compares it, so a form opened before another change is refused, not applied over it."""
    values = [service.stored(f, getattr(entry, f.name)) for f in fields(section)]
    return hashlib.sha256(repr(values).encode()).hexdigest()[:16]


def _entry(section: str, entry_id: int, lock: bool = False):
    model = policy.authored_models().get(section)
    if model is None:
        return None
    if lock:  # the entry's own row: its eager joins (a prescription's pharmacy) are outer joins
        return db.session.scalar(
            select(model)
            .where(model.id == entry_id)
            .with_for_update(of=model)
            .execution_options(populate_existing=True)
        )
    return db.session.get(model, entry_id)


def open_entry(account: Account, section: str, entry_id: int):
    """The entry for its author's correction form: AccessDenied (404, audited) for anyone else;
    the read is audited (``card.read``), so the patient sees it in «Кто смотрел мою карту»."""
    with write_transaction():
        entry = _entry(section, entry_id)
        decision = policy.require_author(account, section, entry)
        policy.record_access(account, decision, "read", entry.patient_id, section, section, entry.id)
        patient = db.session.get(m.Patient, entry.patient_id)
        return entry, patient


def _same(f: service.Field, old: str | None, new: str | None) -> bool:
    if f.kind == "text":
        return (old or "").replace("\r\n", "\n").strip() == (new or "").replace("\r\n", "\n").strip()
    return old == new


def correct(account: Account, section: str, entry_id: int, typed: dict[str, str], reason: str, opened: str):
    """Apply the author's correction: every field whose typed value differs from the current one
    becomes a new version. Raises Invalid (nothing written) for a missing reason, a value that
    does not parse, nothing changed, or a stale form; AccessDenied (404) for anyone but the author.
    Returns the new EntryRevision rows."""
    with write_transaction():
        entry = _entry(section, entry_id, lock=True)
        decision = policy.require_author(account, section, entry)
        errors: dict[str, str] = {}
        if stamp(section, entry) != opened:
            raise Invalid(
                {
                    "stamp": _(
                        "The entry was changed after you opened this form. Check its current values and correct again."
                    )
                }
            )
        changes = []
        for f in fields(section):
            text = (typed.get(f.name) or "").replace("\r\n", "\n")
            old = service.stored(f, getattr(entry, f.name))
            if not text.strip() and not old:
                continue  # empty and still empty
            try:
                value = service.parse(f, text)
            except service.Refused as refused:
                errors[f.name] = refused.message
                continue
            new = service.stored(f, value)
            if not _same(f, old, new):
                changes.append((f, value, old, new))
        if not reason.strip():
            errors["note"] = _("Write the reason: it is shown in the entry's history")
        if not errors and not changes:
            errors["stamp"] = _(
                "Nothing is changed: the values are the same as in the entry. Change a value to correct it."
            )
        if errors:
            raise Invalid(errors)
        made = [
            service.apply_change(section, entry, f, value, old, new, reason.strip(), account)
            for f, value, old, new in changes
        ]
        policy.record_access(account, decision, "write", entry.patient_id, section, section, entry.id)
        audit.record(
            "entry.corrected",
            actor_id=account.id,
            actor_role="clinician",
            patient_id=entry.patient_id,
            section=section,
            organisation_id=decision.organisation_id,
            object_type=section,
            object_id=entry.id,
            reason=reason.strip(),
        )
        _tell(section, entry, made)
        return made


def _tell(section: str, entry, made: list[m.EntryRevision]) -> None:
    """The card's holders learn that the entry has a new version (the details behind sign-in)."""

    when, title = service.describe(section, entry)
    params = {"section": section, "title": title, "fields": len(made)}
    url = service.entry_url(entry.patient_id, section, entry.id)
    for account_id in card_holders(entry.patient_id):
        inbox.post(account_id, "entry_corrected", patient_id=entry.patient_id, params=params, url=url)


# -- «Мои записи»: the entries this doctor wrote -------------------------------------------------


@dataclass(frozen=True)
class Row:
    section: str
    entry: Any
    patient: m.Patient
    line: tuple = field(default=())


def my_entries(account: Account, page: int = 1) -> tuple[list[Row], bool]:
    """A page of the entries this doctor wrote (``policy.authored_scope``), newest written first,
    and whether another page follows. Constant queries whatever the size: one for the page's keys
    (a UNION of the sections), one per section for its entries, one for the patients; their reads
    are audited, one event per entry shown."""
    parts = []
    models = policy.authored_models()
    for index, section in enumerate(SECTIONS):
        model = models[section]
        parts.append(
            select(
                literal(section).label("section"),
                model.id.label("id"),
                model.created_at.label("at"),
                (model.id * len(SECTIONS) + index).label("order_key"),
            ).where(policy.authored_scope(account, model))
        )
    keys = union_all(*parts).subquery()
    rows = db.session.execute(
        select(keys.c.section, keys.c.id)
        .order_by(keys.c.at.desc(), keys.c.order_key.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    by_section: dict[str, list[int]] = {}
    for section, entry_id in rows:
        by_section.setdefault(section, []).append(entry_id)
    loaded = {}
    for section, ids in by_section.items():
        model = models[section]
        for entry in db.session.scalars(select(model).where(model.id.in_(ids))):
            loaded[(section, entry.id)] = entry
    patient_ids = {e.patient_id for e in loaded.values()}
    patients = (
        {p.id: p for p in db.session.scalars(select(m.Patient).where(m.Patient.id.in_(patient_ids)))}
        if patient_ids
        else {}
    )
    found = []
    events = []
    for section, entry_id in rows:
        entry = loaded.get((section, entry_id))
        if entry is None:
            continue
        found.append(Row(section, entry, patients[entry.patient_id], service.describe(section, entry)))
        decision = policy.Decision(
            True, "the doctor's list of the entries they wrote", "clinician", entry.organisation_id
        )
        events.append(policy.access_event(account, decision, "read", entry.patient_id, section, section, entry.id))
    if events:
        audit.record_many(events)
    return found, more


def entry_link(section: str, entry_id: int) -> str:
    return url_for("corrections.author_correct", section=section, entry_id=entry_id)
