"""The demo clinics' paid services, for the demo accountant's report: the priced services of the
directory (a cardiologist's and a dentist's consultation, an ECG, a blood count) rendered to the
generated patients over the last four months, paid by the patient or by a voluntary insurer, each
in the department of the doctor who rendered it. Clinic B has a few too, which clinic A's
accountant never sees.

Run inside the seed's write transaction, after the schedules (they make the departments and the
prices); a second run adds nothing (the paid services are the marker).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, insert, select

from portal.database import db
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import OrganisationService, Practitioner
from portal.record.models import ServiceRecord

PAID_DAYS = 120
PER_CLINIC = {"A": 160, "B": 40}
VMI_INSURERS = ("АО «СОГАЗ»", "СПАО «Ингосстрах»")
# Who renders each priced service (schedules.SERVICES): the doctor's specialty as the directory names it.
RENDERED_BY = {
    "B01.015.001": "кардиолог",
    "B01.065.001": "стоматолог",
    "A05.10.006": "кардиолог",
    "B03.016.003": "терапевт",
}


def _doctors(organisation_id: int) -> dict[str, Practitioner]:
    """The organisation's first doctor of each specialty; "" for its first doctor of any."""
    found: dict[str, Practitioner] = {}
    for doctor in db.session.scalars(
        select(Practitioner).where(Practitioner.organisation_id == organisation_id).order_by(Practitioner.id)
    ):
        found.setdefault(doctor.specialty, doctor)
        found.setdefault("", doctor)
    return found


def _rows(rng: random.Random, organisation_id: int, count: int, patients: list[int], today: date) -> list[dict]:
    prices = list(
        db.session.execute(
            select(OrganisationService.code, OrganisationService.name, OrganisationService.price_kopecks)
            .where(OrganisationService.organisation_id == organisation_id, OrganisationService.price_kopecks > 0)
            .order_by(OrganisationService.code)
        )
    )
    doctors = _doctors(organisation_id)
    rows = []
    for _ in range(count if prices and doctors else 0):
        code, name, price = rng.choice(prices)
        doctor = doctors.get(RENDERED_BY.get(code, ""), doctors[""])
        quantity = 2 if code == "A05.10.006" and rng.random() < 0.1 else 1
        vmi = rng.random() < 0.3
        rows.append(
            {
                "patient_id": rng.choice(patients),
                "provided_on": today - timedelta(days=rng.randrange(PAID_DAYS)),
                "code": code,
                "name": name,
                "quantity": quantity,
                "cost_kopecks": price * quantity,
                "paid_by": "vmi" if vmi else "paid",
                "insurer": rng.choice(VMI_INSURERS) if vmi else None,
                "organisation_id": organisation_id,
                "department_id": doctor.department_id,
                "practitioner_id": doctor.id,
            }
        )
    return rows


def seed_demo_paid_services(today: date, patients: list[int]) -> int:
    """The demo clinics' paid services, once; ``patients``: the generated patients who received them."""
    orgs = demo_organisations()
    ids = [orgs["A"].id, orgs["B"].id]
    paid = select(func.count()).where(ServiceRecord.organisation_id.in_(ids), ServiceRecord.paid_by != "oms")
    if not patients or db.session.scalar(paid):
        return 0
    rng = random.Random(f"demo-paid-services:{today.isoformat()}")
    rows = [row for key, count in PER_CLINIC.items() for row in _rows(rng, orgs[key].id, count, patients, today)]
    if rows:
        db.session.execute(insert(ServiceRecord), rows)
    return len(rows)
