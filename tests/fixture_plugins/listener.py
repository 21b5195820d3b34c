"""A test-only plugin that hears every core event and declares jobs: one periodic, one that fails
three times before it works, one that always fails and one quick one. What they did is kept in this
module's lists (the jobs run in this process: a consumer thread, or ``run_pending``)."""

from __future__ import annotations

import time
from datetime import timedelta

from portal.plugin_api import (
    AccountVerified,
    AppointmentBooked,
    AppointmentCancelled,
    CardClosed,
    ConsentRevoked,
    Event,
    GuardianAccessEnding,
    Job,
    PrescriptionIssued,
    ResultFiled,
    hookimpl,
    plugin_config,
)

CONTRACT = "1.0"

HEARD: list[Event] = []
RUNS: dict[str, list[float]] = {}
EVENTS = (
    AccountVerified,
    AppointmentBooked,
    AppointmentCancelled,
    CardClosed,
    ConsentRevoked,
    GuardianAccessEnding,
    PrescriptionIssued,
    ResultFiled,
)


def hear(event: Event) -> None:
    assert plugin_config("tests.fixture_plugins.listener") == {}  # handlers run in the app's context
    HEARD.append(event)


def _ran(name: str) -> int:
    RUNS.setdefault(name, []).append(time.monotonic())
    return len(RUNS[name])


def tick() -> None:
    _ran("tick")


def flaky() -> None:
    if _ran("flaky") < 4:
        raise RuntimeError("flaky fails this time")


def doomed() -> None:
    _ran("doomed")
    raise RuntimeError("doomed always fails")


def quick() -> None:
    _ran("quick")


@hookimpl
def event_handlers():
    return {kind: hear for kind in EVENTS}


@hookimpl
def jobs():
    second = timedelta(seconds=1)
    return [
        Job("listener.tick", tick, every=timedelta(minutes=1)),
        Job("listener.flaky", flaky, retries=3, retry_delay=second),
        Job("listener.doomed", doomed, retries=1, retry_delay=second),
        Job("listener.quick", quick, retries=0),
    ]
