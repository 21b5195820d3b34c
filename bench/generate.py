"""Load synthetic organisations and patients into the portal's database, for benchmarks.

The data comes from ``portal.demodata.synthetic`` (the same generator seeds the demo), so the
same seed gives the same data on every machine and run, and ``patients(20)`` is a prefix of
``patients(1000)``: the demo set and a benchmark load share a database without clashing.

Usage::

    python -m bench.generate --patients 100000 [--seed 2026] [--database-url URL] [--history]

``--history`` also gives every patient without one a medical history across all record
sections (``portal.demodata.history``): 3–5 years for an adult, the whole life of a child.

The benchmark uses the portal; the portal never imports this folder.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from portal.demodata.synthetic import DEFAULT_SEED, load


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line: load synthetic data into the portal's database."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description="Load synthetic organisations and patients into the Medkarta database.",
    )
    parser.add_argument("--patients", type=_non_negative, required=True, help="how many patients")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--database-url", help="SQLAlchemy URL; default: the app's own setting")
    parser.add_argument("--batch", type=_positive, default=5000, help="rows per insert batch")
    parser.add_argument("--history", action="store_true", help="also generate each patient's medical history")
    parser.add_argument("--today", type=date.fromisoformat, help="the history's last day (default: today)")
    args = parser.parse_args(argv)

    from portal import create_app
    from portal.database import write_transaction

    app = create_app({"DATABASE_URL": args.database_url} if args.database_url else None)
    started = time.perf_counter()
    with app.app_context(), write_transaction() as session:
        counts = load(session, args.patients, seed=args.seed, batch=args.batch)
    elapsed = time.perf_counter() - started
    print(f"inserted {counts['organisations']} organisations and {counts['patients']} patients in {elapsed:.2f} s")
    if args.history:
        history(app, seed=args.seed, today=args.today or date.today())
    return 0


def history(app, seed: int = DEFAULT_SEED, today: date | None = None, per_transaction: int = 5000) -> dict[str, int]:
    """Give every patient without a history one, committing every ``per_transaction`` patients."""
    from portal.database import write_transaction
    from portal.demodata.history import bulk_history, ensure_directory, patients_without_history

    today = today or date.today()
    started = time.perf_counter()
    total: dict[str, int] = {}
    with app.app_context():
        with write_transaction() as session:
            ensure_directory(session)
            pending = patients_without_history(session)
        for start in range(0, len(pending), per_transaction):
            with write_transaction() as session:
                directory = ensure_directory(session)
                added = bulk_history(session, pending[start : start + per_transaction], directory, today, seed)
            for table, n in added.items():
                total[table] = total.get(table, 0) + n
            done = min(start + per_transaction, len(pending))
            print(f"  {done} patients, {sum(total.values())} rows, {time.perf_counter() - started:.1f} s", flush=True)
    elapsed = time.perf_counter() - started
    rows = ", ".join(f"{table} {n}" for table, n in total.items())
    print(f"history for {len(pending)} patients: {sum(total.values())} rows in {elapsed:.2f} s ({rows})")
    return total


if __name__ == "__main__":
    raise SystemExit(main())
