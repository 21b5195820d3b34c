"""The ICD-10 autocomplete's server time: ``python -m bench.mkb10_search``.

The budget (issue 11): p95 ≤ 30 ms of server time for any 2–30 character query over the full list,
in Russian, with and without «ё». Measured here on a fresh database holding only the book: SQLite
in ``bench/data/mkb10.db``, and PostgreSQL too when ``PORTAL_BENCH_DATABASE_URL`` is set (a
database ``<name>_mkb10`` beside it, made anew each run).

The queries are what people type: phrases typed key by key (every prefix from 2 to 30
characters, as the combobox sends them), Russian with and without «ё», codes in Latin and Cyrillic
letters, and the two-letter beginnings that match the most titles. Server time is one request of
the combobox's endpoint (``GET /mkb10/search`` with HX-Request) through the whole WSGI app in this
process: routing, the session check, the one search statement, the options' template; not the
network nor gunicorn. The rate limiter is off (it would stop the run; in production its counter
costs a fraction of a millisecond). ``search()`` alone (the SQL) is timed too.

Each query is sent once to warm up, then ``--rounds`` times, the rounds in a new random order
each. Results: ``bench/results/<timestamp>-mkb10.json`` and ``.md``; the table goes into
docs/mkb10.md between its markers (``--no-doc`` leaves it). Exit 1 if a p95 is over the budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.run import DATA, RESULTS, ROOT, log, write_doc

DOC = ROOT / "docs" / "mkb10.md"
BUDGET_MS = 30.0
MAX_QUERY = 30
PHRASES = (
    "острый бронхит",
    "острая инфекция верхних дыхательных путей",
    "сахарный диабет 2 типа",
    "гипертензия эссенциальная",
    "неуточнённая пневмония",
    "пневмония неуточненная",
    "расщелина твёрдого нёба",
    "хроническая обструктивная болезнь лёгких",
    "желчнокаменная болезнь",
    "перелом шейки бедра",
    "вич инфекция",
    "грипп вирус не идентифицирован",
    "covid-19 вирус идентифицирован",
    "остеохондроз позвоночника",
    "злокачественное новообразование молочной железы",
    "беременность",
    "ушиб",
)
CODES = ("J06.9", "j069", "А00.0", "Е11.9", "Ш10", "i10", "M54.5", "S72.00", "z00.0", "O80", "C50-C50", "XXI")
SHORT = ("не", "по", "пр", "др", "бо", "ин", "ст", "хр", "ра", "J0", "A0", "Z0")


def queries() -> list[str]:
    """Every prefix of each phrase from 2 characters up to 30, as typed; the codes; the worst
    beginnings. Distinct, in that order."""
    typed = [phrase[:n] for phrase in PHRASES for n in range(2, min(len(phrase), MAX_QUERY) + 1)]
    typed = [q for q in typed if not q.endswith(" ")]  # a trailing space sends nothing new
    return list(dict.fromkeys(typed + [c[:n] for c in CODES for n in range(2, len(c) + 1)] + list(SHORT)))


def kind(query: str) -> str:
    from portal.mkb10.text import code_query

    return "code" if code_query(query) is not None else "words"


# -- the databases -----------------------------------------------------------------------------------


def sqlite_url() -> str:
    DATA.mkdir(exist_ok=True)
    for leftover in DATA.glob("mkb10.db*"):
        leftover.unlink()
    return f"sqlite:///{DATA / 'mkb10.db'}"


def postgresql_url(server_url: str) -> str:
    import sqlalchemy as sa

    source = sa.make_url(server_url)
    name = f"{source.database}_mkb10"
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return source.set(database=name).render_as_string(hide_password=False)


def make_app(url: str):
    from portal import create_app

    instance = DATA / "mkb10-instance"
    shutil.rmtree(instance, ignore_errors=True)
    secret = "bench-" + "x" * 58
    return create_app(
        {"DATABASE_URL": url, "SECRET_KEY": secret, "INSTANCE_PATH": str(instance), "RATELIMIT_ENABLED": False}
    )


def load_book(app) -> float:
    from flask_migrate import upgrade

    from portal.database import db
    from portal.mkb10 import importer

    with app.app_context():
        upgrade()
        started = time.perf_counter()
        importer.load()
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed


# -- the measurement -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
    }


def measure(app, asked: list[str], rounds: int) -> dict[str, dict[str, list[float]]]:
    """{query: {"server": [ms…], "search": [ms…], "cpu": [ms…]}}: the request's wall time, the
    search statement's, and the CPU time this process spent on the request (what the wall time
    would be on an idle machine, less the database server's own work on PostgreSQL)."""
    from portal.mkb10.search import search

    client = app.test_client()
    headers = {"HX-Request": "true", "Accept-Language": "ru"}
    timed: dict[str, dict[str, list[float]]] = {q: {"server": [], "search": [], "cpu": []} for q in asked}
    for query in asked:  # warm up: the first request of a process, the database's caches
        assert client.get("/mkb10/search", query_string={"field": "q", "q": query}, headers=headers).status_code == 200
    shuffle = random.Random(11)  # noqa: S311 - an order, not a secret
    for _ in range(rounds):
        order = asked[:]
        shuffle.shuffle(order)
        for query in order:
            started, cpu = time.perf_counter(), time.process_time()
            response = client.get("/mkb10/search", query_string={"field": "q", "q": query}, headers=headers)
            timed[query]["server"].append((time.perf_counter() - started) * 1000)
            timed[query]["cpu"].append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200, (query, response.status_code)
            with app.app_context():
                started = time.perf_counter()
                search(query)
                timed[query]["search"].append((time.perf_counter() - started) * 1000)
    return timed


def groups(timed: dict[str, dict[str, list[float]]]) -> dict[str, list[str]]:
    asked = list(timed)
    return {
        "all queries": asked,
        "codes": [q for q in asked if kind(q) == "code"],
        "words": [q for q in asked if kind(q) == "words"],
        "with «ё»": [q for q in asked if "ё" in q.lower()],
        "2 characters": [q for q in asked if len(q) == 2],
        "20–30 characters": [q for q in asked if len(q) >= 20],
    }


def report(engine: str, version: str, load_s: float, timed: dict) -> dict:
    rows = {}
    for name, members in groups(timed).items():
        rows[name] = {
            "queries": len(members),
            "server": summary([ms for q in members for ms in timed[q]["server"]]),
            "search": summary([ms for q in members for ms in timed[q]["search"]]),
            "cpu": summary([ms for q in members for ms in timed[q]["cpu"]]),
        }
    per_query = {q: percentile(t["server"], 95) for q, t in timed.items()}
    worst = max(per_query, key=per_query.get)
    return {
        "engine": engine,
        "version": version,
        "load_s": round(load_s, 2),
        "groups": rows,
        "worst_query": {"query": worst, "server_p95_ms": round(per_query[worst], 2)},
        "over_budget": sorted(q for q, p95 in per_query.items() if p95 > BUDGET_MS),
    }


def database_version(app, engine: str) -> str:
    if engine == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    import sqlalchemy as sa

    from portal.database import db

    with app.app_context():
        return "PostgreSQL " + db.session.execute(sa.text("SHOW server_version")).scalar()


def run_engine(engine: str, url: str, asked: list[str], rounds: int) -> dict:
    app = make_app(url)
    log(f"{engine}: loading the book")
    load_s = load_book(app)
    log(f"{engine}: {len(asked)} queries × {rounds} rounds")
    timed = measure(app, asked, rounds)
    result = report(engine, database_version(app, engine), load_s, timed)
    from portal.database import db

    with app.app_context():
        db.engine.dispose()
    return result


# -- the report --------------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Run {result['started']} on {m['cores']} cores ({m['cpu']}), Python {m['python']}; load average at "
        f"start {', '.join(map(str, m['load_average_at_start']))}. {result['queries']} queries × "
        f"{result['rounds']} rounds each, in random order; milliseconds of server time per request "
        f"(in brackets: the search statement alone). Budget: p95 ≤ {BUDGET_MS:.0f} ms.",
        "",
        "| database | queries | n | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        for name, row in run["groups"].items():
            s, q = row["server"], row["search"]
            lines.append(
                f"| {run['version']} | {name} ({row['queries']}) | {s['n']} | {s['p50_ms']} ({q['p50_ms']}) | "
                f"{s['p95_ms']} ({q['p95_ms']}) | {s['p99_ms']} ({q['p99_ms']}) | {s['max_ms']} ({q['max_ms']}) |"
            )
    lines.append("")
    for run in result["runs"]:
        worst, cpu = run["worst_query"], run["groups"]["all queries"]["cpu"]
        over = run["over_budget"]
        named = ", ".join(f"«{q}»" for q in over[:10]) + (f" and {len(over) - 10} more" if len(over) > 10 else "")
        over_text = f"{len(over)} of {result['queries']} ({named})" if over else "none"
        lines.append(
            f"- {run['version']}: the book loaded in {run['load_s']} s; the slowest query «{worst['query']}» "
            f"(p95 {worst['server_p95_ms']} ms); queries whose own p95 is over the budget: {over_text}. "
            f"This process's CPU time per request: p50 {cpu['p50_ms']} ms, p95 {cpu['p95_ms']} ms."
        )
    return "\n".join(lines) + "\n"


def machine() -> dict:
    cpu = "unknown"
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mkb10_search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per query (default 20)")
    parser.add_argument("--no-doc", action="store_true", help=f"do not write the table into {DOC.name}")
    args = parser.parse_args(argv)

    asked = queries()
    started = datetime.now(UTC)
    info = machine()
    engines = [("sqlite", sqlite_url())]
    if server := os.environ.get("PORTAL_BENCH_DATABASE_URL"):
        engines.append(("postgresql", postgresql_url(server)))
    runs = [run_engine(engine, url, asked, args.rounds) for engine, url in engines]
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    result = {
        "started": started.isoformat(timespec="seconds"),
        "machine": info,
        "queries": len(asked),
        "rounds": args.rounds,
        "budget_ms": BUDGET_MS,
        "query_list": asked,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"{stamp}-mkb10"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = markdown(result)
    (RESULTS / f"{name}.md").write_text(table, encoding="utf-8")
    print(table)
    if not args.no_doc:
        write_doc(table, f"{name}.json", DOC, command="python -m bench.mkb10_search")
    return 1 if any(run["over_budget"] for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
