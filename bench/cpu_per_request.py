"""CPU per request, server side, as gunicorn serves it: the portal's pages and the reference page.

Starts both servers as ``make bench`` does (same data set, same settings), runs wrk at
concurrency 1 against each page and reads the CPU time the server's processes (the gunicorn
master and its workers) and wrk used from /proc. What the in-process profile (profile_pages.py)
does not see: gunicorn's HTTP parsing, compression, the access log.

    .venv/bin/python -m bench.cpu_per_request [--seconds 3] [page ...]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
from pathlib import Path

from bench.run import ACCEPT_ENCODING, DATA, prepare_database, start_server, stop

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children that are alive (the gunicorn workers)."""
    total = 0.0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def measure(server: subprocess.Popen, url: str, seconds: int, headers: dict[str, str]) -> tuple[float, float, float]:
    command = ["wrk", "-t1", "-c1", f"-d{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before = cpu_seconds(server.pid)
    timed = ["/usr/bin/time", "-f", "WRKCPU %U %S", *command, url]
    run = subprocess.run(timed, capture_output=True, text=True, check=True)  # noqa: S603 (wrk, our arguments)
    used = cpu_seconds(server.pid) - before
    requests = int(re.search(r"(\d+) requests in", run.stdout).group(1))
    user, system = map(float, re.search(r"WRKCPU ([\d.]+) ([\d.]+)", run.stderr).groups())
    return requests / seconds, used / requests * 1000, (user + system) / requests * 1000


def main() -> None:
    from bench.client import HttpClient, sign_in_demo_patient
    from bench.pages import resolve

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pages", nargs="*")
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    database_url, _engine = prepare_database(1000)
    env = {**os.environ, "PORTAL_DATABASE_URL": database_url, "PORTAL_DEMO_MODE": "true",
           "PORTAL_RATELIMIT_STORAGE_URI": f"portal+sqlite://{DATA / 'ratelimits-run.db'}"}  # fmt: skip
    portal = start_server("portal", "wsgi:app", 5110, env, 2)
    reference = start_server("reference", "bench.reference_app:app", 5111, env, 2)
    try:
        client = HttpClient("http://127.0.0.1:5110")
        sign_in_demo_patient(client)
        found = resolve(client)
        card = re.search(r"/card/(\d+)", found["dashboard"]).group(1)
        headers = {"Cookie": client.cookie_header(), "Accept-Encoding": ACCEPT_ENCODING, "Accept-Language": "ru"}
        measure(reference, f"http://127.0.0.1:5111/patient/{card}", 1, headers)
        print(f"{'page':<14} {'req/s':>7} {'server ms':>10} {'wrk ms':>7}")
        rate, server, load = measure(reference, f"http://127.0.0.1:5111/patient/{card}", args.seconds, headers)
        print(f"{'reference':<14} {rate:7.0f} {server:10.2f} {load:7.2f}")
        for name, path in found.items():
            if args.pages and name not in args.pages:
                continue
            measure(portal, f"http://127.0.0.1:5110{path}", 1, headers)
            rate, server, load = measure(portal, f"http://127.0.0.1:5110{path}", args.seconds, headers)
            print(f"{name:<14} {rate:7.0f} {server:10.2f} {load:7.2f}")
    finally:
        stop(portal)
        stop(reference)


if __name__ == "__main__":
    main()
