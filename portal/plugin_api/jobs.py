"""Jobs on the task queue: what the ``jobs`` hook returns, and how a plugin queues one.

A job is a plain function run by the background worker (``flask --app portal worker``, which
``make run`` starts) inside the application and a request context for ``BASE_URL``, so
``url_for``, ``plugin_config`` and the facade work; nobody is signed in. With ``every`` the worker
runs it on that rhythm; without, it runs when something calls ``enqueue_job``. A job that raises
is logged and tried again ``retries`` times, the first after ``retry_delay`` and each next after
twice the delay before; other jobs run meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from huey import crontab

__all__ = ["Job", "crontab", "enqueue_job"]


@dataclass(frozen=True)
class Job:
    """A job: a unique ``name`` (start it with the plugin's), the ``function`` it runs (JSON-able
    arguments, nothing kept in memory between runs), and when it runs.

    ``every`` is a ``timedelta`` of whole minutes (runs at the multiples of it counted from the
    epoch: ``timedelta(hours=6)`` at 00:00, 06:00, 12:00 and 18:00 UTC), or ``crontab(...)`` read
    in the portal's time zone (``crontab(minute="0", hour="9")``: 09:00 in Moscow by default), or
    None for a job that runs only when queued. ``at_start``: the worker also runs it once when it starts.
    """

    name: str
    function: Callable[..., Any]
    every: timedelta | Callable[[datetime], bool] | None = None
    retries: int = 3
    retry_delay: timedelta = timedelta(seconds=30)
    at_start: bool = False


def enqueue_job(name: str, *args: Any) -> None:
    """Put the job ``name`` on the queue with ``args`` (JSON-able); it runs in the worker."""
    from portal import tasks

    tasks.queue().enqueue(name, *args)
