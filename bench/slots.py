"""``make bench-slots``: server time of the free-slot search pages on a region of 40 organisations
with 300 practitioners and four weeks of slots (issue 10's budget: p95 ≤ 50 ms, and SQL
statements per page independent of the number of slots).

1. **The data set**, made once a day: the demo (its accounts, patients and the two demo clinics'
   schedules), ``--patients`` more synthetic patients, and a region (``--region``, Moscow by
   default) of ``--organisations`` medical organisations (the directory's own, and generated
   polyclinics for the rest) with ``--practitioners`` practitioners who take bookings, spread over
   the specialties a citizen books, each with a working rule (mornings or afternoons, Monday to
   Friday, some Saturdays, 15- or 20-minute slots), ``--days`` days of slots made by the schedule
   service, and a realistic share booked by other patients: the nearer the day, the fuller
   (75 % of the first week, 50 % of the second, 25 % of the third, 10 % after). SQLite under
   ``bench/data/``; PostgreSQL when ``PORTAL_BENCH_DATABASE_URL`` is set (the database
   ``<name>_slots``, cloned as a template into ``<name>_slots_run`` for every run, then VACUUM
   ANALYZE as autovacuum does after a bulk load: without the visibility map PostgreSQL reads the
   whole slot table rather than the search's index alone). Every run migrates its copy to the current schema first.
2. **The pages**, found by their links as a person finds them, signed in as the demo patient: the
   specialty step, and for each of ``--specialties`` the doctor step, the date step for «любой
   врач» and for one doctor, the time step for any doctor on the first and on the fullest day and
   for one doctor; the directory's doctor search (by specialty, by name, by place, its second page).
3. **Server time in-process**: the app on that database under the Flask test client (no network,
   no gunicorn, no compression: what the worker spends on the request), ``--rounds`` rounds (3)
   over every page of ``-n`` requests each (200), after three to warm up. For each page the round
   with the lowest p95 is shown, every round's p95 beside it: a busy spell of the shared machine
   hits some pages in one round, not in every round. p50/p95/p99 of the wall-clock time (the
   budget's measure); the CPU time's p50 and p95 (this process's: on SQLite all of the request's
   work, on PostgreSQL less the database server's share); the SQL statements of one request; the
   page's bytes, raw and as brotli sends them. On a shared machine the wall clock also counts
   waiting for a core: the load average at the start and at the end is in the table's first
   line, and the CPU time shows the work itself.
4. ``bench/results/<timestamp>-slots-<database>.json`` and ``.md``; the table is written into
   docs/appointments.md between the ``slots-bench:<database>`` markers (``--no-doc`` leaves it).
   The run fails (exit 1, after writing) when any page's p95 is over ``--budget-ms`` (50).

The builder (``build_region``) is also what tests/test_slot_statements.py uses, at small sizes.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import math
import os
import random
import re
import shutil
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import DATA, RESULTS, _flask, log, machine, refresh_statistics, write_doc  # noqa: E402

DOC = ROOT / "docs" / "appointments.md"
SEED = 2026
# The specialties a citizen books, with the share of the region's practitioners who practise each
# (district therapists and paediatricians the most, as in a city's polyclinics).
SPECIALTY_SHARES = {
    "72": 26, "43": 14, "34": 6, "62": 10, "2": 8, "40": 6, "39": 6, "86": 6, "30": 6, "21": 6, "91": 6,
}  # fmt: skip
PRIMARY = ("72", "43", "34")  # 15-minute slots; the rest 20
# The share of slots already booked by other patients, by week from today.
BOOKED_BY_WEEK = (0.75, 0.5, 0.25, 0.1)
BUDGET_MS = 50.0


# -- the region ------------------------------------------------------------------------------------


def _medical_organisations(region: str) -> list[int]:
    from sqlalchemy import select

    from portal.database import db
    from portal.directory.models import Organisation

    return list(
        db.session.scalars(
            select(Organisation.id)
            .where(Organisation.region_code == region, Organisation.kind.not_in(("pharmacy", "laboratory")))
            .order_by(Organisation.oid)
        )
    )


def _add_organisations(region: str, count: int, rng: random.Random) -> None:
    """Generated polyclinics of the region's city, numbered after the directory's own."""
    from sqlalchemy import func, insert, select

    from portal.database import db
    from portal.demodata.synthetic import _CITIES, FRMO_OID_PREFIX, _address, _phone
    from portal.directory.models import Organisation, organisation_search_text

    city_name, city = next((name, c) for name, c in _CITIES.items() if c.region_code == region)
    taken = set(db.session.scalars(select(Organisation.oid).where(Organisation.region_code == region)))
    start = db.session.scalar(select(func.count()).select_from(Organisation)) or 0
    rows, number = [], 500 + start
    while len(rows) < count:
        number += 1
        oid = f"{FRMO_OID_PREFIX}{region}.{20000 + number}"
        if oid in taken:
            continue
        name = f"ГБУЗ «Городская поликлиника № {number} (бенчмарк)»"
        address = _address(rng, city.streets)
        rows.append(
            {
                "oid": oid, "name": name, "kind": "polyclinic", "region_code": region, "city": city_name,
                "address": address, "phone": _phone(rng, city.area_code),
                "search_text": organisation_search_text(name, city_name, address),
                "step_free_entrance": rng.random() < 0.8, "lift": rng.random() < 0.7,
            }
        )  # fmt: skip
    db.session.execute(insert(Organisation), rows)


def _scheduled(organisations: list[int], specialties: list[str]) -> int:
    """Practitioners of these organisations and specialties who have a working rule."""
    from sqlalchemy import func, select

    from portal.appointments.models import ScheduleRule
    from portal.database import db
    from portal.directory.models import Practitioner

    return (
        db.session.scalar(
            select(func.count(func.distinct(ScheduleRule.practitioner_id)))
            .join(Practitioner, Practitioner.id == ScheduleRule.practitioner_id)
            .where(Practitioner.organisation_id.in_(organisations), Practitioner.specialty_code.in_(specialties))
        )
        or 0
    )


def _specialty_sequence(shares: dict[str, int], count: int, rng: random.Random) -> list[str]:
    """``count`` specialty codes in proportion to ``shares`` (each at least once), shuffled."""
    whole = sum(shares.values())
    codes = [code for code, share in shares.items() for _ in range(max(1, round(count * share / whole)))]
    while len(codes) < count:
        codes.append(rng.choices(list(shares), weights=list(shares.values()))[0])
    rng.shuffle(codes)
    return codes[:count]


def _add_practitioners(organisations: list[int], codes: list[str], rng: random.Random) -> list[int]:
    from sqlalchemy import insert, select

    from portal.database import db
    from portal.demodata.schedules import position_for
    from portal.demodata.synthetic import FEMALE_NAMES, MALE_NAMES, PATRONYMICS, SURNAMES, feminine_surname
    from portal.directory.models import Practitioner
    from portal.directory.specialties import by_code

    marker = f"B{rng.randrange(10**6):06d}"
    rows = []
    for n, code in enumerate(codes):
        male = rng.random() < 0.35
        surname, (masculine, feminine) = rng.choice(SURNAMES), rng.choice(PATRONYMICS)
        specialty = by_code()[code].doctor
        rows.append(
            {
                "surname": surname if male else feminine_surname(surname),
                "name": rng.choice(MALE_NAMES if male else FEMALE_NAMES),
                "patronymic": masculine if male else feminine,
                "specialty": specialty, "specialty_code": code, "position": position_for(code, specialty),
                "registration_number": f"{marker}-{n:04d}", "organisation_id": rng.choice(organisations),
            }
        )  # fmt: skip
    db.session.execute(insert(Practitioner), rows)
    return list(
        db.session.scalars(
            select(Practitioner.id)
            .where(Practitioner.registration_number.like(f"{marker}-%"))
            .order_by(Practitioner.id)
        )
    )


def _add_rules(practitioners: list[int], today: date, rng: random.Random) -> None:
    from datetime import time as clock_time

    from sqlalchemy import insert, select

    from portal.appointments.models import ScheduleRule
    from portal.database import db
    from portal.directory.models import Practitioner

    monday = today - timedelta(days=today.weekday())
    rows = []
    staff = db.session.execute(
        select(Practitioner.id, Practitioner.organisation_id, Practitioner.specialty_code).where(
            Practitioner.id.in_(practitioners)
        )
    )
    for n, (pid, org, code) in enumerate(staff):
        hours = (clock_time(8), clock_time(14)) if n % 2 == 0 else (clock_time(14), clock_time(20))
        rule = {
            "practitioner_id": pid, "organisation_id": org, "weekdays": "12345", "week_parity": None,
            "start_time": hours[0], "end_time": hours[1], "slot_minutes": 15 if code in PRIMARY else 20,
            "room": str(100 + rng.randrange(400)), "kind": "in_person", "valid_from": monday, "valid_until": None,
        }  # fmt: skip
        rows.append(rule)
        if rng.random() < 0.2:  # a Saturday morning every other week
            rows.append({**rule, "weekdays": "6", "week_parity": "even", "start_time": clock_time(9),
                         "end_time": clock_time(13)})  # fmt: skip
    db.session.execute(insert(ScheduleRule), rows)


def _book(practitioners: list[int], patients: list[int], today: date, rng: random.Random) -> int:
    """Book BOOKED_BY_WEEK of these practitioners' free slots for other patients."""
    from sqlalchemy import insert, select, update

    from portal import clock
    from portal.appointments.models import Appointment, Slot
    from portal.database import db
    from portal.directory.models import Practitioner

    rows = db.session.execute(
        select(Slot.id, Slot.practitioner_id, Slot.organisation_id, Slot.starts_at, Slot.room, Slot.kind,
               Practitioner.specialty_code)
        .join(Practitioner, Practitioner.id == Slot.practitioner_id)
        .where(Slot.practitioner_id.in_(practitioners), Slot.status == "free")
        .order_by(Slot.id)
    ).all()  # fmt: skip
    chosen = []
    for row in rows:
        week = min((clock.local_date(row.starts_at) - today).days // 7, len(BOOKED_BY_WEEK) - 1)
        if rng.random() < BOOKED_BY_WEEK[max(week, 0)]:
            chosen.append(row)
    for start in range(0, len(chosen), 5000):
        part = chosen[start : start + 5000]
        db.session.execute(
            insert(Appointment),
            [
                {"patient_id": rng.choice(patients), "organisation_id": r.organisation_id,
                 "practitioner_id": r.practitioner_id, "slot_id": r.id, "specialty_code": r.specialty_code,
                 "kind": r.kind, "starts_at": r.starts_at, "room": r.room, "status": "booked"}
                for r in part
            ],
        )  # fmt: skip
        for at in range(0, len(part), 900):  # old SQLite builds: at most 999 parameters a statement
            ids = [r.id for r in part[at : at + 900]]
            db.session.execute(update(Slot).where(Slot.id.in_(ids)).values(status="booked"))
    return len(chosen)


def build_region(
    today: date,
    organisations: int = 40,
    practitioners: int = 300,
    days: int = 28,
    shares: dict[str, int] | None = None,
    region: str = "77",
    seed: int = SEED,
) -> dict[str, int]:
    """Make the region inside the caller's write transaction: ``organisations`` medical
    organisations, ``practitioners`` of the ``shares``' specialties with working rules there (the
    ones already scheduled count), ``days`` of slots from ``today`` and the new practitioners'
    slots booked by the week's share. Calling it again with larger numbers adds the difference."""
    from sqlalchemy import select

    from portal.appointments.schedule import make_slots
    from portal.database import db
    from portal.record.models import Patient

    shares = shares or SPECIALTY_SHARES
    rng = random.Random(f"{seed}:{today.isoformat()}:{organisations}:{practitioners}:{days}:{sorted(shares)}")
    orgs = _medical_organisations(region)
    if len(orgs) < organisations:
        _add_organisations(region, organisations - len(orgs), rng)
    orgs = _medical_organisations(region)[:organisations]
    missing = practitioners - _scheduled(orgs, list(shares))
    added = _add_practitioners(orgs, _specialty_sequence(shares, missing, rng), rng) if missing > 0 else []
    if added:
        _add_rules(added, today, rng)
    db.session.flush()
    slots = make_slots(days, today)
    patients = list(db.session.scalars(select(Patient.id).order_by(Patient.id).limit(5000)))
    booked = _book(added, patients, today, rng) if added else 0
    return {"organisations": len(orgs), "practitioners_added": len(added), "slots_made": slots, "booked": booked}


def region_counts(region: str = "77") -> dict[str, int]:
    """What the region holds: organisations, practitioners with rules, rules, slots by status."""
    from sqlalchemy import func, select

    from portal import clock
    from portal.appointments.models import ScheduleRule, Slot
    from portal.database import db

    orgs = _medical_organisations(region)
    by_status = dict(
        db.session.execute(
            select(Slot.status, func.count())
            .where(Slot.organisation_id.in_(orgs), Slot.starts_at > clock.now())
            .group_by(Slot.status)
        ).all()
    )
    rules = db.session.scalar(
        select(func.count()).select_from(ScheduleRule).where(ScheduleRule.organisation_id.in_(orgs))
    )
    return {
        "organisations": len(orgs),
        "practitioners_scheduled": _scheduled(orgs, list(SPECIALTY_SHARES)),
        "rules": rules or 0,
        "slots_ahead": sum(by_status.values()),
        **{f"slots_{status}": n for status, n in sorted(by_status.items())},
    }


# -- the data set ----------------------------------------------------------------------------------


def _settings_key(args) -> str:
    return f"o{args.organisations}-p{args.practitioners}-d{args.days}-n{args.patients}-{date.today().isoformat()}"


def _fill(url: str, args) -> dict:
    """The demo, more patients and the region, in a migrated database at ``url``."""
    env = {**os.environ, "PORTAL_DATABASE_URL": url}
    started = time.perf_counter()
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo")
    from portal import clock, create_app
    from portal.database import db, write_transaction
    from portal.demodata.synthetic import load

    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        with write_transaction() as session:
            load(session, args.patients)
        with write_transaction():
            made = build_region(clock.today(), args.organisations, args.practitioners, args.days)
        db.engine.dispose()
    log(f"data set made in {time.perf_counter() - started:.0f} s: {made}")
    return made


def prepare_database(args) -> tuple[str, str]:
    """A fresh copy of today's data set: (SQLAlchemy URL, engine name)."""
    import sqlalchemy as sa

    DATA.mkdir(exist_ok=True)
    key = _settings_key(args)
    pg_url = os.environ.get("PORTAL_BENCH_DATABASE_URL")
    if pg_url:
        base = sa.make_url(pg_url)
        source, run_name = f"{base.database}_slots", f"{base.database}_slots_run"
        marker = DATA / f"slots-postgresql-{source}.key"
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        if not marker.exists() or marker.read_text() != key:
            log(f"generating the data set in {source} ({key})")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{run_name}" WITH (FORCE)'))
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{source}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{source}"'))
            _fill(base.set(database=source).render_as_string(hide_password=False), args)
            marker.write_text(key)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{run_name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{run_name}" TEMPLATE "{source}"'))
        admin.dispose()
        run_url = base.set(database=run_name).render_as_string(hide_password=False)
        _flask({**os.environ, "PORTAL_DATABASE_URL": run_url}, "db", "upgrade")
        refresh_statistics(run_url, vacuum=True)
        return run_url, "postgresql"
    pristine = DATA / f"slots-{key}.db"
    if not pristine.exists():
        for old in DATA.glob("slots-o*.db*"):
            old.unlink()
        log(f"generating the data set {pristine.relative_to(ROOT)}")
        making = pristine.with_suffix(".making")
        for leftover in DATA.glob(making.name + "*"):
            leftover.unlink()
        _fill(f"sqlite:///{making}", args)
        making.rename(pristine)
    run = DATA / "slots-run.db"
    for leftover in DATA.glob("slots-run.db*"):
        leftover.unlink()
    shutil.copyfile(pristine, run)
    _flask({**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{run}"}, "db", "upgrade")
    return f"sqlite:///{run}", "sqlite"


# -- the pages -------------------------------------------------------------------------------------


def _links(text: str, pattern: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'href="(' + pattern + r')"', text)]


def _fullest_day(text: str) -> str | None:
    """The date step's day with the most free times."""
    found = re.findall(r'href="[^"]*date=(\d{4}-\d\d-\d\d)[^"]*">[^<]*</a>\s*:?\s*\D*?(\d+)', text)
    return max(found, key=lambda pair: int(pair[1]))[0] if found else None


def find_pages(client, specialties: list[str]) -> dict[str, tuple[str, str]]:
    """``{name: (label, path)}`` of the pages to time, found by their links."""
    from portal.directory.specialties import by_code

    dashboard = _links(client.get("/cards").text, r"/card/\d+")[0]
    book = f"{dashboard}/appointments/book"
    pages = {"book": ("booking: specialty", book)}
    for code in specialties:
        name = by_code()[code].doctor
        doctor_page = client.get(f"{book}/doctor?specialty={code}")
        pages[f"doctor:{code}"] = (f"booking: doctor, {name}", f"{book}/doctor?specialty={code}")
        any_dates = f"{book}/date?specialty={code}&doctor=any"
        pages[f"date-any:{code}"] = (f"booking: date, {name}, any doctor", any_dates)
        one_dates = [p for p in _links(doctor_page.text, r"[^\"]*/book/date\?[^\"]+") if "doctor=any" not in p]
        if one_dates:
            pages[f"date-one:{code}"] = (f"booking: date, {name}, one doctor", one_dates[0])
        dates_text = client.get(any_dates).text
        times = _links(dates_text, r"[^\"]*/book/time\?[^\"]+")
        if times:
            pages[f"time-any-first:{code}"] = (f"booking: time, {name}, any doctor, first day", times[0])
            fullest = _fullest_day(dates_text)
            if fullest:
                path = f"{book}/time?specialty={code}&doctor=any&date={fullest}"
                pages[f"time-any-full:{code}"] = (f"booking: time, {name}, any doctor, fullest day", path)
        if one_dates:
            one_times = _links(client.get(one_dates[0]).text, r"[^\"]*/book/time\?[^\"]+")
            if one_times:
                pages[f"time-one:{code}"] = (f"booking: time, {name}, one doctor", one_times[0])
    for code in specialties[:2]:
        pages[f"directory:{code}"] = (f"directory: doctors, {by_code()[code].doctor}", f"/doctors?specialty={code}")
    pages["directory:name"] = ("directory: doctors by name «Иван»", "/doctors?q=%D0%98%D0%B2%D0%B0%D0%BD")
    pages["directory:place"] = (
        "directory: doctors, терапевт, by place «Москва»",
        f"/doctors?specialty={specialties[0]}&place=%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0",
    )
    following = _links(client.get(f"/doctors?specialty={specialties[0]}").text, r"/doctors\?[^\"]*after=[^\"]+")
    if following:
        pages["directory:page2"] = ("directory: doctors, second page", following[0])
    return pages


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def describe_page(app, client, path: str) -> dict:
    """The SQL statements of one request of ``path`` (after three to warm up) and its bytes."""
    import brotli

    from bench.pages import recorded_statements
    from portal.database import db

    with app.app_context():
        engine = db.engine
    for _ in range(3):
        answer = client.client.get(path)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code}")
    with recorded_statements(engine) as statements:
        body = client.client.get(path).get_data()
    return {
        "sql": len(statements),
        "bytes": len(body),
        # As the portal sends it (COMPRESS_BR_LEVEL, COMPRESS_BR_WINDOW): DESIGN.md's budget for
        # a later page is 12 KiB of compressed HTML.
        "bytes_br": len(brotli.compress(body, quality=5, lgwin=16)),
    }


class DatabaseCpu:
    """The CPU time PostgreSQL's server processes spent on this app's connections, read from
    /proc/<pid>/schedstat (nanoseconds on a core; up to date once the process sleeps, as a backend
    does between a request's statements). SQLite works inside this process: nothing to add."""

    def __init__(self, app) -> None:
        import sqlalchemy as sa

        from portal.database import db

        self.pids: set[int] = set()
        with app.app_context():
            engine = db.engine
        if engine.dialect.name != "postgresql":
            return

        def remember(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            self.pids.add(cursor.fetchone()[0])
            cursor.close()
            dbapi_connection.rollback()

        sa.event.listen(engine, "connect", remember)
        engine.dispose()  # the connections made from now on are remembered

    def ns(self) -> int:
        total = 0
        for pid in self.pids:
            with contextlib.suppress(OSError, ValueError, IndexError):  # not Linux, or the backend is gone
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        return total


def time_page(client, path: str, n: int, database: DatabaseCpu) -> dict:
    """Milliseconds of ``n`` requests of ``path``: percentiles of the wall clock, of this process's
    CPU time, and of the CPU time of the request's work on the database server too."""
    walls, cpus, servers = [], [], []
    for _ in range(n):
        wall, cpu, db_ns = time.perf_counter(), time.process_time(), database.ns()
        client.client.get(path)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
        servers.append(cpus[-1] + (database.ns() - db_ns) / 1e6)
    return {
        "n": n,
        **{f"p{p}_ms": round(_percentile(walls, p), 2) for p in (50, 95, 99)},
        "max_ms": round(max(walls), 2),
        "cpu_p50_ms": round(statistics.median(cpus), 2),
        "cpu_p95_ms": round(_percentile(cpus, 95), 2),
        "work_p50_ms": round(statistics.median(servers), 2),
        "work_p95_ms": round(_percentile(servers, 95), 2),
    }


def quietest(rounds: list[dict]) -> dict:
    """The round with the lowest wall-clock p95, and every round's p95 beside it."""
    best = min(rounds, key=lambda r: r["p95_ms"])
    return {**best, "p95_per_round": [r["p95_ms"] for r in rounds]}


# -- the report ------------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    m, s, d = result["machine"], result["settings"], result["data"]
    db_version = f"SQLite {m['sqlite']}" if "sqlite" in m else f"PostgreSQL {m['postgresql']}"
    lines = [
        f"Run {result['started']} on {m['cores']} cores ({m['cpu']}), Python {m['python']}, {db_version}; "
        f"load average at start {', '.join(map(str, m['load_average_at_start']))}, at the end "
        f"{', '.join(map(str, result.get('load_average_at_end', [])))}. In-process (the Flask "
        f"test client, no network, no gunicorn, no compression), {s.get('rounds', 1)} rounds of {s['n']} requests "
        f"per page after 3 to warm up, the round with the lowest p95 shown (every round's p95 in the last "
        f"column). Data set: {d['organisations']} organisations, {d['practitioners_scheduled']} practitioners "
        f"with {d['rules']} rules, {d['slots_ahead']:,} slots ahead ({d.get('slots_free', 0):,} free, "
        f"{d.get('slots_booked', 0):,} booked) over {s['days']} days, {s['patients']} generated patients "
        f"plus the demo. Budget: p95 ≤ {s['budget_ms']:g} ms.",
        "",
        "| page | SQL | KB | KB br | p50 ms | p95 ms | p99 ms | max ms | CPU p50 ms | CPU p95 ms "
        "| work p50 ms | work p95 ms | p95 per round |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for page in result["pages"].values():
        over = " **over**" if page["p95_ms"] > s["budget_ms"] else ""
        lines.append(
            f"| {page['label']} | {page['sql']} | {page['bytes'] / 1024:.1f} | {page['bytes_br'] / 1024:.1f} | "
            f"{page['p50_ms']} | "
            f"{page['p95_ms']}{over} | {page['p99_ms']} | {page['max_ms']} | {page['cpu_p50_ms']} | "
            f"{page.get('cpu_p95_ms', '—')} | {page.get('work_p50_ms', '—')} | {page.get('work_p95_ms', '—')} | "
            f"{', '.join(map(str, page.get('p95_per_round', [])))} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--organisations", type=int, default=40, help="medical organisations in the region (40)")
    parser.add_argument("--practitioners", type=int, default=300, help="practitioners taking bookings (300)")
    parser.add_argument("--days", type=int, default=28, help="days of slots from today (28)")
    parser.add_argument("--patients", type=int, default=2000, help="generated patients who book (2000)")
    parser.add_argument("--specialties", default="72,62,40,43", help="specialty codes whose steps are timed")
    parser.add_argument("-n", type=int, default=200, help="requests per page and round (200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every page; the quietest is shown (3)")
    parser.add_argument("--budget-ms", type=float, default=BUDGET_MS, help="p95 budget per page (50)")
    parser.add_argument("--no-doc", action="store_true", help="do not write the table into docs/appointments.md")
    args = parser.parse_args(argv)
    specialties = args.specialties.split(",")

    started = datetime.now(UTC)
    database_url, engine = prepare_database(args)
    info = machine(engine, database_url)
    from bench.client import FlaskClient, sign_in_demo_patient
    from portal import create_app
    from portal.database import db

    app = create_app({"DATABASE_URL": database_url, "DEMO_MODE": True, "LOG_LEVEL": "WARNING",
                      "RATELIMIT_ENABLED": False})  # fmt: skip
    with app.app_context():
        data = region_counts()
    client = FlaskClient(app.test_client())
    sign_in_demo_patient(client)
    pages = find_pages(client, specialties)
    log(f"{len(pages)} pages; data: {data}")
    result = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": info,
        "settings": {"n": args.n, "rounds": args.rounds, "days": args.days, "patients": args.patients,
                     "budget_ms": args.budget_ms, "server": "in-process, Flask test client",
                     "specialties": specialties},
        "data": data,
        "pages": {},
    }  # fmt: skip
    described = {name: describe_page(app, client, path) for name, (_label, path) in pages.items()}
    database = DatabaseCpu(app)
    rounds: dict[str, list[dict]] = {name: [] for name in pages}
    for number in range(args.rounds):  # every page in each round: a busy spell hits several pages once
        for name, (label, path) in pages.items():
            rounds[name].append(time_page(client, path, args.n, database))
            log(
                f"round {number + 1}, {label}: p50 {rounds[name][-1]['p50_ms']} ms, p95 {rounds[name][-1]['p95_ms']} ms"
            )
    for name, (label, path) in pages.items():
        result["pages"][name] = {"label": label, "path": path, **described[name], **quietest(rounds[name]),
                                 "rounds": rounds[name]}  # fmt: skip
    with app.app_context():
        db.engine.dispose()
    result["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    RESULTS.mkdir(exist_ok=True)
    json_path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}-slots-{engine}.json"
    json_path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    table = markdown(result)
    json_path.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    if not args.no_doc:
        marks = (f"<!-- slots-bench:{engine}:begin -->", f"<!-- slots-bench:{engine}:end -->")
        write_doc(table, json_path.name, DOC, marks, "make bench-slots")
        log(f"table written into {DOC.relative_to(ROOT)}")
    over = {name: page["p95_ms"] for name, page in result["pages"].items() if page["p95_ms"] > args.budget_ms}
    if over:
        log(f"OVER BUDGET (p95 > {args.budget_ms:g} ms): {over}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
