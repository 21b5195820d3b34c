"""Background jobs: a Huey task queue built from the settings, and ``flask --app portal worker``.

Where the queue lives (shared storage, never a process's memory, so any number of app servers
and workers can share it):

- by default a SQLite file, ``instance/tasks.db`` (SqliteHuey): every process on the machine;
- Redis when ``RATELIMIT_STORAGE_URI`` is a ``redis://`` or ``rediss://`` URL: the setting that
  already says "several machines share this Redis" for the rate limits, reused so one Redis
  serves both (RedisHuey);
- ``TASKS_IMMEDIATE=True`` (a test asks for it explicitly) runs each task at once in the caller.

A task is a plain function registered with ``@task("name")`` in one of ``TASK_MODULES``; each
app builds its own Huey on first use and registers every task on it, and every job the plugins
and the core declare (``portal.jobs``; the periodic ones run by the worker's scheduler), run
inside that app's context and a request context for ``BASE_URL`` (``url_for`` and templates work;
nobody is signed in). Arguments are JSON-able values; a task keeps nothing in memory between runs.

A failed job is logged, naming it and the attempt. With ``retries`` it is tried again after
``retry_delay`` seconds, then after twice that, four times, ... (Huey's ``retry_backoff``); the
other jobs run meanwhile. Without (the PDFs: the job records what the person sees) it is not
retried; asking again queues it again.

``enqueue_once`` puts a job on the queue unless the same job (by key) is already waiting: the
marker is an atomic ``put_if_empty`` in the queue's own storage, removed when the job ends, and
ignored once older than ``STALE_SECONDS`` (a worker that died mid-job does not block it forever).

``flask --app portal worker`` runs Huey's consumer with ``--threads`` worker threads (2 by
default) and its scheduler of periodic jobs in the foreground, after queueing the jobs declared
``at_start`` and starting every background thread named in ``BACKGROUND_STARTERS``
(``"module:function"``; the function gets the app and starts its own daemon thread).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from huey import RedisHuey, SqliteHuey
from huey.constants import EmptyData
from huey.consumer import Consumer

log = logging.getLogger(__name__)

# Modules whose ``@task`` functions every queue registers (imported when a queue is built).
TASK_MODULES = ("portal.export.jobs", "portal.certificates.jobs", "portal.auditor.chain", "portal.events")
# Threads the worker process starts beside the consumer: "module:function", called with the app.
# The audit sealer stays a thread: it seals every 0.2 s, and periodic jobs run at most once a minute.
BACKGROUND_STARTERS: list[str] = ["portal.audit.sealer:start_sealer_thread"]
WORKER_THREADS = 2
BACKOFF = 2  # each retry of a failed job waits this many times as long as the one before
STALE_SECONDS = 300  # a job marked as waiting longer than this is taken for lost and queued again
EXTENSION = "portal.tasks"

_TASKS: dict[str, tuple[Callable, int, float]] = {}


def task(name: str, retries: int = 0, retry_delay: float = 0) -> Callable[[Callable], Callable]:
    """Register ``fn`` as the task ``name`` (its arguments must be JSON-able); a failure is tried
    again ``retries`` times, after ``retry_delay`` seconds and then twice as long each time."""

    def register(fn: Callable) -> Callable:
        _TASKS[name] = (fn, retries, retry_delay)
        return fn

    return register


def _redis_url(app: Flask) -> str | None:
    url = app.config.get("RATELIMIT_STORAGE_URI") or ""
    return url if url.startswith(("redis://", "rediss://")) else None


def _make_huey(app: Flask):
    immediate = bool(app.config.get("TASKS_IMMEDIATE"))
    if redis := _redis_url(app):
        return RedisHuey("medkarta", url=redis, results=False, immediate=immediate)
    path = Path(app.instance_path) / "tasks.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("medkarta", filename=str(path), results=False, immediate=immediate, timeout=10)


class TaskQueue:
    """One app's Huey and its registered tasks."""

    def __init__(self, app: Flask) -> None:
        from portal import jobs

        for module in TASK_MODULES:
            importlib.import_module(module)
        self.app = app
        self.huey = _make_huey(app)
        self._wrappers: dict[str, Callable] = {}
        for name, (fn, retries, delay) in _TASKS.items():
            self._add(name, fn, retries, delay)
        self.at_start: list[str] = []
        for job in app.extensions.get(jobs.EXTENSION, ()):  # checked at start-up: no name taken twice
            self._add(job.name, job.function, job.retries, job.retry_delay.total_seconds(), jobs.schedule(job, app))
            if job.at_start:
                self.at_start.append(job.name)

    def _add(self, name: str, fn: Callable, retries: int, delay: float, periodic: Callable | None = None) -> None:
        options = {"name": name, "retries": retries, "retry_delay": delay, "context": True}
        options["retry_backoff"] = BACKOFF if retries and delay else 0
        register = self.huey.task(**options) if periodic is None else self.huey.periodic_task(periodic, **options)
        self._wrappers[name] = register(self._bind(name, fn, retries))

    def _bind(self, name: str, fn: Callable, retries: int) -> Callable:
        app = self.app

        def run(*args, task=None):
            from portal.database import db

            with app.app_context(), app.test_request_context(base_url=app.config["BASE_URL"]):
                try:
                    return fn(*args)
                except Exception:
                    _log_failure(name, retries, task)
                    raise
                finally:
                    db.session.remove()

        run.__name__ = fn.__name__
        return run

    def enqueue(self, name: str, *args) -> None:
        self._wrappers[name](*args)

    # -- one job per key -----------------------------------------------------------------------

    def _marker(self, key: str) -> str:
        return f"waiting:{key}"

    def enqueue_once(self, key: str, name: str, *args) -> bool:
        """Queue the job unless one for ``key`` is already waiting; True if it was queued."""
        storage, marker, now = self.huey.storage, self._marker(key), time.time()
        if not storage.put_if_empty(marker, str(now).encode()):
            since = storage.peek_data(marker)
            if since is not EmptyData and now - float(since) < STALE_SECONDS:
                return False
            storage.put_data(marker, str(now).encode())
        try:
            self.enqueue(name, *args)
        except BaseException:
            storage.delete_data(marker)
            raise
        return True

    def waiting(self, key: str) -> bool:
        since = self.huey.storage.peek_data(self._marker(key))
        return since is not EmptyData and time.time() - float(since) < STALE_SECONDS

    def done(self, key: str) -> None:
        self.huey.storage.delete_data(self._marker(key))

    def pending_jobs(self) -> int:
        """How many jobs wait on the queue (for tests and the worker's log)."""
        return self.huey.pending_count()

    def run_pending(self) -> int:
        """Run every job waiting on the queue here, one by one, as a consumer would; the count."""
        count = 0
        while (message := self.huey.dequeue()) is not None:
            self.huey.execute(message)
            count += 1
        return count


def _log_failure(name: str, retries: int, task) -> None:
    """Log a failed job (with its traceback): which attempt, and when the next one is."""
    left = task.retries if task is not None else 0
    attempt = retries - left + 1
    if left:
        log.exception(
            "job %s failed (attempt %d of %d); trying again in %g s", name, attempt, retries + 1, task.retry_delay
        )
    else:
        log.exception("job %s failed (attempt %d of %d); not tried again", name, attempt, retries + 1)


def queue(app: Flask | None = None) -> TaskQueue:
    """This app's task queue, built on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions[EXTENSION] = TaskQueue(app)
    return found


class ThreadConsumer(Consumer):
    """Huey's consumer without signal handlers, so it can run in a thread (the browser tests'
    live server); ``stop(graceful=True)`` ends it."""

    def _set_signal_handlers(self) -> None:
        pass


def start_consumer(app: Flask, workers: int = 1, periodic: bool = False) -> ThreadConsumer:
    """Huey's consumer in threads of this process (``periodic``: with its scheduler of periodic
    jobs, which checks them at once and then every minute)."""
    consumer = ThreadConsumer(queue(app).huey, workers=workers, periodic=periodic, initial_delay=0.05, max_delay=0.5)
    consumer.start()
    return consumer


def _start_background(app: Flask) -> None:
    for name in BACKGROUND_STARTERS:
        module, _, function = name.partition(":")
        getattr(importlib.import_module(module), function)(app)
        log.info("background thread started: %s", name)


@click.command("worker")
@click.option("--threads", default=WORKER_THREADS, show_default=True, help="worker threads running jobs")
@with_appcontext
def worker_command(threads: int) -> None:
    """Run the background jobs (PDFs, events, the outbox, reminders, slots, the waiting list) and
    the periodic ones on their rhythm until stopped: Ctrl-C (SIGINT) lets running jobs finish."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    tasks = queue(app)
    if tasks.huey.immediate:
        raise click.ClickException("TASKS_IMMEDIATE is on: jobs run in the web process, there is nothing to consume")
    _start_background(app)
    for name in tasks.at_start:
        tasks.enqueue(name)
    consumer = tasks.huey.create_consumer(workers=threads, worker_type="thread", periodic=True, max_delay=1.0)
    consumer.run()


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
