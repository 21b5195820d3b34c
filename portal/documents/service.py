"""«Мои документы»: a card's documents, a clinic's and the citizen's own uploads.

Every function opens the card through the policy in its own write transaction, so the decision,
the audit event and the read or change land together. A list page costs the same few queries
however many documents the card holds: documents are paged by key (document date, id) and
each row's organisation comes in the same query.

Citizens (the patient, a guardian, a trusted person with the "add" level) upload; clinics send
their documents through their own systems. A citizen's upload can be deleted by the person who
uploaded it or by the card's owner (the patient or a guardian); a clinic's document never.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, tuple_

from portal import uploads
from portal.access import policy
from portal.audit import service as audit
from portal.auth.models import Account
from portal.auth.service import now
from portal.database import after_commit, db, write_transaction
from portal.record.models import Document, Patient
from portal.record.service import CardContext, histories, open_section

PAGE_SIZE = 20
# What a citizen may call their upload («Выписка», «Результат обследования», …).
CITIZEN_KINDS = {
    "discharge": _l("Discharge summary"),
    "result": _l("Test or examination result"),
    "conclusion": _l("Specialist's conclusion"),
    "image": _l("Image (X-ray, MRI, ultrasound)"),
    "other": _l("Other"),
}
KINDS = {
    **CITIZEN_KINDS,
    "protocol": _l("Examination report"),
    "certificate": _l("Certificate"),
    "upload": _l("Uploaded document"),
    "vaccination_certificate": _l("Vaccination certificate"),
}
CITIZEN_BASES = ("self", "guardian", "trusted")
# The quota (config UPLOADS_PER_DAY, 60: a family's paperwork fits, a script filling the disk
# does not) counts the uploads of this window.
UPLOAD_QUOTA_WINDOW = timedelta(hours=24)
# The same file sent again to the same card within this time is the same document.
DUPLICATE_WINDOW = timedelta(minutes=10)


def storage_purpose(patient_id: int) -> str:
    """What a card's document files are encrypted for (``uploads.store``/``uploads.load``)."""
    return f"document:{patient_id}"


def search_text(title: str, filename: str) -> str:
    """The case-folded words the search box matches (SQLite's LIKE folds ASCII only)."""
    return f"{title} {filename}".casefold()[:500]


def size_label(size: int) -> str:
    from flask_babel import format_decimal

    if size < 1024 * 1024:
        return _("%(num)s KB", num=format_decimal(max(1, round(size / 1024))))
    return _("%(num)s MB", num=format_decimal(round(size / (1024 * 1024), 1)))


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    kind: str = ""
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.kind or self.text.strip())


@dataclass(frozen=True)
class DocumentPage:
    card: CardContext
    documents: list[Document]
    total: int
    position: int  # how many come before this page
    next_after: str | None  # the key to continue after («2025-03-15_42»), or None on the last page
    may_add: bool


@dataclass(frozen=True)
class DocumentView:
    card: CardContext
    document: Document
    may_delete: bool
    history: tuple = ()  # the title's corrections, oldest first


# -- who may add ----------------------------------------------------------------------------------


def citizen_decision(account: Account, patient: Patient | None, section: str) -> policy.Decision:
    """May ``account`` add to ``section`` of this card as a citizen? Clinicians have the "add"
    action in the policy, but they write the record through their clinic's system."""
    decision = policy.decide(account, "add", patient, section)
    if decision.allowed and decision.basis not in CITIZEN_BASES:
        return policy.Decision(False, "clinics add entries through their own systems", decision.basis)
    return decision


def require_citizen_add(account: Account, patient_id: int, section: str) -> Patient:
    """The card, or AccessDenied (answered 404 and audited) when this account may not add."""
    patient = db.session.get(Patient, patient_id)
    decision = citizen_decision(account, patient, section)
    if not decision.allowed:
        raise policy.AccessDenied(decision, account.id, patient_id, "add", section)
    return patient


def open_form(account: Account, patient_id: int, section: str) -> CardContext:
    """A form that adds to ``section``: the adding is checked, the showing of the card audited."""
    with write_transaction():
        require_citizen_add(account, patient_id, section)
        return open_section(account, patient_id, section)


class QuotaExceeded(uploads.UploadError):
    """The account has uploaded as many files as it may for now; the message says when it may
    upload again."""


def _uploads_since(account_id: int, since: datetime) -> int:
    """Files this account has uploaded since ``since``: documents (vaccination certificates
    among them) and the files of its error reports."""
    from portal.corrections.models import CorrectionFile, CorrectionRequest

    documents = select(func.count()).where(Document.uploaded_by_id == account_id, Document.created_at >= since)
    reports = (
        select(func.count())
        .select_from(CorrectionFile)
        .join(CorrectionRequest, CorrectionRequest.id == CorrectionFile.correction_id)
        .where(CorrectionRequest.requested_by_id == account_id, CorrectionRequest.created_at >= since)
    )
    return (db.session.scalar(documents) or 0) + (db.session.scalar(reports) or 0)


def check_quota(account: Account, adding: int = 1) -> None:
    """QuotaExceeded when ``adding`` more files would take the account past its uploads for the
    last 24 hours (``UPLOADS_PER_DAY``). Checked before a file is decoded, and again under the
    lock of the write that stores it."""
    limit = current_app.config["UPLOADS_PER_DAY"]
    if _uploads_since(account.id, now() - UPLOAD_QUOTA_WINDOW) + adding > limit:
        raise QuotaExceeded(
            _l(
                "You have uploaded %(limit)s files in the last 24 hours, as many as one account may. "
                "Try again tomorrow, or ask your clinic to add the documents",
                limit=limit,
            )
        )


def lock_uploads(account: Account) -> None:
    """Take the account's row lock for this write transaction, so one account's uploads are
    checked (quota, repeated file) and stored one at a time. SQLite's BEGIN IMMEDIATE already
    serialises every write; on PostgreSQL concurrent uploads would each count before the other.
    FOR NO KEY UPDATE, not FOR UPDATE: a row that names the account (the audit event another
    request inserts) takes FOR KEY SHARE, which FOR UPDATE would block, and two requests could
    wait for each other."""
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update(key_share=True))


def recent_duplicate(account: Account, patient_id: int, content_hash: str) -> Document | None:
    """The document this account uploaded to this card within ``DUPLICATE_WINDOW`` with the same
    bytes, if any: a double click, a retried request, the same form sent from two tabs."""
    return db.session.scalar(
        select(Document)
        .where(
            Document.uploaded_by_id == account.id,
            Document.patient_id == patient_id,
            Document.content_hash == content_hash,
            Document.created_at >= now() - DUPLICATE_WINDOW,
        )
        .order_by(Document.id)
        .limit(1)
    )


def store_document(
    account: Account, patient_id: int, title: str, document_date: date, kind: str, checked: uploads.CheckedFile
) -> Document:
    """Add the Document row and write its encrypted file, in the caller's write transaction.
    The caller has already checked the access. The file is written once the row is flushed (a
    row the database refuses leaves no file) and removed if the transaction rolls back."""
    key = uploads.new_key()
    document = Document(
        patient_id=patient_id,
        kind=kind,
        title=title,
        document_date=document_date,
        uploaded_by_id=account.id,
        storage_key=key,
        filename=checked.filename,
        content_type=checked.content_type,
        size=len(checked.data),
        search_text=search_text(title, checked.filename),
        content_hash=uploads.digest(checked.data),
        created_at=now(),  # the clock the quota and the repeated-upload window are measured by
    )
    db.session.add(document)
    db.session.flush()
    uploads.write(key, checked.data, storage_purpose(patient_id))
    return document


# -- reading --------------------------------------------------------------------------------------


def _conditions(card: CardContext, filters: Filters) -> list:
    conditions = [Document.patient_id == card.patient.id, Document.kept_condition(policy.today())]
    hidden = policy.hidden_document_kinds(card.decision)
    if hidden:
        conditions.append(Document.kind.not_in(hidden))
    if filters.since:
        conditions.append(Document.document_date >= filters.since)
    if filters.until:
        conditions.append(Document.document_date <= filters.until)
    if filters.kind:
        conditions.append(Document.kind == filters.kind)
    for word in filters.text.casefold().split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Document.search_text.like(f"%{escaped}%", escape="\\"))
    return conditions


def list_documents(
    account: Account,
    patient_id: int,
    filters: Filters,
    after: tuple[date, int] | None = None,
    size: int = PAGE_SIZE,
) -> DocumentPage:
    """One page of the card's documents, newest first."""
    with audit.audited_read():
        card = open_section(account, patient_id, "documents")
        conditions = _conditions(card, filters)
        total = db.session.scalar(select(func.count()).select_from(Document).where(*conditions)) or 0
        query = select(Document).where(*conditions)
        position = 0
        if after:
            key, anchor = tuple_(Document.document_date, Document.id), tuple_(*after)
            query = query.where(key < anchor)
            position = db.session.scalar(select(func.count()).select_from(Document).where(*conditions, key >= anchor))
        rows = list(
            db.session.scalars(query.order_by(Document.document_date.desc(), Document.id.desc()).limit(size + 1))
        )
        may_add = citizen_decision(account, card.patient, "documents").allowed
    last = rows[size - 1] if len(rows) > size else None
    next_after = f"{last.document_date.isoformat()}_{last.id}" if last else None
    return DocumentPage(card, rows[:size], total, position or 0, next_after, may_add)


def _document(account: Account, card: CardContext, document_id: int) -> Document:
    """The card's document as this reader may see it: LookupError when there is none (or its
    time in «Мои документы» is over), AccessDenied for a kind the policy keeps from them."""
    document = db.session.scalar(
        select(Document).where(Document.id == document_id, Document.patient_id == card.patient.id)
    )
    if document is None or not document.kept_on(policy.today()):
        raise LookupError(document_id)
    policy.require_document_kind(account, card.decision, card.patient.id, document.kind)
    return document


def _may_delete(account: Account, card: CardContext, document: Document) -> bool:
    """A citizen's upload (never a clinic's document, never a vaccination's certificate, which the
    vaccination entry relies on), by its uploader or the card's owner, who may add to the card."""
    if document.uploaded_by_id is None or document.kind == "vaccination_certificate":
        return False
    if document.uploaded_by_id != account.id and card.basis not in policy.OWNER_BASES:
        return False
    return citizen_decision(account, card.patient, "documents").allowed


def view_document(account: Account, patient_id: int, document_id: int) -> DocumentView:
    """One document's details; LookupError when the card holds no such document."""
    with audit.audited_read():
        card = open_section(account, patient_id, "documents", object_type="document", object_id=document_id)
        document = _document(account, card, document_id)
        history = tuple(histories("documents", [document.id]).get(document.id, ()))
        return DocumentView(card, document, _may_delete(account, card, document), history)


def document_file(account: Account, patient_id: int, document_id: int) -> tuple[Document, bytes]:
    """The decrypted file, its opening audited; LookupError when the card holds no such document."""
    with write_transaction():
        card = open_section(account, patient_id, "documents", object_type="document_file", object_id=document_id)
        document = _document(account, card, document_id)
    return document, uploads.load(document.storage_key, storage_purpose(patient_id))


# -- changing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Uploaded:
    document: Document
    repeated: bool  # the same file was uploaded moments ago: that document, no new one


def upload(
    account: Account, patient_id: int, title: str, document_date: date, kind: str, checked: uploads.CheckedFile
) -> Uploaded:
    """Add the citizen's upload to the card: QuotaExceeded past the account's uploads for the
    day; the same file sent again to the same card within minutes gives the earlier document."""
    with write_transaction():
        require_citizen_add(account, patient_id, "documents")
        lock_uploads(account)
        earlier = recent_duplicate(account, patient_id, uploads.digest(checked.data))
        if earlier is not None:
            return Uploaded(earlier, repeated=True)
        check_quota(account)
        document = store_document(account, patient_id, title, document_date, kind, checked)
        open_section(account, patient_id, "documents", "add", "document", document.id)
        return Uploaded(document, repeated=False)


def deletable(account: Account, patient_id: int, document_id: int) -> DocumentView:
    """The document to confirm its deletion; LookupError unless this account may delete it."""
    view = view_document(account, patient_id, document_id)
    if not view.may_delete:
        raise LookupError(document_id)
    return view


def delete(account: Account, patient_id: int, document_id: int) -> str:
    """Delete a citizen's upload and its file; return its title. LookupError when there is no
    such document or this account may not delete it (a clinic's document, say): nothing changes."""
    with write_transaction():
        card = open_section(account, patient_id, "documents", object_type="document", object_id=document_id)
        document = _document(account, card, document_id)
        if not _may_delete(account, card, document):
            raise LookupError(document_id)
        title, key = document.title, document.storage_key
        db.session.delete(document)
        audit.record(
            "document.deleted",
            actor_id=account.id,
            actor_role=card.basis,
            patient_id=patient_id,
            section="documents",
            object_type="document",
            object_id=document_id,
            reason=card.decision.reason,
        )
        after_commit(lambda: uploads.remove(key))
    return title
