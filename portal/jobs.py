"""The jobs the core and the plugins declare (the ``jobs`` hook), checked at start-up and registered
on each app's task queue (``portal.tasks``): periodic ones run by ``flask worker``'s scheduler,
the others when queued.

A periodic job's rhythm is checked once a minute by the worker: ``every=timedelta(...)`` runs at
the multiples of it since the epoch (UTC), a ``crontab`` is read in the portal's time zone. With
several workers each one's scheduler queues the job, so a periodic job must be safe to run twice
or at once (every core job is: each step skips what is done).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from portal.clock import DEFAULT_ZONE
from portal.plugin_api.jobs import Job

EXTENSION = "portal.jobs"


class JobError(RuntimeError):
    """A declared job cannot be run as declared."""


def _check(job: object, plugin_name: str) -> Job:
    if not isinstance(job, Job):
        raise JobError(f"plugin {plugin_name!r} declared {job!r}, which is not a plugin_api.Job")
    if not job.name or not callable(job.function):
        raise JobError(f"plugin {plugin_name!r}: a job needs a name and a function ({job.name!r})")
    if job.retries < 0 or job.retry_delay < timedelta(0):
        raise JobError(f"job {job.name!r}: retries and retry_delay cannot be negative")
    every = job.every
    if isinstance(every, timedelta):
        if every < timedelta(minutes=1) or every % timedelta(minutes=1):
            raise JobError(f"job {job.name!r}: every must be whole minutes, at least one ({every})")
    elif every is not None and not callable(every):
        raise JobError(f"job {job.name!r}: every is a timedelta, a crontab or None, not {every!r}")
    return job


def declared(app: Flask) -> list[Job]:
    """Every job the enabled plugins (core ones included) declare; JobError when one is wrong or
    two share a name."""
    jobs: dict[str, tuple[str, Job]] = {}
    for plugin_name, returned in app.extensions["portal.plugins"].startup("jobs"):
        for job in returned or ():
            job = _check(job, plugin_name)
            if job.name in jobs:
                raise JobError(f"plugins {jobs[job.name][0]!r} and {plugin_name!r} both declare a job {job.name!r}")
            jobs[job.name] = (plugin_name, job)
    from portal import tasks

    for module in tasks.TASK_MODULES:  # the core's own tasks, whose names are taken too
        importlib.import_module(module)
    if taken := sorted(set(jobs) & set(tasks._TASKS)):
        raise JobError(f"plugin {jobs[taken[0]][0]!r} declares a job {taken[0]!r}, the name of a core task")
    return [job for _plugin, job in jobs.values()]


def schedule(job: Job, app: Flask) -> Callable[[datetime], bool] | None:
    """Huey's test for a periodic job (called with the scheduler's naive UTC minute), or None."""
    every = job.every
    if every is None:
        return None
    if isinstance(every, timedelta):
        minutes = int(every.total_seconds() // 60)
        return lambda moment: int(moment.replace(tzinfo=UTC).timestamp() // 60) % minutes == 0
    zone = ZoneInfo(app.config.get("TIMEZONE", DEFAULT_ZONE))
    return lambda moment: every(moment.replace(tzinfo=UTC).astimezone(zone))


def init_app(app: Flask) -> None:
    from portal.plugins import PluginError

    try:
        app.extensions[EXTENSION] = declared(app)
    except JobError as wrong:
        raise PluginError(str(wrong)) from wrong
