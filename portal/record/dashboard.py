"""What the card's dashboard («Моё здоровье») shows: each part is a dashboard card returned by
the ``dashboard_cards`` hook, the same hook plugins use. A card appears only when the viewer may
see its section; each takes one query."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, func, literal, select

from portal.access.policy import today
from portal.database import db
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


def prescriptions(context: CardContext) -> DashboardCard:
    on = today()
    p = m.Prescription
    rows = list(
        db.session.scalars(
            select(p)
            .where(p.patient_id == context.patient.id, p.cancelled_at.is_(None), p.valid_until >= on)
            .order_by(p.valid_until, p.id)
            .limit(10)
        )
    )
    return DashboardCard(
        "prescriptions",
        str(_l("Active prescriptions")),
        "record/dashboard/prescriptions.html",
        {
            "rows": rows,
            "soon": on + timedelta(days=5),
            "url": _link(context, "prescriptions") + "?type=active",
            "patient_id": context.patient.id,
        },
        order=30,
    )


def results(context: CardContext) -> DashboardCard:
    r = m.LabReport
    rows = list(
        db.session.scalars(
            select(r).where(r.patient_id == context.patient.id).order_by(r.taken_at.desc(), r.id.desc()).limit(LATEST)
        )
    )
    return DashboardCard(
        "results",
        str(_l("Latest results")),
        "record/dashboard/results.html",
        {"rows": rows, "url": _link(context, "results"), "patient_id": context.patient.id},
        order=20,
    )


def vaccinations(context: CardContext) -> DashboardCard:
    from portal.record import calendar

    i = m.Immunization
    given = db.session.execute(
        select(i.target, i.dose_label, i.given_on).where(i.patient_id == context.patient.id)
    ).all()
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

    from portal.appointments.models import Appointment as A

    row = db.session.execute(
        select(A, m.Practitioner, m.Organisation)
        .join(m.Organisation, m.Organisation.id == A.organisation_id)
        .outerjoin(m.Practitioner, m.Practitioner.id == A.practitioner_id)
        .where(A.patient_id == context.patient.id, A.status == "booked", A.starts_at >= datetime.now(UTC))
        .order_by(A.starts_at, A.id)
        .limit(1)
    ).first()
    return DashboardCard(
        "appointment",
        str(_l("Next appointment")),
        "record/dashboard/appointment.html",
        {"next": row, "url": url_for("appointments.clinics")},
        order=10,
    )


def notifications(context: CardContext, account_id: int) -> DashboardCard:
    from portal.notify.inbox import describe
    from portal.notify.models import Notification

    n = Notification
    unread = (n.account_id == account_id, n.patient_id == context.patient.id, n.read_at.is_(None))
    rows = list(db.session.scalars(select(n).where(*unread).order_by(n.id.desc()).limit(LATEST)))
    total = db.session.scalar(select(func.count()).select_from(n).where(*unread)) if len(rows) == LATEST else len(rows)
    return DashboardCard(
        "notifications",
        str(_l("Unread notifications")),
        "record/dashboard/notifications.html",
        {
            "rows": rows,
            "total": total,
            "titles": [describe(note.event, json.loads(note.params or "{}"))[0] for note in rows],
        },
        order=50,
    )


def requests(context: CardContext) -> DashboardCard:
    """Open certificate orders, error reports and opt-out applications for this card."""
    from portal.certificates.models import CertificateRequest as C
    from portal.consent.models import OptOutRequest as O
    from portal.corrections.models import CorrectionRequest as R

    pid = context.patient.id
    query = (
        select(literal("certificate", String).label("kind"), C.id, C.number, C.status, C.created_at, C.requested_by_id)
        .where(C.patient_id == pid, C.status.in_(("registered", "in_progress")))
        .union_all(
            select(literal("correction", String), R.id, R.number, R.status, R.created_at, R.requested_by_id).where(
                R.patient_id == pid, R.status.in_(("registered", "in_review"))
            ),
            select(literal("opt_out", String), O.id, O.number, O.status, O.created_at, O.requested_by_id).where(
                O.patient_id == pid, O.status == "registered"
            ),
        )
        .order_by("created_at")
    )
    rows = db.session.execute(query).all()
    return DashboardCard(
        "requests",
        str(_l("Open requests")),
        "record/dashboard/requests.html",
        {"rows": rows, "patient_id": pid},
        order=60,
    )


SECTION_CARDS = (("results", results), ("prescriptions", prescriptions), ("vaccinations", vaccinations))


def cards_for(context: CardContext, account) -> list[DashboardCard]:
    """The dashboard's cards for this viewer. A card showing a section of the record appears only
    where the viewer may read that section, and its read is audited as a read of that section,
    in the page's write transaction (the view opens it)."""
    from portal.access import policy

    cards = [appointment(context)] if context.basis in ("self", "guardian", "clinician") else []
    for section, make in SECTION_CARDS:
        if context.may(section):
            policy.record_access(account, context.decision, "read", context.patient.id, section, "dashboard")
            cards.append(make(context))
    cards.append(notifications(context, account.id))
    if context.basis in ("self", "guardian"):
        cards.append(requests(context))
    return cards
