"""Rate limits: per address and per account, in memory by default and in Redis when configured
(several app servers must share the counters)."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import csrf_token

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL")


def attempts(app, login: str, n: int, address: str = "203.0.113.5") -> list[int]:
    client = app.test_client()
    token = csrf_token(client, "/auth/sign-in")
    return [
        client.post(
            "/auth/sign-in",
            data={"csrf_token": token, "login": login, "password": "x"},
            environ_base={"REMOTE_ADDR": address},
        ).status_code
        for _ in range(n)
    ]


def test_the_per_account_limit_holds_across_addresses(app_factory):
    app = app_factory(RATELIMIT_ENABLED=True)
    login = f"{uuid.uuid4().hex}@example.ru"
    first = attempts(app, login, 6, "203.0.113.5")
    second = attempts(app, login, 5, "198.51.100.7")  # another address, the same account
    assert first == [400] * 6 and second == [400, 400, 400, 400, 429]


@pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set (.ci/run sets it)")
def test_counters_live_in_redis_and_are_shared_by_app_servers(app_factory):
    login = f"{uuid.uuid4().hex}@example.ru"
    one = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL)
    two = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=REDIS_URL)  # a second server
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    assert attempts(one, login, 6) == [400] * 6
    assert any(login.encode() in key for key in store.keys("*")), "the counters are not in Redis"
    assert attempts(two, login, 5) == [400, 400, 400, 400, 429]
