"""The demo clinics' directory details and schedules: departments, more specialties, positions,
accessibility, opening hours, services with prices, working rules, four weeks of slots, and
bookings by other (synthetic) patients. The ENT doctors («оториноларинголог», booked directly)
have every slot taken, so the waiting list can be tried.

Run inside the seed's write transaction; a second run adds nothing (the rules are the marker).
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from sqlalchemy import func, insert, select, update

from portal import clock
from portal.appointments.models import Appointment, ScheduleRule, Slot
from portal.appointments.schedule import make_slots
from portal.database import db
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Department, OpeningHours, Organisation, OrganisationService, Practitioner
from portal.directory.specialties import code_for_name

DEMO_SLOT_DAYS = 28
FULLY_BOOKED = "39"  # оториноларинголог: no free slot in the demo
# Who works at the demo clinics besides the generated staff: (surname, name, patronymic, specialty).
EXTRA_STAFF = {
    "A": (
        ("Белова", "Марина", "Сергеевна", "стоматолог"),
        ("Егорова", "Татьяна", "Андреевна", "акушер-гинеколог"),
        ("Зайцев", "Олег", "Петрович", "кардиолог"),
        ("Комарова", "Ирина", "Юрьевна", "эндокринолог"),
    ),
    "B": (
        ("Григорьев", "Антон", "Ильич", "стоматолог"),
        ("Семёнова", "Ольга", "Викторовна", "офтальмолог"),
        ("Тарасов", "Михаил", "Андреевич", "оториноларинголог"),
        ("Алексеева", "Наталья", "Игоревна", "акушер-гинеколог"),
        ("Дмитриева", "Елена", "Олеговна", "эндокринолог"),
    ),
}
# Specialties that see patients by appointment in the demo (the others work by referral only).
SEEING = {"2", "21", "30", "34", "39", "40", "43", "62", "72", "86", "91"}
DEPARTMENTS = {
    "72": "Терапевтическое отделение",
    "34": "Терапевтическое отделение",
    "43": "Педиатрическое отделение",
    "62": "Стоматологическое отделение",
    "2": "Женская консультация",
}
OTHER_DEPARTMENT = "Консультативно-диагностическое отделение"
LOCATIONS = {
    "Терапевтическое отделение": "2 этаж",
    "Педиатрическое отделение": "1 этаж",
    "Стоматологическое отделение": "3 этаж",
    "Женская консультация": "корпус 2, 1 этаж",
    OTHER_DEPARTMENT: "3 этаж",
}
POSITIONS = {
    "72": "врач-терапевт участковый",
    "43": "врач-педиатр участковый",
    "34": "врач общей практики (семейный врач)",
    "62": "врач-стоматолог-терапевт",
}
ACCESSIBILITY = {
    "A": dict(
        step_free_entrance=True,
        lift=True,
        hearing_loop=True,
        accessible_toilet=True,
        disabled_parking=False,
        accessibility_note="Пандус и кнопка вызова персонала у главного входа; гардероб на 1 этаже.",
    ),
    "B": dict(
        step_free_entrance=True,
        lift=True,
        hearing_loop=False,
        accessible_toilet=True,
        disabled_parking=True,
        accessibility_note="Вход без ступеней со стороны приёмного отделения; 4 места для машин людей с инвалидностью.",
    ),
}
HOURS = {
    "A": {**{d: (time(8), time(20)) for d in range(1, 6)}, 6: (time(9), time(15))},
    "B": {**{d: (time(8), time(20)) for d in range(1, 6)}, 6: (time(9), time(18)), 7: (time(9), time(15))},
}
# (code in the nomenclature of medical services, name, free under ОМС, price in roubles or None)
SERVICES = (
    ("B01.047.001", "Приём (осмотр, консультация) врача-терапевта первичный", True, None),
    ("B01.031.001", "Приём (осмотр, консультация) врача-педиатра первичный", True, None),
    ("B01.028.001", "Приём (осмотр, консультация) врача-оториноларинголога первичный", True, None),
    ("B01.029.001", "Приём (осмотр, консультация) врача-офтальмолога первичный", True, None),
    ("B01.015.001", "Приём (осмотр, консультация) врача-кардиолога первичный", False, 2100),
    ("B01.065.001", "Приём (осмотр, консультация) врача-стоматолога-терапевта первичный", False, 1800),
    ("A05.10.006", "Регистрация электрокардиограммы", False, 900),
    ("B03.016.003", "Общий (клинический) анализ крови развёрнутый", False, 450),
)


def position_for(code: str | None, specialty: str) -> str:
    if code in POSITIONS:
        return POSITIONS[code]
    return specialty if specialty.startswith("врач") else f"врач-{specialty}"


def _directory_details(key: str, org: Organisation) -> None:
    for name, value in ACCESSIBILITY[key].items():
        setattr(org, name, value)
    db.session.add_all(
        OpeningHours(organisation_id=org.id, weekday=d, opens=a, closes=b) for d, (a, b) in HOURS[key].items()
    )
    db.session.add_all(
        OrganisationService(
            organisation_id=org.id, code=code, name=name, oms=oms, price_kopecks=None if price is None else price * 100
        )
        for code, name, oms, price in SERVICES
    )
    for n, (surname, name, patronymic, specialty) in enumerate(EXTRA_STAFF[key]):
        db.session.add(
            Practitioner(
                surname=surname,
                name=name,
                patronymic=patronymic,
                specialty=specialty,
                specialty_code=code_for_name(specialty),
                registration_number=f"77-90{ord(key)}{n:03d}",
                organisation_id=org.id,
            )
        )
    db.session.flush()
    staff = list(
        db.session.scalars(select(Practitioner).where(Practitioner.organisation_id == org.id).order_by(Practitioner.id))
    )
    departments: dict[str, Department] = {}
    for doctor in staff:
        title = DEPARTMENTS.get(doctor.specialty_code or "", OTHER_DEPARTMENT)
        if title not in departments:
            departments[title] = Department(organisation_id=org.id, name=title, location=LOCATIONS[title])
            db.session.add(departments[title])
            db.session.flush()
        doctor.department_id = departments[title].id
        doctor.position = position_for(doctor.specialty_code, doctor.specialty)


def _rules(org: Organisation, today: date) -> None:
    staff = db.session.execute(
        select(Practitioner.id, Practitioner.specialty_code, Practitioner.account_id)
        .where(Practitioner.organisation_id == org.id, Practitioner.specialty_code.in_(sorted(SEEING)))
        .order_by(Practitioner.id)
    ).all()
    start = today - timedelta(days=today.weekday())  # this week's Monday
    for n, (pid, code, account_id) in enumerate(staff):
        primary = code in ("72", "43", "34")
        morning = n % 2 == 0
        rule = dict(
            practitioner_id=pid,
            organisation_id=org.id,
            weekdays="12345",
            slot_minutes=15 if primary else 20,
            room="214" if account_id else f"{101 + n}",
            kind="in_person",
            valid_from=start,
        )
        hours = (time(8), time(14)) if morning else (time(14), time(20))
        db.session.add(ScheduleRule(start_time=hours[0], end_time=hours[1], **rule))
        if primary and code == "43" and n % 4 == 1:  # a paediatrician's home visits
            db.session.add(
                ScheduleRule(**{**rule, "weekdays": "24", "kind": "home", "slot_minutes": 30, "room": None},
                             start_time=time(10), end_time=time(13))
            )  # fmt: skip
        if account_id:  # the demo doctor also consults online on Saturday mornings
            db.session.add(
                ScheduleRule(**{**rule, "weekdays": "6", "kind": "online", "slot_minutes": 20, "room": None},
                             start_time=time(9), end_time=time(12))
            )  # fmt: skip


def _bookings(orgs: list[int], patients: list[int], today: date) -> int:
    """Other patients' bookings: about a third of the next two weeks' slots, and every ENT slot."""
    rng = random.Random(f"demo-bookings:{today.isoformat()}")
    two_weeks = clock.day_start(today + timedelta(days=14))
    rows = db.session.execute(
        select(Slot.id, Slot.practitioner_id, Slot.organisation_id, Slot.starts_at, Slot.room, Slot.kind,
               Practitioner.specialty_code, Practitioner.account_id)
        .join(Practitioner, Practitioner.id == Slot.practitioner_id)
        .where(Slot.organisation_id.in_(orgs), Slot.status == "free")
        .order_by(Slot.starts_at, Slot.id)
    ).all()  # fmt: skip
    chosen = [
        r
        for r in rows
        if r.specialty_code == FULLY_BOOKED
        or (r.account_id is None and r.starts_at < _naive_if_sqlite(two_weeks) and rng.random() < 0.33)
    ]
    if not chosen or not patients:
        return 0
    db.session.execute(
        insert(Appointment),
        [
            {
                "patient_id": patients[i % len(patients)],
                "organisation_id": r.organisation_id,
                "practitioner_id": r.practitioner_id,
                "slot_id": r.id,
                "specialty_code": r.specialty_code,
                "kind": r.kind,
                "starts_at": r.starts_at,
                "room": r.room,
                "status": "booked",
            }
            for i, r in enumerate(chosen)
        ],
    )
    db.session.execute(update(Slot).where(Slot.id.in_([r.id for r in chosen])).values(status="booked"))
    return len(chosen)


def _naive_if_sqlite(moment):
    """SQLite returns stored moments naive (UTC): compare like with like."""
    return moment.replace(tzinfo=None) if db.session.get_bind().dialect.name == "sqlite" else moment


def seed_demo_schedules(today: date, patients: list[int]) -> dict[str, int]:
    """Directory details, rules, four weeks of slots and other patients' bookings at the demo
    clinics, once. ``patients``: the synthetic patients who book."""
    orgs = demo_organisations()
    ids = [orgs["A"].id, orgs["B"].id]
    if db.session.scalar(select(func.count()).select_from(ScheduleRule).where(ScheduleRule.organisation_id.in_(ids))):
        return {"slots": 0, "bookings": 0}
    for key in ("A", "B"):
        _directory_details(key, orgs[key])
        _rules(orgs[key], today)
    db.session.flush()
    slots = make_slots(DEMO_SLOT_DAYS, today)
    return {"slots": slots, "bookings": _bookings(ids, patients, today)}
