"""Start-up time of the portal with no optional plugin and with three, each in a fresh process.

A fresh Python process imports the portal and calls ``create_app`` (what each gunicorn worker and
each ``flask`` command does); the time is measured inside the process, from before the first
import of ``portal`` to the app being ready, so the interpreter's own start is left out. Each case
runs ``--rounds`` times; the median and the slowest are printed.

    .venv/bin/python -m bench.startup [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CASES = {
    "0 plugins": {"PLUGINS": []},
    "3 plugins (hotline, everything, styled)": {
        "PLUGINS": ["hotline"],
        "TESTING": True,
        "TESTING_PLUGINS": ["tests.fixture_plugins.everything", "tests.fixture_plugins.styled"],
    },
}

CHILD = """
import json, sys, time
started = time.perf_counter()
from portal import create_app
imported = time.perf_counter()
settings = json.loads(sys.argv[1])
settings.update({"SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite:///" + sys.argv[2] + "/s.db",
                 "INSTANCE_PATH": sys.argv[2]})
create_app(settings)
ready = time.perf_counter()
print(json.dumps({"import": imported - started, "create_app": ready - imported}))
"""


def run(settings: dict, rounds: int) -> list[dict]:
    results = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as instance:
            out = subprocess.run(  # noqa: S603 (our interpreter, our script)
                [sys.executable, "-c", CHILD, json.dumps(settings), instance],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print("| case | import ms (median) | create_app ms (median) | total ms (median) | total ms (slowest) |")
    print("|---|---|---|---|---|")
    for name, settings in CASES.items():
        rows = run(settings, args.rounds)
        totals = [r["import"] + r["create_app"] for r in rows]
        print(
            f"| {name} | {statistics.median(r['import'] for r in rows) * 1000:.0f} "
            f"| {statistics.median(r['create_app'] for r in rows) * 1000:.0f} "
            f"| {statistics.median(totals) * 1000:.0f} | {max(totals) * 1000:.0f} |"
        )


if __name__ == "__main__":
    main()
