"""A call for a doctor at home («вызов врача на дом») to the card's attached clinic.

The citizen (the booking policy: the patient, a guardian, a trusted person with appointments at
level «add») sends the address, symptoms, temperature and a contact phone; the clinic's
registrar (``policy.decide_home_visit``: that clinic's registrar, never about their own family)
accepts it with a doctor and a date, or refuses it with a reason, and marks an accepted visit done
or cancels it with a reason; the citizen may cancel a call not yet done (a reason optional). The
citizen follows the status and is told of each change. Every step is audited.

The states of a call, and who moves it (``MOVES``)::

    new → accepted (clinic: a doctor and a date) → done (clinic, from the visit's day)
    new → refused (clinic, with a reason)
    new, accepted → cancelled (the citizen, a reason optional; the clinic an accepted one, with a reason)

Refused, done and cancelled are final. ``transition`` is the one place a call's state changes:
it checks the move, changes the row (in the caller's write transaction), audits and tells the
citizen; a move the diagram does not allow raises ``states.InvalidTransition`` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import clock
from portal.access import policy
from portal.appointments.models import HomeVisitRequest
from portal.appointments.states import InvalidTransition
from portal.audit import service as audit
from portal.auth.models import Account
from portal.database import db, write_transaction
from portal.directory.models import Organisation, Practitioner
from portal.directory.service import attached_organisation
from portal.notify import inbox
from portal.record.models import Patient

SECTION = policy.APPOINTMENTS
PAGE_SIZE = 50
# A home visit is planned for today or the next days, not further.
PLAN_DAYS = 3
# Who moves a call from which state to which.
MOVES: dict[str, dict[str, frozenset[str]]] = {
    "citizen": {"new": frozenset({"cancelled"}), "accepted": frozenset({"cancelled"})},
    "clinic": {"new": frozenset({"accepted", "refused"}), "accepted": frozenset({"done", "cancelled"})},
}
REASON_NEEDED = {("clinic", "refused"), ("clinic", "cancelled")}
# The audit action of each move (a decision stays «decided», as it always was).
ACTIONS = {"accepted": "decided", "refused": "decided", "done": "done", "cancelled": "cancelled"}


class Refused(Exception):
    def __init__(self, field: str | None, message) -> None:
        super().__init__(str(message))
        self.field, self.message = field, message


def _list_path(patient_id: int) -> str:
    """The card's calls page, where the citizen follows the status."""
    from flask import current_app, has_request_context, url_for

    if has_request_context():
        return url_for("care.home_visits", patient_id=patient_id)
    with current_app.test_request_context():
        return url_for("care.home_visits", patient_id=patient_id)


def number_of(request: HomeVisitRequest) -> str:
    return f"В-{clock.local_date(request.created_at).year}-{request.id:06d}"


def last_address(patient_id: int) -> str:
    """The address of the card's last call, to start the form with (the citizen may change it)."""
    return (
        db.session.scalar(
            select(HomeVisitRequest.address)
            .where(HomeVisitRequest.patient_id == patient_id)
            .order_by(HomeVisitRequest.created_at.desc(), HomeVisitRequest.id.desc())
            .limit(1)
        )
        or ""
    )


def request_visit(
    account, patient_id: int, address: str, symptoms: str, temperature: Decimal | None, phone: str
) -> HomeVisitRequest:
    with write_transaction():
        decision, _patient = policy.require_booking(account, patient_id)
        organisation_id = attached_organisation(patient_id)
        if organisation_id is None:
            raise Refused(None, _l("The card is not attached to a clinic: a doctor is called from the attached clinic"))
        open_one = db.session.scalar(
            select(HomeVisitRequest.id).where(
                HomeVisitRequest.patient_id == patient_id, HomeVisitRequest.status == "new"
            )
        )
        if open_one is not None:
            raise Refused(None, _l("A call for this card is already waiting for the clinic's decision"))
        moment = clock.now()
        request = HomeVisitRequest(
            patient_id=patient_id,
            organisation_id=organisation_id,
            requested_by_id=account.id,
            address=address,
            symptoms=symptoms,
            temperature=temperature,
            phone=phone,
            status="new",
            created_at=moment,
        )
        db.session.add(request)
        db.session.flush()
        audit.record(
            "home_visit.requested",
            actor_id=account.id,
            actor_role=decision.basis,
            patient_id=patient_id,
            section=SECTION,
            organisation_id=organisation_id,
            object_type="home_visit_request",
            object_id=request.id,
        )
        inbox.post(
            account.id,
            "home_visit_status",
            patient_id=patient_id,
            params={"number": number_of(request), "status": "new"},
            url=_list_path(patient_id),
        )
        return request


@dataclass(frozen=True)
class Shown:
    request: HomeVisitRequest
    number: str
    organisation: str
    doctor: str | None


def requests_of(patient_id: int) -> list[Shown]:
    """The card's calls, newest first (the page opened the card and audited the read). One
    statement."""
    rows = db.session.execute(
        select(HomeVisitRequest, Organisation.name, Practitioner.surname, Practitioner.name, Practitioner.patronymic)
        .join(Organisation, Organisation.id == HomeVisitRequest.organisation_id)
        .outerjoin(Practitioner, Practitioner.id == HomeVisitRequest.practitioner_id)
        .where(HomeVisitRequest.patient_id == patient_id)
        .order_by(HomeVisitRequest.created_at.desc(), HomeVisitRequest.id.desc())
        .limit(PAGE_SIZE)
    )
    return [Shown(r, number_of(r), org, " ".join(p for p in (s, n, pn) if p) or None) for r, org, s, n, pn in rows]


# -- the registrar's queue -----------------------------------------------------------------------


def queue(account) -> tuple[list[tuple[HomeVisitRequest, Patient]], list[tuple[HomeVisitRequest, Patient]]]:
    """This registrar's clinics' new calls, oldest first, and the accepted visits still to make
    (to mark done or cancel), soonest first. One statement."""
    organisations = sorted(policy.registrar_organisations(account))
    rows = db.session.execute(
        select(HomeVisitRequest, Patient)
        .join(Patient, Patient.id == HomeVisitRequest.patient_id)
        .where(
            HomeVisitRequest.organisation_id.in_(organisations),
            HomeVisitRequest.status.in_(("new", "accepted")),
        )
        .order_by(HomeVisitRequest.created_at, HomeVisitRequest.id)
        .limit(2 * PAGE_SIZE)
    ).all()
    waiting = [(r, p) for r, p in rows if r.status == "new"]
    accepted = sorted(((r, p) for r, p in rows if r.status == "accepted"), key=lambda row: row[0].visit_on)
    return waiting, accepted


def for_registrar(account, request_id: int) -> tuple[HomeVisitRequest, Patient, policy.Decision]:
    """The call, its patient and the decision, the read audited; LookupError for another clinic's."""
    with write_transaction():
        request = db.session.get(HomeVisitRequest, request_id)
        if request is None:
            raise LookupError(request_id)
        decision = policy.decide_home_visit(
            account, request.organisation_id, request.patient_id, request.requested_by_id
        )
        audit.record(
            "home_visit.read",
            actor_id=account.id,
            actor_role="registrar",
            patient_id=request.patient_id,
            section=SECTION,
            organisation_id=request.organisation_id,
            object_type="home_visit_request",
            object_id=request.id,
            outcome="success" if decision.allowed or decision.conflict else "denied",
            reason=None if decision.allowed else decision.reason,
        )
    if not decision.allowed and not decision.conflict:
        raise LookupError(request_id)
    return request, db.session.get(Patient, request.patient_id), decision


def doctors_of(organisation_id: int) -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Practitioner.id, Practitioner.surname, Practitioner.name, Practitioner.patronymic, Practitioner.position)
        .where(Practitioner.organisation_id == organisation_id)
        .order_by(Practitioner.surname, Practitioner.name, Practitioner.id)
    )
    return [(r[0], " ".join(p for p in r[1:4] if p) + (f", {r[4]}" if r[4] else "")) for r in rows]


def _for_clinic(account, request_id: int) -> HomeVisitRequest:
    """The call, when this registrar may change it (``policy.decide_home_visit``); LookupError
    (404) for another clinic's, their own or their family's."""
    request = db.session.get(HomeVisitRequest, request_id)
    if request is None:
        raise LookupError(request_id)
    decision = policy.decide_home_visit(account, request.organisation_id, request.patient_id, request.requested_by_id)
    if not decision.allowed:
        raise LookupError(request_id)
    return request


def decide(
    account,
    request_id: int,
    accept: bool,
    practitioner_id: int | None = None,
    visit_on: date | None = None,
    reason: str | None = None,
) -> HomeVisitRequest:
    """Accept (a doctor of the clinic, a date from today to PLAN_DAYS ahead) or refuse (a reason).
    The citizen is told. LookupError: not this registrar's; Refused: bad input or already decided."""
    with write_transaction():
        request = _for_clinic(account, request_id)
        if request.status != "new":
            raise Refused(None, _l("This call is already decided"))
        if accept:
            doctor = db.session.get(Practitioner, practitioner_id) if practitioner_id else None
            if doctor is None or doctor.organisation_id != request.organisation_id:
                raise Refused("practitioner", _l("Choose a doctor of your clinic"))
            today = clock.today()
            if visit_on is None or not today <= visit_on <= today + timedelta(days=PLAN_DAYS):
                raise Refused("visit_on", _l("Choose a date from today to %(days)s days ahead", days=PLAN_DAYS))
            request.practitioner_id = doctor.id
            request.visit_on = visit_on
        target = "accepted" if accept else "refused"
        return transition(request, target, by="clinic", actor_id=account.id, actor_role="registrar", reason=reason)


def close(account, request_id: int, target: str, reason: str | None = None) -> HomeVisitRequest:
    """The clinic marks an accepted visit ``done`` or ``cancelled`` (with a reason); the citizen is
    told. LookupError: not this registrar's; InvalidTransition: not from this state."""
    with write_transaction():
        request = _for_clinic(account, request_id)
        return transition(request, target, by="clinic", actor_id=account.id, actor_role="registrar", reason=reason)


def of_card(patient_id: int, request_id: int) -> HomeVisitRequest:
    """One call of this card; LookupError (404) for another card's (the caller opened the card)."""
    request = db.session.get(HomeVisitRequest, request_id)
    if request is None or request.patient_id != patient_id:
        raise LookupError(request_id)
    return request


def may_cancel(account, decision: policy.Decision, request: HomeVisitRequest) -> bool:
    """The patient and a guardian cancel any call of the card; a trusted person the calls they made."""
    return decision.basis in policy.OWNER_BASES or request.requested_by_id == account.id


def cancel(account, patient_id: int, request_id: int, reason: str | None = None) -> HomeVisitRequest:
    """The citizen cancels a call not yet done (the booking policy opens the card). LookupError:
    another card's call, or one this reader may not cancel; InvalidTransition: done, refused or
    cancelled already."""
    with write_transaction():
        decision, _patient = policy.require_booking(account, patient_id)
        request = of_card(patient_id, request_id)
        if not may_cancel(account, decision, request):
            raise LookupError(request_id)
        return transition(
            request, "cancelled", by="citizen", actor_id=account.id, actor_role=decision.basis, reason=reason
        )


def check(request: HomeVisitRequest, target: str, by: str, reason: str | None = None) -> None:
    """InvalidTransition unless ``by`` (citizen, clinic) may move the call to ``target`` now."""
    if target not in MOVES[by].get(request.status, frozenset()):
        raise InvalidTransition(request.status, target)
    if (by, target) in REASON_NEEDED and not (reason and reason.strip()):
        raise InvalidTransition(request.status, target, "reason_needed")
    if target == "done" and request.visit_on is not None and clock.today() < request.visit_on:
        raise InvalidTransition(request.status, target, "too_early")


def transition(
    request: HomeVisitRequest, target: str, *, by: str, actor_id: int, actor_role: str, reason: str | None = None
) -> HomeVisitRequest:
    """Move the call to ``target`` (checked), in the caller's write transaction, audited as
    ``home_visit.<action>``; the citizen is told."""
    check(request, target, by, reason)
    reason = reason.strip() if reason and reason.strip() else None
    moment = clock.now()
    request.status = target
    request.updated_at = moment
    if target in ("accepted", "refused"):
        request.decided_by_id, request.decided_at = actor_id, moment
        request.refusal_reason = reason if target == "refused" else None
    elif target == "cancelled":
        request.cancelled_by, request.cancelled_by_id, request.cancel_reason = by, actor_id, reason
    audit.record(
        f"home_visit.{ACTIONS[target]}",
        actor_id=actor_id,
        actor_role=actor_role,
        patient_id=request.patient_id,
        section=SECTION,
        organisation_id=request.organisation_id,
        object_type="home_visit_request",
        object_id=request.id,
        reason=f"{target}: {reason}" if reason else target,
    )
    _tell(request)
    return request


def _tell(request: HomeVisitRequest) -> None:
    """Whoever made the call and the patient's own account, through the inbox."""
    params = {"number": number_of(request), "status": request.status}
    if request.status == "accepted":
        doctor = db.session.get(Practitioner, request.practitioner_id)
        params |= {"visit_on": request.visit_on.isoformat(), "doctor": doctor.full_name}
    elif request.status == "refused":
        params["reason"] = request.refusal_reason
    elif request.status == "cancelled":
        params |= {"by": request.cancelled_by, "reason": request.cancel_reason or ""}
    readers = {request.requested_by_id}
    own = db.session.scalar(select(Account.id).where(Account.patient_id == request.patient_id))
    if own is not None:
        readers.add(own)
    for account_id in sorted(readers):
        inbox.post(
            account_id,
            "home_visit_status",
            patient_id=request.patient_id,
            params=params,
            url=_list_path(request.patient_id),
        )
