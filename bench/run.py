"""``make bench``: the portal's pages against a reference Flask page, measured from outside.

1. A generated data set: SQLite under ``bench/data/`` (the demo plus ``--patients`` patients with
   years of history), made once and copied fresh for every run; on PostgreSQL when
   ``PORTAL_BENCH_DATABASE_URL`` is set (that database is filled once and cloned, as a template,
   into ``<name>_run`` for every run). A fresh copy matters: every card read adds an audit event.
2. The portal as ``make run`` starts it (gunicorn -c python:portal.gunicorn_conf, 2 sync workers,
   demo mode) and the reference app (bench/reference_app.py) under the same gunicorn settings.
3. The demo patient signs in through demo mode over HTTP; the pages of bench/pages.py are found
   by their links.
4. For each page and concurrency: rounds of wrk on the reference, then on the page, alternately.
5. SQL statements per page are counted in-process (the test client, signed in the same way);
   bytes raw and brotli are read over HTTP.
6. ``bench/results/<timestamp>.json`` and ``.md``; the table is printed and written into
   docs/performance.md between its ``bench:begin``/``bench:end`` markers.

Any response that is not 2xx fails the run (after the results are written). The rate limiter
stays on, as in ``make run``, with its own fresh counter file per run; none of the measured pages
has a limit, and signing in takes two limited requests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / "data"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "performance.md"
BIN = Path(sys.executable).parent
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# What a browser sends; the portal compresses its pages (brotli), the reference does not.
ACCEPT_ENCODING = "gzip, deflate, br"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- the data set ----------------------------------------------------------------------------------


def _flask(env: dict, *args: str) -> None:
    command = [str(BIN / "flask"), "--app", "portal", *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603 - our venv's flask
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stderr}")


def _fill(url: str, patients: int) -> None:
    env = {**os.environ, "PORTAL_DATABASE_URL": url}
    started = time.perf_counter()
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo")
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.generate", "--patients", str(patients), "--history"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    log(f"data set made in {time.perf_counter() - started:.0f} s")


def prepare_database(patients: int) -> tuple[str, str]:
    """A fresh copy of the generated data set: (SQLAlchemy URL, engine name)."""
    pg_url = os.environ.get("PORTAL_BENCH_DATABASE_URL")
    if pg_url:
        import sqlalchemy as sa

        source = sa.make_url(pg_url)
        admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            known = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": source.database})
            if known.scalar() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{source.database}"'))
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            filled = conn.execute(sa.text("SELECT to_regclass('public.alembic_version') IS NOT NULL")).scalar()
        engine.dispose()
        if not filled:
            log(f"generating the data set in {source.database} ({patients} patients with history)")
            _fill(pg_url, patients)
        run_name = f"{source.database}_run"
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{run_name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{run_name}" TEMPLATE "{source.database}"'))
        admin.dispose()
        run_url = source.set(database=run_name).render_as_string(hide_password=False)
        _flask({**os.environ, "PORTAL_DATABASE_URL": run_url}, "db", "upgrade")  # migrations newer than the data set
        refresh_statistics(run_url)
        return run_url, "postgresql"
    DATA.mkdir(exist_ok=True)
    pristine = DATA / f"sqlite-{patients}.db"
    if not pristine.exists():
        log(f"generating the data set {pristine.relative_to(ROOT)} ({patients} patients with history)")
        making = pristine.with_suffix(".making")
        for leftover in DATA.glob(making.name + "*"):
            leftover.unlink()
        _fill(f"sqlite:///{making}", patients)
        making.rename(pristine)
    run = DATA / "run.db"
    for leftover in DATA.glob("run.db*"):
        leftover.unlink()
    shutil.copyfile(pristine, run)
    _flask({**os.environ, "PORTAL_DATABASE_URL": f"sqlite:///{run}"}, "db", "upgrade")  # migrations newer than it
    return f"sqlite:///{run}", "sqlite"


def refresh_statistics(database_url: str, vacuum: bool = False) -> None:
    """ANALYZE (``vacuum``: VACUUM ANALYZE), as PostgreSQL's autovacuum does in production. The
    bench's own reads grow the audit log by tens of thousands of rows; where autovacuum is off (as
    on test servers), plans made with statistics from before would sort a card's whole audit log
    for a page of its access log. A table just loaded in bulk (bench/slots.py's slots) also needs
    its visibility map, which only VACUUM writes, before the planner reads its indexes alone."""
    if not database_url.startswith("postgresql"):
        return
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE" if vacuum else "ANALYZE"))
    engine.dispose()


# -- the servers -----------------------------------------------------------------------------------


def start_server(name: str, wsgi: str, port: int, env: dict, workers: int) -> subprocess.Popen:
    errors = (DATA / f"{name}.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our venv's gunicorn
        [str(BIN / "gunicorn"), "-c", "python:portal.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), wsgi],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
    )  # fmt: skip
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {name} server stopped at start-up; see {errors.name}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"the {name} server did not answer on port {port}; see {errors.name}")


def start_worker(env: dict) -> subprocess.Popen:
    """The background worker beside the portal, as `make run` starts it (PDF jobs, the audit sealer)."""
    DATA.mkdir(parents=True, exist_ok=True)
    errors = (DATA / "worker.log").open("w")
    return subprocess.Popen(  # noqa: S603 - our venv's flask
        [str(BIN / "flask"), "--app", "portal", "worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors
    )


def stop(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# -- measuring -------------------------------------------------------------------------------------


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str]) -> dict:
    command = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(BENCH / "report.lua")]  # fmt: skip
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout  # noqa: S603
    match = re.search(r"^BENCH (\{.*\})$", out, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk printed no result for {url}:\n{out}")
    result = json.loads(match.group(1))
    result["req_s"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def summarise(rounds: list[dict]) -> dict:
    """One concurrency level of one page: totals over the rounds, latency as the rounds' median."""

    def rate(side: str) -> float:
        return sum(r[side]["requests"] for r in rounds) / (sum(r[side]["duration_us"] for r in rounds) / 1e6)

    page, ref = rate("page"), rate("ref")
    return {
        "req_s": round(page, 1),
        "ref_req_s": round(ref, 1),
        "ratio": round(page / ref, 3),
        "ratio_per_round": [round(r["page"]["req_s"] / r["ref"]["req_s"], 3) for r in rounds],
        **{
            f"{p}_ms": round(statistics.median(r["page"][f"{p}_us"] for r in rounds) / 1000, 1)
            for p in ("p50", "p95", "p99")
        },
        "ref_p50_ms": round(statistics.median(r["ref"]["p50_us"] for r in rounds) / 1000, 1),
        "non2xx": sum(r["page"]["non2xx"] for r in rounds),
        "ref_non2xx": sum(r["ref"]["non2xx"] for r in rounds),
        "socket_errors": sum(r["page"]["socket_errors"] + r["page"]["timeouts"] for r in rounds),
        "rounds": rounds,
    }


def count_sql(database_url: str, paths: dict[str, str]) -> dict[str, int]:
    from bench.client import FlaskClient, sign_in_demo_patient
    from bench.pages import count_statements
    from portal import create_app

    app = create_app({"DATABASE_URL": database_url, "DEMO_MODE": True, "LOG_LEVEL": "WARNING"})
    client = FlaskClient(app.test_client())
    sign_in_demo_patient(client)
    counts = count_statements(app, client, paths)
    with app.app_context():
        from portal.database import db

        db.engine.dispose()
    return counts


def machine(engine: str, database_url: str) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    import gunicorn

    info = {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "gunicorn": gunicorn.__version__,
        "database": engine,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if shutil.which("wrk"):  # bench/slots.py measures in-process, without wrk
        wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout  # noqa: S603, S607
        info["wrk"] = wrk_version.split(" Copyright")[0].strip()
    if engine == "sqlite":
        info["sqlite"] = sqlite3.sqlite_version
    else:
        import sqlalchemy as sa

        pg = sa.create_engine(database_url)
        with pg.connect() as conn:
            info["postgresql"] = conn.execute(sa.text("SHOW server_version")).scalar()
        pg.dispose()
    return info


# -- the report ------------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    from bench.pages import BY_NAME

    m = result["machine"]
    db_version = f"SQLite {m['sqlite']}" if "sqlite" in m else f"PostgreSQL {m['postgresql']}"
    levels = result["settings"]["concurrency"]
    lines = [
        f"Run {result['started']} on {m['cores']} cores ({m['cpu']}), Python {m['python']}, {db_version}, "
        f"gunicorn {m['gunicorn']} (2 sync workers), {m['wrk']}; load average at start "
        f"{', '.join(map(str, m['load_average_at_start']))}. Data set: {result['settings']['patients']} "
        f"generated patients with history plus the demo; {result['settings']['rounds']} rounds of "
        f"{result['settings']['duration']} s per side, page and reference alternately.",
        "",
        "| page | path | SQL statements (budget) | bytes raw | bytes br | "
        + " | ".join(f"vs reference, c={c}" for c in levels)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(levels),
    ]
    for name, page in result["pages"].items():
        ratios = " | ".join(f"{page['load'][str(c)]['ratio']:.3f}" for c in levels)
        lines.append(
            f"| {BY_NAME[name].label} | `{page['path']}` | {page['sql']} ({BY_NAME[name].budget}) | "
            f"{page['bytes_raw']:,} | {page['bytes_br']:,} | {ratios} |"
        )
    lines += [
        "",
        "| page | c | req/s | p50 ms | p95 ms | p99 ms | reference req/s | reference p50 ms | ratio "
        "| ratio per round | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, page in result["pages"].items():
        for c in levels:
            x = page["load"][str(c)]
            per_round = ", ".join(f"{r:.3f}" for r in x["ratio_per_round"])
            lines.append(
                f"| {BY_NAME[name].label} | {c} | {x['req_s']:.0f} | {x['p50_ms']} | {x['p95_ms']} | "
                f"{x['p99_ms']} | {x['ref_req_s']:.0f} | {x['ref_p50_ms']} | {x['ratio']:.3f} | {per_round} | "
                f"{x['non2xx']} |"
            )
    ref = result["reference"]
    lines += ["", f"Reference: `{ref['path']}`, {ref['bytes_raw']:,} bytes, 1 SQL statement."]
    return "\n".join(lines) + "\n"


def write_doc(
    table: str, json_name: str, doc: Path = DOC, markers: tuple[str, str] = (BEGIN, END), command: str = "make bench"
) -> None:
    """Put ``table`` between the markers of ``doc``, leaving the rest of it as it is."""
    begin, end = markers
    text = doc.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise SystemExit(f"{doc} has no {begin} … {end} markers to write the table between")
    head, rest = text.split(begin, 1)
    _old, tail = rest.split(end, 1)
    block = f"{begin}\n<!-- written by {command} from bench/results/{json_name}; do not edit by hand -->\n{table}{end}"
    doc.write_text(head + block + tail, encoding="utf-8")


# -- the command -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from bench.pages import PAGES

    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000, help="generated patients with history (default 1000)")
    parser.add_argument("--duration", type=int, default=3, help="seconds of each wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="reference/page rounds per concurrency (default 3)")
    parser.add_argument("--concurrency", default="1,4,16", help="connections, comma-separated (default 1,4,16)")
    parser.add_argument("--pages", default=",".join(p.name for p in PAGES), help="page names from bench/pages.py")
    parser.add_argument("--port", type=int, default=5110, help="the portal's port (default 5110)")
    parser.add_argument("--reference-port", type=int, default=5111, help="the reference app's port (default 5111)")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers for both servers (default 2, as make run)"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write the table into docs/performance.md")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    wanted = args.pages.split(",")
    unknown = set(wanted) - {p.name for p in PAGES}
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `sudo apt-get install -y wrk` (make bench installs it as root)")

    started = datetime.now(UTC)
    database_url, engine = prepare_database(args.patients)
    info = machine(engine, database_url)
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_DEMO_MODE": "true",
        # The limiter stays on, as in make run, with counters of this run only (bench/data/).
        "PORTAL_RATELIMIT_STORAGE_URI": f"portal+sqlite://{DATA / 'ratelimits-run.db'}",
    }
    (DATA / "ratelimits-run.db").unlink(missing_ok=True)
    portal = reference = worker = None
    try:
        worker = start_worker(env)
        portal = start_server("portal", "wsgi:app", args.port, env, args.workers)
        reference = start_server("reference", "bench.reference_app:app", args.reference_port, env, args.workers)
        from bench.client import HttpClient, sign_in_demo_patient
        from bench.pages import resolve

        client = HttpClient(f"http://127.0.0.1:{args.port}")
        sign_in_demo_patient(client)
        found = resolve(client)
        paths = {name: path for name, path in found.items() if name in wanted}
        card_id = re.search(r"/card/(\d+)", found["dashboard"]).group(1)
        headers = {"Cookie": client.cookie_header(), "Accept-Encoding": ACCEPT_ENCODING, "Accept-Language": "ru"}
        page_url = f"http://127.0.0.1:{args.port}"
        ref_path = f"/patient/{card_id}"
        ref_url = f"http://127.0.0.1:{args.reference_port}{ref_path}"
        log(f"pages: {paths}")
        sql = count_sql(database_url, paths)
        log(f"SQL statements: {sql}")
        reference_client = HttpClient(f"http://127.0.0.1:{args.reference_port}")
        result = {
            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": info,
            "settings": {
                "patients": args.patients,
                "duration": args.duration,
                "rounds": args.rounds,
                "concurrency": levels,
                "workers": args.workers,
                "accept_encoding": ACCEPT_ENCODING,
            },
            "reference": {"path": ref_path, "bytes_raw": len(reference_client.raw(ref_path, "identity"))},
            "pages": {},
        }
        for side in (ref_url, page_url + paths[next(iter(paths))]):
            wrk(side, 4, 1, headers)  # warm both servers up
        for name, path in paths.items():
            page = {
                "path": path,
                "sql": sql[name],
                "bytes_raw": len(client.raw(path, "identity")),
                "bytes_br": len(client.raw(path, "br")),
                "load": {},
            }
            for c in levels:
                rounds = []
                for _ in range(args.rounds):
                    ref = wrk(ref_url, c, args.duration, headers)
                    measured = wrk(page_url + path, c, args.duration, headers)
                    rounds.append({"ref": ref, "page": measured})
                page["load"][str(c)] = summary = summarise(rounds)
                rate, ratio = f"{summary['req_s']:.0f} req/s", f"ratio {summary['ratio']:.3f}"
                log(f"{name} c={c}: {rate}, {ratio}, p50 {summary['p50_ms']} ms")
            result["pages"][name] = page
            refresh_statistics(database_url)
    finally:
        stop(portal)
        stop(reference)
        stop(worker)
    result["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    json_path = RESULTS / f"{stamp}-{engine}.json"
    json_path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    table = markdown(result)
    json_path.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    log(f"written {json_path.relative_to(ROOT)} and {json_path.with_suffix('.md').relative_to(ROOT)}")
    if not args.no_doc:
        write_doc(table, json_path.name)
        log(f"table written into {DOC.relative_to(ROOT)}")

    failed = {
        name: {c: (x["non2xx"], x["ref_non2xx"], x["socket_errors"]) for c, x in page["load"].items()}
        for name, page in result["pages"].items()
        if any(x["non2xx"] or x["ref_non2xx"] or x["socket_errors"] for x in page["load"].values())
    }
    if failed:
        log(f"FAILED: responses that are not 2xx or socket errors, (page, reference, socket) per concurrency: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
