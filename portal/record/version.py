"""The version of a card: a fingerprint that changes whenever anything a document made from the
card shows changes, so a PDF made for one version is never served for another.

It is computed, not stored: one query reads, per entry table, how many entries the patient has,
the highest id and the latest ``updated_at`` (or ``created_at``), using the (patient_id, …)
index every entry table has; with the patient's own row it is hashed into 16 hex digits.

- an entry added (an imported result, a new vaccination) raises the count and the highest id;
- an entry removed lowers the count (removed and another added: the highest id moves);
- an entry changed in place (a correction, a confirmed vaccination, a cancelled prescription)
  moves ``updated_at``: every flush of a changed entry stamps it (``_stamp_updated`` below), so
  no write path has to remember to;
- the patient's name, birth date or SNILS changed: they are part of the hash.

Why not a per-patient counter bumped by each record write: it needs a migration and an UPDATE
of the patient's row in every write transaction that touches the record (a hot row for a busy
import), and a write path that forgets the bump goes stale silently. This costs one indexed
query per export request and writes nothing; no row is shared, and reads update nothing.
Organisation and practitioner names are not part of it (they change rarely and are not the
patient's record).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import event, func, literal, select, union_all
from sqlalchemy.orm import Session

from portal.database import db
from portal.record import models as m

# The tables whose entries documents show, and the history a correction leaves.
ENTRY_MODELS = (
    m.Visit,
    m.Diagnosis,
    m.LabReport,
    m.Observation,
    m.Immunization,
    m.Prescription,
    m.Checkup,
    m.Referral,
    m.Allergy,
    m.InsurancePolicy,
    m.ClinicAttachment,
    m.ServiceRecord,
)


def _aggregate(model, patient_id: int, changed):
    return select(
        literal(model.__tablename__).label("t"),
        func.count(model.id),
        func.max(model.id),
        func.max(changed),
    ).where(model.patient_id == patient_id)


def card_version(patient_id: int) -> str:
    """The card's current version (16 hex digits); raises LookupError for an unknown patient."""
    parts = [_aggregate(model, patient_id, func.coalesce(model.updated_at, model.created_at)) for model in ENTRY_MODELS]
    parts.append(_aggregate(m.EntryRevision, patient_id, m.EntryRevision.changed_at))
    rows = db.session.execute(union_all(*parts)).all()
    patient = db.session.execute(
        select(m.Patient.surname, m.Patient.name, m.Patient.patronymic, m.Patient.birth_date, m.Patient.snils).where(
            m.Patient.id == patient_id
        )
    ).first()
    if patient is None:
        raise LookupError(patient_id)
    digest = hashlib.sha256(repr((tuple(patient), sorted(tuple(r) for r in rows))).encode())
    return digest.hexdigest()[:16]


@event.listens_for(Session, "before_flush")
def _stamp_updated(session: Session, _context, _instances) -> None:
    """A changed record entry gets ``updated_at`` now, unless the change set it itself."""
    from sqlalchemy import inspect

    moment = None
    for obj in session.dirty:
        if not isinstance(obj, ENTRY_MODELS) or not session.is_modified(obj, include_collections=False):
            continue
        if inspect(obj).attrs.updated_at.history.has_changes():
            continue
        moment = moment or datetime.now(UTC)
        obj.updated_at = moment
