"""Rate limits: per address and per account, in memory by default and in Redis when configured
(several app servers must share the counters)."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import csrf_token

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
