"""Issue 10's budget, the part a test can hold without timing anything: every booking step sends
the same number of SQL statements with few slots as with many — two doctors of a specialty and
one week of slots, then twenty and four weeks (the region builder of bench/slots.py, which
``make bench-slots`` times at 300 doctors and 40 organisations)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import sqlalchemy as sa

from bench.pages import recorded_statements
from bench.slots import build_region
from portal import clock
from portal.appointments.models import Slot
from portal.database import db, write_transaction
from portal.directory.models import Practitioner

SPECIALTY = "84"  # врач функциональной диагностики: no demo doctor of it takes bookings
SHARES = {SPECIALTY: 1}


def grow(app, practitioners: int, days: int) -> dict[str, int]:
    with app.app_context(), write_transaction():
        return build_region(clock.today(), organisations=6, practitioners=practitioners, days=days, shares=SHARES)


def step_paths(app, pid: int) -> dict[str, str]:
    """Every step of booking the specialty, for any doctor and for one: the first doctor, the
    first day from tomorrow with a free time (today may have only its evening left)."""
    with app.app_context():
        doctor, first = db.session.execute(
            sa.select(Slot.practitioner_id, Slot.starts_at)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                Practitioner.specialty_code == SPECIALTY,
                Slot.status == "free",
                Slot.starts_at >= clock.day_start(clock.today() + timedelta(days=1)),
            )
            .order_by(Slot.starts_at, Slot.id)
            .limit(1)
        ).one()
    day = clock.local_date(first.replace(tzinfo=first.tzinfo or UTC)).isoformat()
    book = f"/card/{pid}/appointments/book"
    return {
        "specialty": book,
        "doctor": f"{book}/doctor?specialty={SPECIALTY}",
        "doctor, narrowed (htmx)": f"{book}/doctor?specialty={SPECIALTY}&q=%D0%90",
        "date, any doctor": f"{book}/date?specialty={SPECIALTY}&doctor=any",
        "date, one doctor": f"{book}/date?specialty={SPECIALTY}&doctor={doctor}",
        "time, any doctor": f"{book}/time?specialty={SPECIALTY}&doctor=any&date={day}",
        "time, any doctor, morning (htmx)": f"{book}/time?specialty={SPECIALTY}&doctor=any&date={day}&part=morning",
        "time, one doctor": f"{book}/time?specialty={SPECIALTY}&doctor={doctor}&date={day}",
    }


def measure(app, client, paths: dict[str, str]) -> tuple[dict[str, int], dict[str, int]]:
    """(statements, links to the next step) per page, each page requested once before."""
    with app.app_context():
        engine = db.engine
    statements, links = {}, {}
    for name, path in paths.items():
        headers = {"HX-Request": "true"} if "htmx" in name else {}
        client.get(path, headers=headers)
        with recorded_statements(engine) as sent:
            answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (name, path, answer.status_code)
        statements[name] = len(sent)
        links[name] = len(re.findall(r'href="[^"]*/book/(?:date|time|confirm)\?', answer.get_data(as_text=True)))
    return statements, links


def test_each_step_sends_as_many_statements_for_2_doctors_and_a_week_as_for_20_and_four_weeks(app, demo, login):
    pid = demo["patient"].patient_id
    client = login(demo["patient"])
    few = grow(app, practitioners=2, days=7)
    assert few["practitioners_added"] == 2 and few["slots_made"] > 0
    paths = step_paths(app, pid)
    statements_few, links_few = measure(app, client, paths)

    many = grow(app, practitioners=20, days=28)
    assert many["practitioners_added"] == 18 and many["booked"] > 0
    statements_many, links_many = measure(app, client, paths)

    print("statements per step:", statements_few)
    assert statements_many == statements_few
    # the lists did grow: more doctors, days and times to choose from
    for name in ("doctor", "date, any doctor", "time, any doctor"):
        assert links_many[name] > links_few[name], (name, links_few[name], links_many[name])
    assert links_many["date, one doctor"] > links_few["date, one doctor"]


def test_the_date_step_counts_the_times_the_time_step_lists(app, demo, login):
    """For any doctor a time several doctors share is one time: each day's count on the date step
    is the number of times its time step lists (two ways to count them, SQLite's and PostgreSQL's)."""
    pid = demo["patient"].patient_id
    client = login(demo["patient"])
    grow(app, practitioners=6, days=7)
    book = f"/card/{pid}/appointments/book"
    dates = client.get(f"{book}/date?specialty={SPECIALTY}&doctor=any").get_data(as_text=True)
    days = re.findall(r'date=(\d{4}-\d\d-\d\d)"[^>]*>[^<]*</a>: (\d+)', dates)
    assert len(days) >= 3
    with app.app_context():
        slots_per_day = {}
        for (starts_at,) in db.session.execute(
            sa.select(Slot.starts_at)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(Practitioner.specialty_code == SPECIALTY, Slot.status == "free", Slot.starts_at > clock.now())
        ):
            day = clock.local_date(starts_at.replace(tzinfo=starts_at.tzinfo or UTC)).isoformat()
            slots_per_day[day] = slots_per_day.get(day, 0) + 1
    for day, count in days:
        times = client.get(f"{book}/time?specialty={SPECIALTY}&doctor=any&date={day}").get_data(as_text=True)
        assert len(re.findall(r'href="[^"]*/book/confirm\?slot=\d+"', times)) == int(count), day
    # six doctors share their hours: fewer times than slots on a day
    assert any(int(count) < slots_per_day[day] for day, count in days)
