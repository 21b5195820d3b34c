"""Rate limits: per address and per account, in a SQLite file every worker process shares by default
and in Redis when configured (several machines must share the counters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET, csrf_token

ROOT = Path(__file__).resolve().parent.parent

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL")


LIMITED = "слишком много попыток за короткое время"  # the limiter's own 429 page, not the sign-in form


def attempts(app, login: str, n: int, address: str = "203.0.113.5") -> list[int | str]:
    """Statuses of ``n`` wrong sign-ins; "limit" where the rate limiter itself answered. (After five
    wrong passwords the sign-in form pauses the login with its own 429, known or not.)"""
    client = app.test_client()
    token = csrf_token(client, "/auth/sign-in")
    out: list[int | str] = []
    for _ in range(n):
        response = client.post(
            "/auth/sign-in",
            data={"csrf_token": token, "login": login, "password": "x"},
            environ_base={"REMOTE_ADDR": address},
        )
        out.append("limit" if LIMITED in response.get_data(as_text=True) else response.status_code)
    return out


def test_the_per_account_limit_holds_across_addresses(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True)
    login = f"{uuid.uuid4().hex}@example.ru"
    first = attempts(app, login, 6, "203.0.113.5")
    second = attempts(app, login, 5, "198.51.100.7")  # another address, the same account
    assert first == [400, 400, 400, 400, 429, 429] and second == [429, 429, 429, 429, "limit"]


@pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set (.ci/run sets it)")
def test_counters_live_in_redis_and_are_shared_by_app_servers(app_factory):
    login = f"{uuid.uuid4().hex}@example.ru"
    one = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL)
    two = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL)  # a second server
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    assert attempts(one, login, 6) == [400, 400, 400, 400, 429, 429]
    assert any(login.encode() in key for key in store.keys("*")), "the counters are not in Redis"
    assert attempts(two, login, 5) == [429, 429, 429, 429, "limit"]


# -- the default store: one SQLite file every worker process shares ---------------------------------

WORKER = """
import json, sys
from portal import create_app
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
print("ready", flush=True)
sys.stdin.readline()  # both workers start counting together
codes = [
    client.post("/csp-report", data=b"{}", content_type="application/csp-report",
                environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code
    for _ in range(int(sys.argv[2]))
]
print(json.dumps(codes), flush=True)
"""


def test_a_limit_holds_across_worker_processes_in_the_default_setup(database_url, tmp_path):
    """Two processes, as make run's two gunicorn workers, on one instance folder and the default
    store: the reports' 60 a minute from one address are 60 in all, not 60 in each."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "RATELIMIT_ENABLED": True,
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(config), "45"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        codes = [json.loads(worker.stdout.readline()) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    answers = codes[0] + codes[1]
    assert answers.count(204) == 60 and answers.count(429) == 30


def test_ordinary_pages_leave_the_store_alone(app_factory, demo_factory, login, tmp_path):
    app = app_factory(RATELIMIT_ENABLED=True)
    people = demo_factory(app)
    store = tmp_path / "instance" / "ratelimits.db"
    visitor, patient = app.test_client(), login(people["patient"])
    for path in ("/", "/clinics", "/privacy", "/auth/sign-in"):
        assert visitor.get(path).status_code == 200
    for path in ("/", f"/card/{people['patient'].patient_id}", "/notifications"):
        assert patient.get(path).status_code == 200
    assert not store.exists()  # no page without a limit reads or writes a counter
    visitor.post("/csp-report", data=b"{}", content_type="application/csp-report")
    assert store.exists() and store.stat().st_mode & 0o077 == 0  # created by the first limited request, private


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
def test_the_sqlite_store_counts_for_every_strategy(tmp_path, strategy):
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import STRATEGIES

    from portal.ratelimit_store import uri_for

    one = STRATEGIES[strategy](storage_from_string(uri_for(tmp_path / "limits.db")))
    two = STRATEGIES[strategy](storage_from_string(uri_for(tmp_path / "limits.db")))  # another process's view
    limit = parse("3/minute")
    assert [one.hit(limit, "k"), two.hit(limit, "k"), one.hit(limit, "k"), two.hit(limit, "k")] == [True] * 3 + [False]
    assert one.hit(limit, "other")  # keys are apart
    assert two.get_window_stats(limit, "k").remaining == 0
    one.clear(limit, "k")
    assert two.hit(limit, "k")
