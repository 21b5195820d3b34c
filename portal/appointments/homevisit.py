"""A call for a doctor at home («вызов врача на дом») to the card's attached clinic.

The citizen (the booking policy: the patient, a guardian, a trusted person with appointments at
level «add») sends the address, symptoms, temperature and a contact phone; the clinic's
registrar (``policy.decide_home_visit``: that clinic's registrar, never about their own family)
accepts it with a doctor and a date, or refuses it with a reason; the citizen follows the status
and is told of each decision. Every step is audited.
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


def queue(account) -> list[tuple[HomeVisitRequest, Patient]]:
    """New calls to this registrar's clinics, oldest first, then the last decided. One statement."""
    organisations = sorted(policy.registrar_organisations(account))
    return list(
        db.session.execute(
            select(HomeVisitRequest, Patient)
            .join(Patient, Patient.id == HomeVisitRequest.patient_id)
            .where(HomeVisitRequest.organisation_id.in_(organisations), HomeVisitRequest.status == "new")
            .order_by(HomeVisitRequest.created_at, HomeVisitRequest.id)
            .limit(PAGE_SIZE)
        )
    )


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
        request = db.session.get(HomeVisitRequest, request_id)
        if request is None:
            raise LookupError(request_id)
        decision = policy.decide_home_visit(
            account, request.organisation_id, request.patient_id, request.requested_by_id
        )
        if not decision.allowed:
            raise LookupError(request_id)
        if request.status != "new":
            raise Refused(None, _l("This call is already decided"))
        moment = clock.now()
        if accept:
            doctor = db.session.get(Practitioner, practitioner_id) if practitioner_id else None
            if doctor is None or doctor.organisation_id != request.organisation_id:
                raise Refused("practitioner", _l("Choose a doctor of your clinic"))
            today = clock.today()
            if visit_on is None or not today <= visit_on <= today + timedelta(days=PLAN_DAYS):
                raise Refused("visit_on", _l("Choose a date from today to %(days)s days ahead", days=PLAN_DAYS))
            request.status = "accepted"
            request.practitioner_id = doctor.id
            request.visit_on = visit_on
        else:
            request.status = "refused"
            request.refusal_reason = reason
        request.decided_by_id = account.id
        request.decided_at = moment
        request.updated_at = moment
        audit.record(
            "home_visit.decided",
            actor_id=account.id,
            actor_role="registrar",
            patient_id=request.patient_id,
            section=SECTION,
            organisation_id=request.organisation_id,
            object_type="home_visit_request",
            object_id=request.id,
            reason=request.status if accept else f"refused: {reason}",
        )
        params = {"number": number_of(request), "status": request.status}
        if accept:
            params |= {"visit_on": visit_on.isoformat(), "doctor": doctor.full_name}
        else:
            params["reason"] = reason
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
        return request
