"""«Сообщить об ошибке»: a citizen reports an error in an entry of a card; a registrar takes the
request into review and corrects the entry or rejects the request with a reason.

``CORRECTABLE`` is the one table of which fields of each section a correction may change, and
how a typed value is read. A correction never loses the old value: an ``EntryRevision`` row
keeps it next to the new one, with the reason, and ``history`` lists them for the entry's page.
Every step is a ``RequestEvent`` (the status timeline), an audit record and a message in the
requester's inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from werkzeug.routing import BuildError

from portal import uploads
from portal.access import policy
from portal.access.service import card_holders
from portal.audit import service as audit
from portal.auth.models import Account
from portal.auth.service import now
from portal.corrections.models import CorrectionFile, CorrectionRequest
from portal.database import db, work_queue, write_transaction
from portal.documents import service as documents
from portal.identifiers import is_valid_enp
from portal.notify import inbox
from portal.record import models as m
from portal.record.service import histories

MAX_FILES = 3
OPEN = ("registered", "in_review")
STATUSES = {
    "registered": _l("Registered"),
    "in_review": _l("In review"),
    "corrected": _l("Corrected"),
    "rejected": _l("Rejected"),
}


def entry_url(patient_id: int, section: str, entry_id: int) -> str | None:
    """The page that shows the entry and its history: its own page, the insurance page for a
    policy, the document's page for a document."""
    if section == "insurance":
        return url_for("record.insurance", patient_id=patient_id)
    if section == "documents":
        return url_for("documents.document", patient_id=patient_id, document_id=entry_id)
    if "record.entry" not in current_app.view_functions:
        return None
    try:
        return url_for("record.entry", patient_id=patient_id, section=section, entry_id=entry_id)
    except (BuildError, ValueError):
        return None


@dataclass(frozen=True)
class Field:
    """A correctable field: ``kind`` says how the typed value is read and shown (text, date,
    choice, money, enp, icd10)."""

    name: str
    label: Any
    kind: str = "text"
    max_length: int = 2000
    choices: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Section:
    model: type
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


_TEXT = 4000
CORRECTABLE: dict[str, Section] = {
    "visits": Section(
        m.Visit,
        (
            Field("complaints", _l("Complaints"), max_length=_TEXT),
            Field("examination", _l("Examination"), max_length=_TEXT),
            Field("conclusion", _l("Conclusion"), max_length=_TEXT),
            Field("recommendations", _l("Recommendations"), max_length=_TEXT),
        ),
    ),
    "diagnoses": Section(
        m.Diagnosis,
        (
            Field("code", _l("ICD-10 code"), "icd10", 8),
            Field("onset_on", _l("Date of onset"), "date"),
            Field("status", _l("Status"), "choice", choices=(("active", _l("Active")), ("resolved", _l("Resolved")))),
        ),
    ),
    "results": Section(m.LabReport, (Field("conclusion", _l("Conclusion"), max_length=_TEXT),)),
    "vaccinations": Section(
        m.Immunization,
        (
            Field("vaccine", _l("Vaccine"), max_length=200),
            Field("given_on", _l("Date of vaccination"), "date"),
            Field("series", _l("Batch number"), max_length=64),
        ),
    ),
    "prescriptions": Section(
        m.Prescription, (Field("dose", _l("Dose"), max_length=200), Field("quantity", _l("Quantity"), max_length=100))
    ),
    "checkups": Section(
        m.Checkup,
        (
            Field("conclusion", _l("Conclusion"), max_length=_TEXT),
            Field("follow_up", _l("Follow-up"), max_length=_TEXT),
        ),
    ),
    "referrals": Section(m.Referral, (Field("target", _l("Referred to"), max_length=200),)),
    "allergies": Section(
        m.Allergy,
        (
            Field("substance", _l("Substance"), max_length=200),
            Field("reaction", _l("Reaction"), max_length=300),
            Field(
                "severity",
                _l("Severity"),
                "choice",
                choices=(("mild", _l("Mild")), ("moderate", _l("Moderate")), ("severe", _l("Severe"))),
            ),
        ),
    ),
    "insurance": Section(
        m.InsurancePolicy,
        (Field("number", _l("Policy number"), "enp", 16), Field("insurer", _l("Insurance company"), max_length=200)),
    ),
    "services": Section(
        m.ServiceRecord, (Field("name", _l("Service"), max_length=300), Field("cost_kopecks", _l("Cost"), "money"))
    ),
    "documents": Section(m.Document, (Field("title", _l("Title"), max_length=200),)),
}


class Refused(Exception):
    """The input or the step is refused; ``field`` names the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class NotAllowed(Exception):
    """A registrar never resolves a request about their own card or their own request."""


# -- entries -------------------------------------------------------------------------------------


def entry_of(section: str, patient_id: int, entry_id: int):
    """The entry of this card, or None (an entry of another card is "not found")."""
    spec = CORRECTABLE.get(section)
    entry = db.session.get(spec.model, entry_id) if spec else None
    return entry if entry is not None and entry.patient_id == patient_id else None


def readable_entry(account: Account, decision: policy.Decision, section: str, patient_id: int, entry_id: int):
    """The entry as this reader may see it, or None: a document past its time in «Мои
    документы» is gone; one of a kind the policy keeps from them raises AccessDenied."""
    entry = entry_of(section, patient_id, entry_id)
    if entry is not None and section == "documents":
        if not entry.kept_on(policy.today()):
            return None
        policy.require_document_kind(account, decision, patient_id, entry.kind)
    return entry


def describe(section: str, entry) -> tuple[date | datetime, str]:
    """The entry in one line for context: its date and a title."""
    locale = str(get_locale() or "ru")
    if section == "visits":
        return entry.started_at, f"{entry.practitioner.specialty}, {entry.practitioner.short_name}"
    if section == "diagnoses":
        return entry.onset_on, f"{entry.code} {entry.title}"
    if section == "results":
        from portal.record.catalog import panel_name

        return entry.taken_at, panel_name(entry.code, locale)
    if section == "vaccinations":
        return entry.given_on, entry.vaccine
    if section == "prescriptions":
        return entry.issued_on, f"{entry.drug}, {entry.form}"
    if section == "checkups":
        return entry.started_on, _("Check-up %(year)s, stage %(stage)s", year=entry.year, stage=entry.stage)
    if section == "referrals":
        return entry.issued_on, entry.target
    if section == "allergies":
        return entry.recorded_on, entry.substance
    if section == "insurance":
        return entry.valid_from, _("%(insurer)s, policy %(number)s", insurer=entry.insurer, number=entry.number)
    if section == "services":
        return entry.provided_on, entry.name
    return entry.document_date, entry.title


def stored(field: Field, value: Any) -> str | None:
    """A column value as an EntryRevision keeps it: dates in ISO form, money in kopecks."""
    if value is None:
        return None
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def shown(field: Field | None, text: str | None) -> str:
    """A stored value as people read it, in the reader's language."""
    from portal.formatting import format_date, rubles

    if text is None or text == "":
        return "—"
    if field is None:
        return text
    try:
        if field.kind == "date":
            return format_date(date.fromisoformat(text))
        if field.kind == "money":
            return rubles(int(text))
    except ValueError:
        return text
    if field.kind == "choice":
        return str(dict(field.choices).get(text, text))
    return text


def current_values(section: str, entry) -> list[tuple[Field, str]]:
    spec = CORRECTABLE[section]
    return [(f, shown(f, stored(f, getattr(entry, f.name)))) for f in spec.fields]


_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$")


def parse(field: Field, text: str | None) -> Any:
    """Read a typed value for ``field``; raise Refused("value", …) with what to fix."""
    text = (text or "").strip()
    if not text:
        return _refuse(_("Enter the new value"))
    if field.kind == "date":
        match = _DATE.match(text)
        try:
            day = date(int(match[3]), int(match[2]), int(match[1])) if match else date.fromisoformat(text)
        except ValueError:
            return _refuse(_("Enter the date as day, month and year, for example 15.03.2026"))
        if day > policy.today():
            return _refuse(_("The date must not be in the future"))
        if day.year < 1900:
            return _refuse(_("Check the year: it must be 1900 or later"))
        return day
    if field.kind == "money":
        compact = text.replace("\u00a0", "").replace(" ", "").replace("₽", "").replace(",", ".")
        try:
            amount = Decimal(compact)
        except InvalidOperation:
            return _refuse(_("Enter the cost in roubles, for example 1250,50"))
        if amount < 0 or amount.as_tuple().exponent < -2 or amount > Decimal("10000000"):
            return _refuse(_("Enter the cost in roubles with at most 2 digits after the comma, for example 1250,50"))
        return int(amount * 100)
    if field.kind == "choice":
        if text not in dict(field.choices):
            return _refuse(_("Choose one of the listed values"))
        return text
    if field.kind == "enp":
        compact = "".join(text.split())
        if not compact.isascii() or not compact.isdigit() or len(compact) != 16:
            return _refuse(_("Enter the policy number as 16 digits"))
        if not is_valid_enp(compact):
            return _refuse(_("Check the policy number: its check digit does not match"))
        return compact
    if field.kind == "icd10":
        from portal.record import mkb10

        code = text.upper().replace(",", ".")
        if not _ICD10.match(code):
            return _refuse(_("Enter an ICD-10 code: a letter and two digits, for example J06.9"))
        if mkb10.title(code) is None:
            return _refuse(_("The code %(code)s is not in the ICD-10 reference book", code=code))
        return code
    if len(text) > field.max_length:
        return _refuse(_("Enter at most %(num)s characters", num=field.max_length))
    return text


def _refuse(message: str):
    raise Refused("value", message)


# -- the citizen's side ---------------------------------------------------------------------------


def number_of(row: CorrectionRequest) -> str:
    return f"И-{row.created_at.year}-{row.id:06d}"


def _event(row: CorrectionRequest, status: str, actor: Account, note: str | None = None, tell: bool = True) -> None:
    """One step of the timeline, in the caller's transaction. The requester is told, and so are
    the card's holders (the patient, a child's guardian) when someone else reported: a trusted
    person's report changes the owner's card."""
    row.status, row.updated_at = status, now()
    db.session.add(
        m.RequestEvent(
            request_kind="correction", request_id=row.id, status=status, note=note, actor_id=actor.id, at=now()
        )
    )
    if not tell:
        return
    told = set(card_holders(row.patient_id))
    requester = db.session.get(Account, row.requested_by_id)
    patient = db.session.get(m.Patient, row.patient_id)
    if requester is not None and policy.decide(requester, "read", patient, row.section).allowed:
        told.add(requester.id)  # not a trusted person whose grant has ended since
    for account_id in sorted(told):
        inbox.post(
            account_id,
            "request_status",
            patient_id=row.patient_id,
            params={"kind": "correction", "number": row.number, "status": status, "note": note},
            url=url_for("corrections.detail", patient_id=row.patient_id, request_id=row.id),
        )


def report(
    account: Account, patient_id: int, section: str, entry_id: int, description: str, files: list[uploads.CheckedFile]
) -> CorrectionRequest:
    """Register a report of an error in one entry. Who may report: anyone the policy lets read
    that section of the card, the patient, a guardian, a trusted person whose grant names the
    section (decided again here, in the write transaction). The files are stored encrypted; if
    anything fails, nothing is kept, the files neither: each file is written after its row is
    flushed and removed if the transaction rolls back."""
    with write_transaction():
        decision, _patient = policy.require(account, "read", patient_id, section)
        if readable_entry(account, decision, section, patient_id, entry_id) is None:
            raise LookupError(entry_id)
        if files:
            documents.lock_uploads(account)
            documents.check_quota(account, adding=len(files))
        row = CorrectionRequest(
            patient_id=patient_id,
            requested_by_id=account.id,
            section=section,
            entry_id=entry_id,
            description=description.strip(),
            status="registered",
            created_at=now(),
        )
        db.session.add(row)
        db.session.flush()
        row.number = number_of(row)
        for checked in files:
            key = uploads.new_key()
            db.session.add(
                CorrectionFile(
                    correction_id=row.id,
                    storage_key=key,
                    filename=checked.filename,
                    content_type=checked.content_type,
                    size=len(checked.data),
                )
            )
            db.session.flush()
            uploads.write(key, checked.data, f"correction:{patient_id}")
        audit.record(
            "correction.registered",
            actor_id=account.id,
            actor_role=decision.basis,
            patient_id=patient_id,
            section=section,
            object_type="correction_request",
            object_id=row.id,
        )
        _event(row, "registered", account)
        return row


def requests_of(patient_id: int, sections: tuple[str, ...], decision: policy.Decision) -> list[CorrectionRequest]:
    """A card's correction requests in the sections the viewer may read, newest first; none
    about a document of a kind the policy keeps from them."""
    query = select(CorrectionRequest).where(
        CorrectionRequest.patient_id == patient_id, CorrectionRequest.section.in_(sections)
    )
    hidden = policy.hidden_document_kinds(decision)
    if hidden:
        kept_back = select(m.Document.id).where(m.Document.patient_id == patient_id, m.Document.kind.in_(hidden))
        query = query.where(or_(CorrectionRequest.section != "documents", CorrectionRequest.entry_id.not_in(kept_back)))
    return list(db.session.scalars(query.order_by(CorrectionRequest.id.desc()).limit(100)))


def timeline(request_id: int) -> list[m.RequestEvent]:
    return list(
        db.session.scalars(
            select(m.RequestEvent)
            .where(m.RequestEvent.request_kind == "correction", m.RequestEvent.request_id == request_id)
            .order_by(m.RequestEvent.id)
        )
    )


def files_of(request_id: int) -> list[CorrectionFile]:
    return list(
        db.session.scalars(
            select(CorrectionFile).where(CorrectionFile.correction_id == request_id).order_by(CorrectionFile.id)
        )
    )


def history(section: str, entry_id: int) -> list[m.EntryRevision]:
    """The entry's visible history, oldest first: every corrected field with its old value."""
    return histories(section, [entry_id]).get(entry_id, [])


def revision_field(row: m.EntryRevision) -> str:
    if row.section == "results" and row.field.startswith("value:"):  # a value the laboratory amended
        from flask_babel import get_locale

        from portal.record import catalog

        return catalog.test_name(row.field.removeprefix("value:"), str(get_locale()))
    spec = CORRECTABLE.get(row.section)
    found = spec.field(row.field) if spec else None
    return str(found.label) if found else row.field


def revision_value(row: m.EntryRevision, which: str) -> str:
    spec = CORRECTABLE.get(row.section)
    return shown(spec.field(row.field) if spec else None, row.old_value if which == "old" else row.new_value)


# -- the registrar's side -------------------------------------------------------------------------


def queue(registrar: Account) -> tuple[list[CorrectionRequest], int]:
    """Open requests about patients in this registrar's scope (policy.registrar_scope), oldest
    first, and how many are open in all; not those the entry's author decides
    (policy.routed_to_author)."""
    query = (
        select(CorrectionRequest)
        .where(
            CorrectionRequest.status.in_(OPEN),
            policy.registrar_scope(registrar, CorrectionRequest.patient_id),
            ~policy.routed_to_author(
                CorrectionRequest.section, CorrectionRequest.entry_id, CorrectionRequest.requested_by_id
            ),
        )
        .order_by(CorrectionRequest.id)
    )
    return work_queue(query)


def author_queue(doctor: Account) -> tuple[list[CorrectionRequest], int]:
    """Open requests about the entries this doctor wrote (policy.authored_by), oldest first, and
    how many are open in all."""
    query = (
        select(CorrectionRequest)
        .where(
            CorrectionRequest.status.in_(OPEN),
            policy.authored_by(doctor, CorrectionRequest.section, CorrectionRequest.entry_id),
            policy.routed_to_author(
                CorrectionRequest.section, CorrectionRequest.entry_id, CorrectionRequest.requested_by_id
            ),
        )
        .order_by(CorrectionRequest.id)
    )
    return work_queue(query)


def _allowed(actor: Account, row: CorrectionRequest, action: str, as_author: bool = False) -> policy.Decision:
    """The policy's decision for this request (a decided one opens nothing): NotAllowed on a
    request of the actor's own or their family's, AccessDenied (answered 404 and audited) for
    any other refusal."""
    decision = _decide(actor, row, action, as_author)
    if decision.conflict:
        raise NotAllowed
    if not decision.allowed:
        raise policy.AccessDenied(decision, actor.id, row.patient_id, action, row.section)
    return decision


def _decide(actor: Account, row: CorrectionRequest, action: str, as_author: bool = False) -> policy.Decision:
    """A registrar's decision (``policy.decide_correction_request``), or with ``as_author`` the
    decision of the doctor who wrote the entry (``policy.decide_author_request``)."""
    if as_author:
        entry = entry_of(row.section, row.patient_id, row.entry_id)
        return policy.decide_author_request(
            actor, row.section, entry, row.requested_by_id, request_open=row.status in OPEN
        )
    patient = db.session.get(m.Patient, row.patient_id)
    return policy.decide_correction_request(
        actor, action, patient, row.section, row.entry_id, row.requested_by_id, request_open=row.status in OPEN
    )


def _record(registrar: Account, decision: policy.Decision, action: str, row: CorrectionRequest, **audited) -> None:
    reason = policy.request_reason("correction", row.number)
    policy.record_access(registrar, decision, action, row.patient_id, row.section, reason=reason, **audited)


@dataclass(frozen=True)
class RegistrarView:
    """The decision page's content: the request, and the entry when the registrar may read it.
    ``own``: the request is the registrar's own or their family's; ``withheld``: why the card's
    data is not shown ("decided", "no_consent"), or None."""

    row: CorrectionRequest
    entry: Any = None
    own: bool = False
    withheld: str | None = None


def open_for_registrar(registrar: Account, request_id: int, as_author: bool = False) -> RegistrarView:
    """The decision page. Showing the entry's values is a read of the card, decided by the policy
    and audited, so the patient sees it in «Кто смотрел мою карту»; it goes through an open request
    only. A decided request (or one whose patient withdrew consent) shows its own details and
    timeline, not the entry; a request of the registrar's own or their family's shows neither. Out
    of the registrar's scope: AccessDenied (404, audited)."""
    with write_transaction():
        row = db.session.get(CorrectionRequest, request_id)
        if row is None:
            raise LookupError(request_id)
        decision = _decide(registrar, row, "read", as_author)
        if decision.conflict:
            return RegistrarView(row, own=True)
        if not decision.allowed:
            if decision.basis not in ("registrar", "author"):
                raise policy.AccessDenied(decision, registrar.id, row.patient_id, "read", row.section)
            return RegistrarView(row, withheld="decided" if row.status not in OPEN else "no_consent")
        _record(registrar, decision, "read", row, object_type="correction_request", object_id=row.id)
        return RegistrarView(row, entry_of(row.section, row.patient_id, row.entry_id))


def section_of(request_id: int) -> str | None:
    """The section a request is about (for the form's choice of fields), or None."""
    return db.session.scalar(select(CorrectionRequest.section).where(CorrectionRequest.id == request_id))


def _open_request(
    request_id: int, registrar: Account, as_author: bool = False
) -> tuple[CorrectionRequest, policy.Decision]:
    """The open request, locked, and the policy's decision that lets this registrar (or, with
    ``as_author``, the entry's author) act on it."""
    row = db.session.get(CorrectionRequest, request_id, with_for_update=True, populate_existing=True)
    if row is None or row.status not in OPEN:
        raise LookupError(request_id)
    return row, _allowed(registrar, row, "write", as_author)


def _decided(
    row: CorrectionRequest, registrar: Account, status: str, reason: str | None = None, role: str = "registrar"
) -> None:
    if row.status == "registered" and status in ("corrected", "rejected"):
        # Decided at once: the timeline still shows the review it went through, told once.
        _audit_and_step(row, registrar, "in_review", tell=False, role=role)
    _audit_and_step(row, registrar, status, reason, role=role)


def _audit_and_step(
    row: CorrectionRequest,
    registrar: Account,
    status: str,
    reason: str | None = None,
    tell: bool = True,
    role: str = "registrar",
) -> None:
    audit.record(
        f"correction.{status}",
        actor_id=registrar.id,
        actor_role=role,
        patient_id=row.patient_id,
        section=row.section,
        object_type="correction_request",
        object_id=row.id,
        reason=reason,
    )
    _event(row, status, registrar, reason, tell)


def _role(as_author: bool) -> str:
    return "clinician" if as_author else "registrar"


def take_into_review(request_id: int, registrar: Account, as_author: bool = False) -> CorrectionRequest:
    with write_transaction():
        row, decision = _open_request(request_id, registrar, as_author)
        if row.status != "registered":
            raise LookupError(request_id)
        _decided(row, registrar, "in_review", role=_role(as_author))
        return row


def correct(
    request_id: int, registrar: Account, field_name: str, text: str, reason: str, as_author: bool = False
) -> CorrectionRequest:
    """Change one field of the entry; the old value stays in the entry's history."""
    with write_transaction():
        row, decision = _open_request(request_id, registrar, as_author)
        if not reason.strip():
            raise Refused("note", _("Write the reason: it is shown in the entry's history"))
        spec = CORRECTABLE[row.section]
        field = spec.field(field_name)
        if field is None:
            raise Refused("field", _("Choose the field to correct"))
        value = parse(field, text)
        entry = entry_of(row.section, row.patient_id, row.entry_id)
        if entry is None:
            raise Refused("field", _("The entry no longer exists: reject the request with a reason"))
        old = stored(field, getattr(entry, field.name))
        new = stored(field, value)
        if old == new:
            raise Refused("value", _("The new value is the same as the current one"))
        apply_change(row.section, entry, field, value, old, new, reason.strip(), registrar, row.id)
        _record(registrar, decision, "write", row, object_type=row.section, object_id=row.entry_id)
        row.resolved_by_id = registrar.id
        _decided(row, registrar, "corrected", role=_role(as_author))
        return row


def apply_change(
    section: str, entry, field: Field, value: Any, old: str | None, new: str | None, reason: str,
    actor: Account, correction_id: int | None = None,
) -> m.EntryRevision:  # fmt: skip
    """Set one field of the entry, in the caller's write transaction, and keep the old value in a
    new version of its history (who, when, old → new, why)."""
    setattr(entry, field.name, value)
    if section == "diagnoses" and field.name == "code":
        from portal.record import mkb10

        entry.title = mkb10.title(value)
    if section == "documents":
        entry.search_text = f"{value} {entry.filename}".casefold()[:500]
    entry.updated_at = now()
    revision = m.EntryRevision(
        patient_id=entry.patient_id,
        section=section,
        entry_id=entry.id,
        field=field.name,
        old_value=old,
        new_value=new,
        reason=reason,
        correction_id=correction_id,
        changed_by_id=actor.id,
        changed_at=now(),
    )
    db.session.add(revision)
    return revision


def reject(request_id: int, registrar: Account, reason: str, as_author: bool = False) -> CorrectionRequest:
    with write_transaction():
        row, decision = _open_request(request_id, registrar, as_author)
        if not reason.strip():
            raise Refused("reason", _("Write the reason: the citizen will see it"))
        row.rejection_reason = reason.strip()
        row.resolved_by_id = registrar.id
        _decided(row, registrar, "rejected", row.rejection_reason, role=_role(as_author))
        return row


def load_file(
    request_id: int, file_id: int, registrar: Account, as_author: bool = False
) -> tuple[bytes, CorrectionFile]:
    """An attached file for the registrar, through the open request only: a read of the patient's
    data, audited first (so «Кто смотрел мою карту» shows it), then decrypted."""
    with write_transaction():
        row = db.session.get(CorrectionRequest, request_id)
        found = db.session.get(CorrectionFile, file_id)
        if row is None or found is None or found.correction_id != row.id:
            raise LookupError(file_id)
        decision = _allowed(registrar, row, "read", as_author)
        _record(registrar, decision, "read", row, object_type="correction_file", object_id=found.id)
    return uploads.load(found.storage_key, f"correction:{row.patient_id}"), found
