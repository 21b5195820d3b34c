"""Certificates and extracts (приказ 972н): the citizen orders one with a one-time code; a
registrar takes it into work and issues it as a tagged PDF with a verification QR code, or
refuses it with a reason. Anyone holding the paper can check it at /verify/<code>, which shows
no medical data.

Who may order and follow certificates is the access policy's ``CERTIFICATES`` rule; this module
only keeps the steps in order.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from portal import clock, uploads
from portal.access import policy
from portal.access.policy import CERTIFICATES, today
from portal.audit import service as audit
from portal.auth.models import Account
from portal.auth.service import check_code, now, send_code
from portal.certificates.models import CertificateRequest
from portal.database import db, work_queue, write_transaction
from portal.directory.models import Organisation
from portal.documents.service import storage_purpose
from portal.notify import inbox
from portal.notify import service as notify
from portal.record.models import (
    ClinicAttachment,
    Diagnosis,
    Document,
    Immunization,
    LabReport,
    Observation,
    Patient,
    RequestEvent,
    Visit,
)
from portal.record.service import CardContext, open_section

CODE_PURPOSE = "certificate"  # OneTimeCode.purpose of the code that confirms an order
KEEP_DAYS = 365  # a certificate stays in «Мои документы» and verifiable for a year
OPEN = ("registered", "in_progress")
PDF_LOCALE = "ru"  # the document itself is Russian, whatever the language of the interface


@dataclass(frozen=True)
class CertificateForm:
    code: str
    official: str  # the name printed on the document (Russian, as the order names it)
    label: object  # the name in the interface (lazy text)
    needs_period: bool
    content: str  # extract, vaccinations or conclusion


FORMS = {
    f.code: f
    for f in (
        CertificateForm(
            "027u",
            "Выписка из медицинской карты (форма 027/у)",
            _l("Medical record extract (form 027/u)"),
            True,
            "extract",
        ),
        CertificateForm(
            "063u",
            "Справка о прививках (форма 063/у)",
            _l("Vaccination record extract (form 063/u)"),
            False,
            "vaccinations",
        ),
        CertificateForm(
            "086u",
            "Медицинская справка (форма 086/у)",
            _l("Medical certificate for study or work (form 086/u)"),
            False,
            "conclusion",
        ),
        CertificateForm(
            "079u",
            "Справка в лагерь (форма 079/у)",
            _l("Children's camp certificate (form 079/u)"),
            False,
            "conclusion",
        ),
        CertificateForm("health", "Справка о состоянии здоровья", _l("Certificate of health"), False, "conclusion"),
    )
}

STATUSES = {
    "registered": _l("Registered"),
    "in_progress": _l("In progress"),
    "ready": _l("Ready"),
    "refused": _l("Refused"),
}


@dataclass(frozen=True)
class Order:
    """An order waiting for its one-time code; kept in the signed session, never in the database."""

    patient_id: int
    form: str
    purpose: str
    period_from: date | None
    period_to: date | None
    nonce: str  # the code is bound to this very order

    def to_session(self, account_id: int) -> dict:
        return {
            "account_id": account_id,
            "patient_id": self.patient_id,
            "form": self.form,
            "purpose": self.purpose,
            "from": self.period_from.isoformat() if self.period_from else None,
            "to": self.period_to.isoformat() if self.period_to else None,
            "nonce": self.nonce,
        }

    @classmethod
    def from_session(cls, data: dict | None, account_id: int, patient_id: int) -> Order | None:
        if not data or (data.get("account_id"), data.get("patient_id")) != (account_id, patient_id):
            return None
        if data.get("form") not in FORMS:
            return None
        return cls(
            patient_id,
            data["form"],
            data["purpose"],
            date.fromisoformat(data["from"]) if data.get("from") else None,
            date.fromisoformat(data["to"]) if data.get("to") else None,
            data["nonce"],
        )

    @property
    def kind(self) -> CertificateForm:
        return FORMS[self.form]


def code_channel(account: Account) -> str:
    """Where the confirmation code goes: the account's second factor, if it is a code by SMS or
    e-mail; otherwise the confirmed phone, else the e-mail."""
    if account.second_factor in ("sms", "email"):
        return notify.code_channel(account.second_factor)
    return notify.code_channel("sms") if account.phone_confirmed_at else "email"


def start_order(account: Account, patient_id: int, form: str, purpose: str, start, end) -> Order:
    """Check access, then send a one-time code for this order. The caller keeps the order."""
    kind = FORMS[form]
    order = Order(
        patient_id,
        form,
        purpose.strip(),
        start if kind.needs_period else None,
        end if kind.needs_period else None,
        secrets.token_hex(16),
    )
    with write_transaction():
        open_section(account, patient_id, CERTIFICATES, "add")
        send_code(account, CODE_PURPOSE, order.nonce, code_channel(account))
    return order


def resend_code(account: Account, order: Order) -> None:
    with write_transaction():
        open_section(account, order.patient_id, CERTIFICATES, "add")
        send_code(account, CODE_PURPOSE, order.nonce, code_channel(account))


def confirm_order(account: Account, order: Order, code: str) -> CertificateRequest | None:
    """Create the request when the code is right; None (and nothing created) when it is not."""
    with write_transaction():
        card = open_section(account, order.patient_id, CERTIFICATES, "add", "certificate_request")
        if not check_code(account, CODE_PURPOSE, order.nonce, code):
            audit.record(
                "certificate.code_failed",
                actor_id=account.id,
                actor_role=card.basis,
                patient_id=order.patient_id,
                outcome="failure",
            )
            return None
        row = CertificateRequest(
            patient_id=order.patient_id,
            requested_by_id=account.id,
            form=order.form,
            purpose=order.purpose,
            period_from=order.period_from,
            period_to=order.period_to,
            status="registered",
            created_at=now(),
        )
        db.session.add(row)
        db.session.flush()
        row.number = f"С-{row.created_at.year}-{row.id:06d}"
        db.session.add(
            RequestEvent(
                request_kind="certificate", request_id=row.id, status="registered", actor_id=account.id, at=now()
            )
        )
        audit.record(
            "certificate.requested",
            actor_id=account.id,
            actor_role=card.basis,
            patient_id=order.patient_id,
            section=CERTIFICATES,
            object_type="certificate_request",
            object_id=row.id,
            reason=order.form,
        )
        _tell(row, "request_status")
        return row


def _tell(row: CertificateRequest, event: str) -> None:
    params = {"number": row.number, "title": FORMS[row.form].official, "form": row.form, "status": row.status}
    if row.refusal_reason:
        params["reason"] = row.refusal_reason
    inbox.post(
        row.requested_by_id,
        event,
        patient_id=row.patient_id,
        params=params,
        url=url_for("certificates.detail", patient_id=row.patient_id, request_id=row.id),
    )


# -- the citizen's pages -------------------------------------------------------------------------


def requests_of(account: Account, patient_id: int) -> tuple[CardContext, list[CertificateRequest]]:
    with write_transaction():
        card = open_section(account, patient_id, CERTIFICATES)
        rows = list(
            db.session.scalars(
                select(CertificateRequest)
                .where(CertificateRequest.patient_id == patient_id)
                .order_by(CertificateRequest.id.desc())
                .limit(100)
            )
        )
    return card, rows


def timeline(request_id: int) -> list[RequestEvent]:
    return list(
        db.session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_kind == "certificate", RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        )
    )


def open_card(account: Account, patient_id: int, action: str = "read") -> CardContext:
    """Decide and audit access to this card's certificates (404 when refused)."""
    with write_transaction():
        return open_section(account, patient_id, CERTIFICATES, action)


def request_of(account: Account, patient_id: int, request_id: int, action: str = "read"):
    """(card, request, document) of this card's request, audited; LookupError when not this card's.
    ``action="export"`` is the download of the document."""
    with write_transaction():
        card = open_section(account, patient_id, CERTIFICATES, action, "certificate_request", request_id)
        row = db.session.get(CertificateRequest, request_id)
        if row is None or row.patient_id != patient_id:
            raise LookupError(request_id)
        document = db.session.get(Document, row.document_id) if row.document_id else None
        if document is not None and not document.kept_on(today()):
            document = None  # kept for a year in «Мои документы», then gone: a new one is ordered
    return card, row, document


# -- the registrar's work ------------------------------------------------------------------------


class NotAllowed(Exception):
    """A registrar never decides a request for their own card or one they made."""


class WrongStep(Exception):
    """The request is not at a step where this action applies (already decided, for example)."""


def queue(registrar: Account) -> tuple[list[tuple[CertificateRequest, Patient]], int]:
    """Open requests in this registrar's scope with their patients, oldest first, and how many
    are open in all."""
    query = (
        select(CertificateRequest, Patient)
        .join(Patient, Patient.id == CertificateRequest.patient_id)
        .where(CertificateRequest.status.in_(OPEN), policy.registrar_scope(registrar, CertificateRequest.patient_id))
        .order_by(CertificateRequest.id)
    )
    return work_queue(query, scalars=False)


def for_registrar(registrar: Account, request_id: int) -> tuple[CertificateRequest, Patient, bool]:
    """(request, patient, own): LookupError when the request is not in this registrar's scope."""
    row = db.session.scalar(
        select(CertificateRequest).where(
            CertificateRequest.id == request_id, policy.registrar_scope(registrar, CertificateRequest.patient_id)
        )
    )
    if row is None:
        raise LookupError(request_id)
    own = policy.is_party(registrar, row.patient_id, row.requested_by_id)
    return row, db.session.get(Patient, row.patient_id), own


def _step(registrar: Account, request_id: int, allowed_from: tuple[str, ...]) -> tuple[CertificateRequest, Patient]:
    row, patient, own = for_registrar(registrar, request_id)
    if own:
        raise NotAllowed
    row = db.session.get(CertificateRequest, row.id, with_for_update=True, populate_existing=True)
    if row.status not in allowed_from:
        raise WrongStep
    return row, patient


def _move(registrar: Account, row: CertificateRequest, status: str, note: str | None = None) -> None:
    row.status, row.updated_at = status, now()
    db.session.add(
        RequestEvent(
            request_kind="certificate", request_id=row.id, status=status, note=note, actor_id=registrar.id, at=now()
        )
    )
    audit.record(
        f"certificate.{status}",
        actor_id=registrar.id,
        actor_role="registrar",
        patient_id=row.patient_id,
        organisation_id=row.organisation_id,
        object_type="certificate_request",
        object_id=row.id,
        reason=note,
    )


def take(registrar: Account, request_id: int) -> CertificateRequest:
    with write_transaction():
        row, _patient = _step(registrar, request_id, ("registered",))
        _move(registrar, row, "in_progress")
        _tell(row, "request_status")
        return row


def refuse(registrar: Account, request_id: int, reason: str) -> CertificateRequest:
    with write_transaction():
        row, _patient = _step(registrar, request_id, OPEN)
        if issuing(row):
            raise WrongStep  # the document is being made: it will be ready in a moment
        row.refusal_reason = reason
        _move(registrar, row, "refused", reason)
        _tell(row, "request_status")
        return row


def issuer(patient_id: int, registrar: Account) -> Organisation:
    """The patient's current clinic, else the registrar's own."""
    attached = db.session.scalar(
        select(ClinicAttachment)
        .where(policy.attached_now(patient_id, today()))
        .order_by(ClinicAttachment.since.desc(), ClinicAttachment.id.desc())
    )
    if attached is not None:
        return attached.organisation
    return db.session.get(Organisation, min(policy.registrar_organisations(registrar)))


def verification_url(code: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for("certificates.verify", code=code)


ISSUE_TASK = "certificate.issue"


def issue_key(request_id: int) -> str:
    return f"certificate/{int(request_id)}"


def issue(registrar: Account, request_id: int) -> CertificateRequest:
    """Issue the document. Under the lock: the step checked, the registrar's read of the card
    (the document is made from it) decided and audited, the issuer, the moment and the
    verification code fixed. The PDF is rendered by a background job (``finish_issue``), which
    stores it in «Мои документы» for a year, marks the request ready and tells the citizen; the
    request stays open meanwhile (``issuing``). Asking again while it is being made keeps the
    code and queues the job only if none is waiting (after a failed job: tries again)."""
    from portal import tasks

    row, _patient, own = for_registrar(registrar, request_id)
    if own:
        raise NotAllowed
    if row.status not in OPEN:
        raise WrongStep
    with write_transaction():
        row, patient = _step(registrar, request_id, OPEN)
        # The document is made from the card: the registrar's read of it, decided and audited.
        policy.open_request(
            registrar,
            "read",
            patient.id,
            CERTIFICATES,
            row.requested_by_id,
            request=("certificate", row.number),
            object_type="certificate_request",
            object_id=row.id,
        )
        if row.verification_code is None:
            row.organisation_id = issuer(patient.id, registrar).id
            row.issued_at, row.verification_code = now(), new_verification_code()
    tasks.queue().enqueue_once(issue_key(row.id), ISSUE_TASK, row.id, registrar.id)
    return row


def issuing(row: CertificateRequest) -> bool:
    """Whether the document is being made (issued, not yet ready)."""
    return row.status in OPEN and row.verification_code is not None


def finish_issue(request_id: int, registrar_id: int) -> bool:
    """The background half of ``issue``: render the document, store it encrypted, and under the
    lock (the request still open, the same code) add it to «Мои документы», mark the request
    ready and tell the citizen. The file is removed if that transaction does not happen. No
    audit of a read here: the registrar's read was audited when they issued it."""
    row = db.session.get(CertificateRequest, request_id)
    if row is None or not issuing(row) or row.document_id is not None:
        return False
    patient = db.session.get(Patient, row.patient_id)
    organisation = db.session.get(Organisation, row.organisation_id)
    code, issued_at = row.verification_code, row.issued_at
    issued_on = clock.local_date(issued_at)  # the day on the paper, the page and /verify alike
    pdf = render_certificate(row, patient, organisation, issued_at, code)
    key = uploads.store(pdf, storage_purpose(patient.id))
    try:
        with write_transaction():
            row = db.session.get(CertificateRequest, request_id, with_for_update=True, populate_existing=True)
            if not issuing(row) or row.document_id is not None or row.verification_code != code:
                uploads.remove(key)  # refused meanwhile, or made by another job
                return False
            title = f"{FORMS[row.form].official} № {row.number}"
            document = Document(
                patient_id=patient.id,
                kind="certificate",
                title=title,
                document_date=issued_on,
                organisation_id=organisation.id,
                storage_key=key,
                filename=f"certificate-{row.number}.pdf",
                content_type="application/pdf",
                size=len(pdf),
                keep_until=issued_on + timedelta(days=KEEP_DAYS),
                search_text=title.casefold(),
            )
            db.session.add(document)
            db.session.flush()
            row.document_id = document.id
            _move(db.session.get(Account, registrar_id), row, "ready")
            _tell(row, "certificate_ready")
            return True
    except BaseException:
        uploads.remove(key)
        raise


# -- the document ----------------------------------------------------------------------------------


def _period_bounds(row: CertificateRequest) -> tuple[datetime | None, datetime | None]:
    start = clock.day_start(row.period_from) if row.period_from else None
    end = clock.day_end(row.period_to) if row.period_to else None
    return start, end


def record_content(row: CertificateRequest) -> dict:
    """What the form shows from the record: the extract (027/у) the period's diagnoses, visits,
    results and recommendations; 063/у the vaccinations; the others a conclusion with the
    current diagnoses and the vaccinations."""
    content = FORMS[row.form].content
    pid = row.patient_id
    found: dict = {}
    vaccinations = (
        select(Immunization)
        .where(Immunization.patient_id == pid, Immunization.confirmed.is_(True))
        .order_by(Immunization.given_on, Immunization.id)
    )
    if content == "extract":
        start, end = _period_bounds(row)
        found["diagnoses"] = list(
            db.session.scalars(
                select(Diagnosis)
                .where(
                    Diagnosis.patient_id == pid,
                    Diagnosis.onset_on <= row.period_to,
                    or_(Diagnosis.resolved_on.is_(None), Diagnosis.resolved_on >= row.period_from),
                )
                .order_by(Diagnosis.onset_on, Diagnosis.id)
            )
        )
        found["visits"] = list(
            db.session.scalars(
                select(Visit)
                .where(Visit.patient_id == pid, Visit.started_at.between(start, end))
                .order_by(Visit.started_at, Visit.id)
            )
        )
        reports = list(
            db.session.scalars(
                select(LabReport)
                .where(LabReport.patient_id == pid, LabReport.taken_at.between(start, end))
                .order_by(LabReport.taken_at, LabReport.id)
            )
        )
        observations: dict[int, list[Observation]] = {r.id: [] for r in reports}
        if reports:
            for obs in db.session.scalars(
                select(Observation).where(Observation.report_id.in_(observations)).order_by(Observation.id)
            ):
                observations[obs.report_id].append(obs)
        found["results"] = [(r, observations[r.id]) for r in reports]
        found["recommendations"] = [v for v in found["visits"] if v.recommendations]
    elif content == "vaccinations":
        found["vaccinations"] = list(db.session.scalars(vaccinations))
    else:
        found["diagnoses"] = list(
            db.session.scalars(
                select(Diagnosis)
                .where(Diagnosis.patient_id == pid, Diagnosis.status == "active")
                .order_by(Diagnosis.onset_on, Diagnosis.id)
            )
        )
        found["vaccinations"] = list(db.session.scalars(vaccinations))
    return found


def render_certificate(
    row: CertificateRequest, patient: Patient, organisation: Organisation, issued_at: datetime, code: str
) -> bytes:
    import segno

    from portal.pdf import render_pdf

    url = verification_url(code)
    kind = FORMS[row.form]
    with force_locale(PDF_LOCALE):
        from flask_babel import gettext as _

        qr = segno.make(url, error="m").svg_inline(scale=3, title=_("Verification code of the document"))
        return render_pdf(
            "certificates/document.html",
            item=row,
            kind=kind,
            patient=patient,
            organisation=organisation,
            issued_on=clock.local_date(issued_at),
            qr=qr,
            verify_url=url,
            record=record_content(row),
            names=_test_names(),
        )


def _test_names():
    """Laboratory test and panel names in Russian, when the record's catalogue is there."""
    try:
        from portal.record import catalog
    except ImportError:  # pragma: no cover - the catalogue arrives with the record pages
        return {"panel": lambda code: code, "test": lambda code: code}
    return {
        "panel": lambda code: catalog.panel_name(code, PDF_LOCALE),
        "test": lambda code: catalog.test_name(code, PDF_LOCALE),
    }


# -- public verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    kind: CertificateForm
    number: str
    issued_on: date
    valid_until: date
    organisation: str
    holder: str  # initials and birth year only
    expired: bool


def new_verification_code() -> str:
    """80 random bits as 16 capitals and digits (RFC 4648 base32): a code read off paper and typed
    in has no hyphen or underscore for a PDF line to break at and no case to get wrong."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


def verify(code: str) -> Verified | None:
    """What the public verification page may show about a document; None for an unknown code."""
    if not code or len(code) > 32:
        return None
    found = db.session.execute(
        select(CertificateRequest, Patient, Organisation)
        .join(Patient, Patient.id == CertificateRequest.patient_id)
        .join(Organisation, Organisation.id == CertificateRequest.organisation_id)
        # Typed from paper in lower case, the code still matches.
        .where(
            CertificateRequest.verification_code.in_({code, code.strip().upper()}), CertificateRequest.status == "ready"
        )
    ).first()
    if found is None:
        return None
    row, patient, organisation = found
    issued_on = clock.local_date(row.issued_at)
    valid_until = issued_on + timedelta(days=KEEP_DAYS)
    initials = "".join(f"{p[0]}." for p in (patient.surname, patient.name, patient.patronymic) if p)
    return Verified(
        FORMS[row.form],
        row.number,
        issued_on,
        valid_until,
        organisation.name,
        f"{initials}, {patient.birth_date.year}",
        today() > valid_until,
    )
