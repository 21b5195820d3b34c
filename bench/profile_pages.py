"""In-process cost of the portal's pages: milliseconds and SQL statements per page, and a profile.

Builds the app on a fresh SQLite database with the demo data, signs in (through the test client's
cookie, with a server session as the sign-in flow makes one) as the demo patient, and requests
each page many times. No network and no compression: what one request costs inside the worker.

    .venv/bin/python bench/profile_pages.py                  # every page, 200 requests each
    .venv/bin/python bench/profile_pages.py -n 50 dashboard  # some pages
    .venv/bin/python bench/profile_pages.py --profile dashboard --top 40
    .venv/bin/python bench/profile_pages.py --sql dashboard  # print the statements of one request
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

SECRET = "profile-secret-key-that-is-long-enough-0123456789abcdef"  # noqa: S105 (a throwaway database)


def build(base: Path):
    from flask_migrate import upgrade

    from portal import create_app
    from portal.database import db
    from portal.demodata.seed import seed_demo

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{base / 'medkarta.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base / "instance"),
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.remove()
    return app


def pages(app) -> tuple[dict[str, str], int]:
    """The pages to time, by name, and the demo patient's account id."""
    from portal.audit.models import AuditEvent  # noqa: F401
    from portal.auth.models import Account
    from portal.database import db
    from portal.demodata.people import PEOPLE, email_of
    from portal.record.models import LabReport, Observation

    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.email == email_of(PEOPLE[0])))
        pid = account.patient_id
        report = db.session.scalar(
            sa.select(LabReport.id).where(LabReport.patient_id == pid).order_by(LabReport.taken_at.desc()).limit(1)
        )
        code = db.session.scalar(
            sa.select(Observation.loinc)
            .where(Observation.patient_id == pid, Observation.value.is_not(None))
            .group_by(Observation.loinc)
            .order_by(sa.func.count().desc())
            .limit(1)
        )
        account_id = account.id
    return {
        "home": "/",
        "directory": "/clinics",
        "dashboard": f"/card/{pid}",
        "results": f"/card/{pid}/results",
        "entry": f"/card/{pid}/results/{report}",
        "trend": f"/card/{pid}/results/trend/{code}",
        "access-log": f"/card/{pid}/access-log",
        "inbox": "/notifications",
        "home-anon": "/",  # *-anon: without signing in
        "directory-anon": "/clinics",
    }, account_id


BOOKING_PAGES = ("ticket", "book", "book_doctor", "book_date", "book_time")


def booking_pages(client, lang: str) -> dict[str, str]:
    """The appointment pages of bench/pages.py, found by their links as the benchmark finds them."""
    from bench.client import FlaskClient
    from bench.pages import resolve

    client.set_cookie("lang", lang)
    found = resolve(FlaskClient(client))
    return {name.replace("_", "-"): found[name] for name in BOOKING_PAGES}


def signed_in_client(app, account_id: int):
    from portal.auth import service
    from portal.auth.models import Account
    from portal.database import db, write_transaction

    client = app.test_client()
    with app.app_context(), write_transaction():
        token, _row = service.start_session(db.session.get(Account, account_id), "complete", "127.0.0.1", "profile")
    with client.session_transaction() as cookie:
        cookie["sid"] = token
    return client


class Statements:
    def __init__(self, app) -> None:
        from portal.database import db

        with app.app_context():
            self.engine = db.engine
        self.seen: list[str] = []
        sa.event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")):
            self.seen.append(statement)


BUCKETS = (
    ("sqlite (the database itself)", ("sqlite3",)),
    ("SQLAlchemy", ("sqlalchemy",)),
    ("templates (compiled Jinja)", (".html",)),
    ("Jinja runtime", ("jinja2", "markupsafe", "jinja2_fragments")),
    ("Flask-Babel / Babel", ("flask_babel", "babel/", "gettext")),
    (
        "Werkzeug / Flask",
        (
            "werkzeug",
            "flask/",
            "flask_wtf",
            "flask_login",
            "flask_htmx",
            "flask_limiter",
            "flask_compress",
            "itsdangerous",
            "flask_sqlalchemy",
        ),
    ),
    ("portal: access and audit", ("portal/access", "portal/audit", "portal/auth", "portal/consent")),
    ("portal: other", ("portal/",)),
)


def breakdown(profiler) -> str:
    """Own (not cumulative) time by component, as a share of the profiled time."""
    stats = pstats.Stats(profiler).stats
    totals: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in stats.items():
        where = filename if filename != "~" else function
        bucket = next((name for name, marks in BUCKETS if any(m in where for m in marks)), "other (stdlib, builtins)")
        totals[bucket] = totals.get(bucket, 0.0) + own
    whole = sum(totals.values()) or 1.0
    lines = [f"    {share / whole:6.1%}  {name}" for name, share in sorted(totals.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


def calls_per_request(client, url: str, n: int = 10) -> int:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        client.get(url)
    profiler.disable()
    return sum(row[1] for row in pstats.Stats(profiler).stats.values()) // n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", help="page names (default: all)")
    parser.add_argument("-n", type=int, default=200, help="requests per page (default 200)")
    parser.add_argument("--profile", action="store_true", help="cProfile the requests and print the top functions")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--sql", action="store_true", help="print the SQL statements of one request per page")
    parser.add_argument("--lang", default="ru")
    parser.add_argument("--dump", metavar="DIR", help="write each page's HTML to DIR/<page>.html")
    parser.add_argument("--breakdown", action="store_true", help="with --profile: own time by component")
    parser.add_argument("--callers", metavar="PATTERN", help="with --profile: who calls the functions matching PATTERN")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="medkarta-profile-") as tmp:
        os.environ.pop("PORTAL_DATABASE_URL", None)
        app = build(Path(tmp))
        urls, account_id = pages(app)
        signed_in = signed_in_client(app, account_id)
        urls.update(booking_pages(signed_in, args.lang))
        anonymous = app.test_client()
        for each in (signed_in, anonymous):
            each.set_cookie("lang", args.lang)
        statements = Statements(app)
        chosen = args.pages or list(urls)
        # CPU time of this process: on a shared machine it moves much less than the wall clock.
        # Python function calls per request (cProfile, 10 requests): the same from run to run.
        print(f"{'page':<14} {'CPU ms':>7} {'min':>6} {'p90':>6} {'wall ms':>7} {'calls':>6} {'SQL':>4} {'KB':>6}")
        for name in chosen:
            url = urls[name]
            client = anonymous if name.endswith("-anon") else signed_in
            for _ in range(5):  # warm: templates compiled, connection open
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            statements.seen.clear()
            body = client.get(url).get_data()
            if args.dump:
                Path(args.dump).mkdir(parents=True, exist_ok=True)
                (Path(args.dump) / f"{name}.html").write_bytes(body)
            sql = list(statements.seen)
            profiler = cProfile.Profile() if args.profile else None
            times, walls = [], []
            for _ in range(args.n):
                start, wall = time.process_time(), time.perf_counter()
                if profiler:
                    profiler.enable()
                client.get(url)
                if profiler:
                    profiler.disable()
                times.append((time.process_time() - start) * 1000)
                walls.append((time.perf_counter() - wall) * 1000)
            times.sort()
            p90 = times[int(len(times) * 0.9) - 1]
            median, wall, calls = statistics.median(times), statistics.median(walls), calls_per_request(client, url)
            ms = f"{median:7.2f} {times[0]:6.2f} {p90:6.2f} {wall:7.2f}"
            print(f"{name:<14} {ms} {calls:6d} {len(sql):4d} {len(body) / 1024:6.1f}")
            if args.sql:
                for statement in sql:
                    print("    " + " ".join(statement.split())[:200])
            if profiler and args.breakdown:
                print(breakdown(profiler))
            elif profiler:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats(args.sort)
                if args.callers:
                    stats.print_callers(args.callers)
                else:
                    stats.print_stats(args.top)
                print(out.getvalue())


if __name__ == "__main__":
    main()
