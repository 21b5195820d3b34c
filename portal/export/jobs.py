"""PDFs of the card off the request path: the summary and one entry (a prescription, a visit's
protocol) are made by a background job (``portal.tasks``) and kept for the card's version
(``portal.record.version``) in ``portal.pdfcache``.

A request (``summary`` / ``entry``) decides as before: the policy refuses (404, the refusal
audited), or allows with the sections this viewer may export. It names the file it needs by
everything that changes its bytes: the card's version and today's date (a prescription's state
and the active sections depend on the day), the viewer (named in the summary) and the basis,
the sections, the entry, the language. If that file exists, the request audits the export
exactly as the download always was (one ``card.export`` event, and for a visit one per part
shown) and serves it at once. Otherwise it queues one job for that file (asking again while it
waits queues nothing) and answers with the «готовится» page; nothing is audited then, because
nothing left the portal. A request never runs WeasyPrint.

The job reads the record as the system, for a decision a request made and audited: it writes
no audit event of its own (an event per job would say the viewer read the card when they did
not, and the viewer's download is the one recorded). It trusts only the request's arguments:
the sections and parts the policy allowed; the file it makes is served only to a request that
decides again and asks for the very same sections. It reads the card's version before the
data, so a file is never labelled newer than what it holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace

import segno
from flask import g
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal import clock, pdfcache, tasks
from portal.access import policy
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.export import service
from portal.record.models import Patient
from portal.record.service import CardContext, age_on
from portal.record.version import card_version

log = logging.getLogger(__name__)
TASK = "pdf.render"
FAILED = "failed:"  # a key in the queue's storage: the last job for this file failed


@dataclass(frozen=True)
class PdfSpec:
    """Everything that changes a PDF's bytes; JSON-able, the job's one argument."""

    kind: str  # summary, prescriptions, visits
    patient_id: int
    viewer_id: int
    basis: str
    sections: tuple[str, ...]  # the summary's sections, or a visit's parts shown
    entry_id: int | None
    locale: str
    day: str
    version: str

    @property
    def key(self) -> str:
        slot = json.dumps([self.kind, self.viewer_id, self.basis, self.sections, self.entry_id, self.locale])
        return pdfcache.key(
            self.patient_id, f"{self.day}-{self.version}", hashlib.sha256(slot.encode()).hexdigest()[:24]
        )

    def args(self) -> dict:
        return asdict(self)

    @classmethod
    def from_args(cls, args: dict) -> PdfSpec:
        return cls(**{**args, "sections": tuple(args["sections"])})

    def current(self) -> PdfSpec:
        """The same file for the card as it is now (a job started later than its request)."""
        return replace(self, day=clock.today().isoformat(), version=card_version(self.patient_id))


@dataclass
class Outcome:
    spec: PdfSpec
    card: CardContext
    pdf: bytes | None  # the file, when it was ready and served (the download audited)
    entry: object = None
    ready: bool = False  # the file exists
    failed: bool = False  # the last job for it failed (the person may ask again)


def _decide(account: Account, patient_id: int, section: str) -> CardContext:
    """The policy's decision for an export of ``section`` (AccessDenied → 404, audited), without an
    audit event of an allowed access: that is written only when a file is served."""
    decision, patient = policy.require(account, "export", patient_id, section)
    card = CardContext(
        patient,
        decision,
        age_on(patient.birth_date, policy.today()),
        policy.visible_sections(account, patient, decision),
    )
    g.card = card  # the progress page names the card, as every card page does
    return card


def _spec(kind: str, card: CardContext, account: Account, sections, entry_id=None) -> PdfSpec:
    return PdfSpec(
        kind,
        card.patient.id,
        account.id,
        card.basis,
        tuple(sections),
        entry_id,
        str(get_locale() or "ru"),
        clock.today().isoformat(),
        card_version(card.patient.id),
    )


def summary(account: Account, patient_id: int, *, serve: bool = True) -> Outcome:
    """The summary PDF if it is ready (its download audited as a ``pdf`` export), else its job
    queued. ``serve=False`` (the status fragment): only whether it is ready; nothing audited
    or queued."""
    with write_transaction():
        card = _decide(account, patient_id, "summary")
        spec = _spec("summary", card, account, service.exportable(account, card))
        outcome = _look(spec, card, serve)
        if outcome.pdf is not None:
            policy.record_access(account, card.decision, "export", card.patient.id, "summary", "export", "pdf")
    return _queue(outcome) if serve else outcome


def entry(account: Account, patient_id: int, section: str, entry_id: int, *, serve: bool = True) -> Outcome:
    """One entry's PDF if it is ready (audited as an export of the entry and of each part of a
    visit shown, as it always was), else its job queued. LookupError when the card has no
    such entry. ``serve=False`` as for ``summary``."""
    from portal.record import listing

    if section not in service.ENTRY_SECTIONS:
        raise LookupError(section)
    with write_transaction():
        card = _decide(account, patient_id, section)
        found = listing.entry_of(listing.SPECS[section], patient_id, entry_id)
        if found is None:
            raise LookupError(entry_id)
        parts: tuple[str, ...] = ()
        if section == "visits":
            allowed = set(policy.visible_sections(account, card.patient, card.decision, action="export"))
            parts = tuple(p for p in service.VISIT_PARTS if p in allowed)
        outcome = _look(_spec(section, card, account, parts, entry_id), card, serve)
        outcome.entry = found
        if outcome.pdf is not None:
            policy.record_access(account, card.decision, "export", card.patient.id, section, section, entry_id)
            for part in parts:
                policy.record_access(account, card.decision, "export", card.patient.id, part, "visits", entry_id)
    return _queue(outcome) if serve else outcome


def _look(spec: PdfSpec, card: CardContext, serve: bool) -> Outcome:
    if serve:
        pdf = pdfcache.get(spec.key)
        return Outcome(spec, card, pdf, ready=pdf is not None)
    outcome = Outcome(spec, card, None, ready=pdfcache.exists(spec.key))
    if not outcome.ready:
        outcome.failed = tasks.queue().huey.storage.has_data_for_key(FAILED + spec.key)
    return outcome


def _queue(outcome: Outcome) -> Outcome:
    """Queue the job for a file that is not ready (once: asking again while it waits queues
    nothing); a request after a failed job tries again."""
    if outcome.pdf is None:
        jobs = tasks.queue()
        jobs.huey.storage.delete_data(FAILED + outcome.spec.key)
        jobs.enqueue_once(outcome.spec.key, TASK, outcome.spec.args())
    return outcome


# -- the job ---------------------------------------------------------------------------------------


@tasks.task(TASK)
def render_job(args: dict) -> None:
    """Make the file ``args`` names (for the card as it is now) unless it exists."""
    asked = PdfSpec.from_args(args)
    jobs = tasks.queue()
    try:
        spec = asked.current()
        if not pdfcache.exists(spec.key):
            pdfcache.put(spec.key, make_pdf(spec))
    except Exception:
        log.exception("a PDF job failed", extra={"fields": {"kind": asked.kind}})
        jobs.huey.storage.put_data(FAILED + asked.key, b"1")
        raise
    finally:
        jobs.done(asked.key)
        db.session.rollback()


def make_pdf(spec: PdfSpec) -> bytes:
    """Render the PDF ``spec`` names (the CPU-heavy part: WeasyPrint)."""
    from portal.pdf import render_pdf
    from portal.record import catalog, listing
    from portal.record.listing import prescription_state
    from portal.record.sections import LABELS

    viewer = db.session.get(Account, spec.viewer_id)
    patient = db.session.get(Patient, spec.patient_id)
    with force_locale(spec.locale):
        if spec.kind == "summary":
            data = service.load(patient, viewer, spec.basis, spec.sections)
            from portal.export import fhir

            return render_pdf("export/summary_pdf.html", data=data, labels=LABELS, words=fhir, catalog=catalog)
        found = listing.entry_of(listing.SPECS[spec.kind], spec.patient_id, spec.entry_id)
        if found is None:
            raise LookupError(spec.entry_id)
        decision = policy.Decision(True, "export job", spec.basis)
        card = CardContext(patient, decision, age_on(patient.birth_date, policy.today()), ())
        data = service.EntryExport(card, spec.kind, found, clock.now())
        for part in spec.sections:
            model = service.PART_MODELS[part]
            data.parts[part] = list(
                db.session.scalars(select(model).where(model.visit_id == found.id).order_by(model.id))
            )
        context: dict = {"data": data, "qr": None, "qr_text": None, "state": None}
        if spec.kind == "prescriptions":
            text = service.prescription_qr_text(found)
            context["qr_text"] = text
            context["state"] = prescription_state(found)
            context["qr"] = segno.make(text, error="m").svg_inline(scale=3, title=_("QR code of the prescription"))
        return render_pdf("export/entry_pdf.html", **context)
