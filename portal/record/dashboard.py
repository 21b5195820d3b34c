"""What the card's dashboard («Моё здоровье») shows: each part is a dashboard card returned by
the ``dashboard_cards`` hook, the same hook plugins use. A card appears only when the viewer may
see its section; each takes one query."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, String, bindparam, func, literal, select

from portal import database
from portal.access.policy import today
from portal.plugin_api import DashboardCard
from portal.record import models as m
from portal.record.service import CardContext

LATEST = 3


@dataclass(frozen=True)
class Count:
    shown: list
    total: int


def _link(context: CardContext, section: str) -> str:
    return url_for("record.section", patient_id=context.patient.id, section=section)


@cache
def _statements() -> dict[str, Select]:
    """Each card's query, built once per process (immutable) and run with the card's values: only
    the columns the card shows, no record entries loaded as objects."""
    from portal.appointments.models import Appointment as A
    from portal.certificates.models import CertificateRequest as C
    from portal.consent.models import OptOutRequest as O
    from portal.corrections.models import CorrectionRequest as R
    from portal.notify.models import Notification as N

    patient, p, r, i = bindparam("patient"), m.Prescription, m.LabReport, m.Immunization
    unread = (N.account_id == bindparam("account"), N.patient_id == patient, N.read_at.is_(None))
    return {
        "prescriptions": select(p.id, p.drug, p.form, p.valid_until)
        .where(p.patient_id == patient, p.cancelled_at.is_(None), p.valid_until >= bindparam("on"))
        .order_by(p.valid_until, p.id)
        .limit(10),
        "results": select(r.id, r.code, r.kind, r.taken_at, r.flagged)
        .where(r.patient_id == patient)
        .order_by(r.taken_at.desc(), r.id.desc())
        .limit(LATEST),
        "vaccinations": select(i.target, i.dose_label, i.given_on).where(i.patient_id == patient),
        "appointment": select(
            A.id,
            A.starts_at,
            A.room,
            m.Practitioner.surname,
            m.Practitioner.name,
            m.Practitioner.patronymic,
            m.Practitioner.specialty,
            m.Organisation.name.label("organisation"),
            m.Organisation.address,
            m.Organisation.phone,
        )
        .join(m.Organisation, m.Organisation.id == A.organisation_id)
        .outerjoin(m.Practitioner, m.Practitioner.id == A.practitioner_id)
        .where(A.patient_id == patient, A.status == "booked", A.starts_at >= bindparam("now"))
        .order_by(A.starts_at, A.id)
        .limit(1),
        "notifications": select(N.event, N.params).where(*unread).order_by(N.id.desc()).limit(LATEST),
        "unread": select(func.count()).select_from(N).where(*unread),
        "requests": select(
            literal("certificate", String).label("kind"), C.id, C.number, C.status, C.created_at, C.requested_by_id
        )
        .where(C.patient_id == patient, C.status.in_(("registered", "in_progress")))
        .union_all(
            select(literal("correction", String), R.id, R.number, R.status, R.created_at, R.requested_by_id).where(
                R.patient_id == patient, R.status.in_(("registered", "in_review"))
            ),
            select(literal("opt_out", String), O.id, O.number, O.status, O.created_at, O.requested_by_id).where(
                O.patient_id == patient, O.status == "registered"
            ),
        )
        .order_by("created_at"),
    }


def _rows(name: str, **values) -> list:
    return database.rows(_statements()[name], values)


def prescriptions(context: CardContext) -> DashboardCard:
    on = today()
    return DashboardCard(
        "prescriptions",
        str(_l("Active prescriptions")),
        "record/dashboard/prescriptions.html",
        {
            "rows": _rows("prescriptions", patient=context.patient.id, on=on),
            "soon": on + timedelta(days=5),
            "url": _link(context, "prescriptions") + "?type=active",
            "patient_id": context.patient.id,
        },
        order=30,
    )


def results(context: CardContext) -> DashboardCard:
    return DashboardCard(
        "results",
        str(_l("Latest results")),
        "record/dashboard/results.html",
        {
            "rows": _rows("results", patient=context.patient.id),
            "url": _link(context, "results"),
            "patient_id": context.patient.id,
        },
        order=20,
    )


def vaccinations(context: CardContext) -> DashboardCard:
    from portal.record import calendar

    given = _rows("vaccinations", patient=context.patient.id)
    items = [d for d in calendar.due(context.patient.birth_date, given, today()) if d.status in ("due", "overdue")]
    return DashboardCard(
        "vaccinations",
        str(_l("Vaccinations due")),
        "record/dashboard/vaccinations.html",
        {"items": items, "url": _link(context, "vaccinations")},
        order=40,
    )


def appointment(context: CardContext) -> DashboardCard:
    """The next booked appointment, with the doctor and the clinic's address."""
    from datetime import UTC, datetime

    found = _rows("appointment", patient=context.patient.id, now=datetime.now(UTC))
    return DashboardCard(
        "appointment",
        str(_l("Next appointment")),
        "record/dashboard/appointment.html",
        {
            "next": found[0] if found else None,
            "url": url_for("directory.clinics"),
            "ticket": url_for("appointments.ticket", patient_id=context.patient.id, appointment_id=found[0].id)
            if found
            else None,
            "list": url_for("appointments.list_page", patient_id=context.patient.id),
            "book": url_for("appointments.book", patient_id=context.patient.id),
            "may_book": context.basis in ("self", "guardian"),
        },
        order=10,
    )


def notifications(context: CardContext, account_id: int) -> DashboardCard:
    from portal.notify.inbox import describe

    ids = {"account": account_id, "patient": context.patient.id}
    rows = _rows("notifications", **ids)
    total = database.scalar(_statements()["unread"], ids) if len(rows) == LATEST else len(rows)
    return DashboardCard(
        "notifications",
        str(_l("Unread notifications")),
        "record/dashboard/notifications.html",
        {"total": total, "titles": [describe(event, json.loads(params or "{}"))[0] for event, params in rows]},
        order=50,
    )


def requests(context: CardContext) -> DashboardCard:
    """Open certificate orders, error reports and opt-out applications for this card."""
    return DashboardCard(
        "requests",
        str(_l("Open requests")),
        "record/dashboard/requests.html",
        {"rows": _rows("requests", patient=context.patient.id), "patient_id": context.patient.id},
        order=60,
    )


SECTION_CARDS = (("results", results), ("prescriptions", prescriptions), ("vaccinations", vaccinations))


def cards_for(context: CardContext, account) -> list[DashboardCard]:
    """The dashboard's cards for this viewer. A card showing a section of the record appears only
    where the viewer may read that section, and its read is audited as a read of that section,
    in the page's write transaction (the view opens it)."""
    from portal.access import policy
    from portal.audit import service as audit

    cards, reads = [], []
    if context.may("appointments"):
        reads.append(
            policy.access_event(account, context.decision, "read", context.patient.id, "appointments", "dashboard")
        )
        cards.append(appointment(context))
    for section, make in SECTION_CARDS:
        if context.may(section):
            reads.append(
                policy.access_event(account, context.decision, "read", context.patient.id, section, "dashboard")
            )
            cards.append(make(context))
    audit.record_many(reads)  # one event per section shown, in one INSERT
    cards.append(notifications(context, account.id))
    if context.basis in ("self", "guardian"):
        cards.append(requests(context))
    return cards
