"""Jobs on the task queue: the core's and a plugin's, registered on each app's Huey, periodic ones
run by the worker's scheduler on their rhythm; a real consumer (in threads, as ``flask worker``
runs it) retries a failing job with a doubling delay and logs each failure while the other jobs
run; a wrong declaration stops start-up."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from portal import jobs, tasks
from portal.plugin_api import Job, crontab
from portal.plugins import PluginError
from tests.conftest import outbox
from tests.fixture_plugins import listener
from tests.test_notify import free_port, register, smtp, wait_for  # noqa: F401 - the fixture

LISTENER = "tests.fixture_plugins.listener"
CORE_PERIODIC = {
    "appointments.waiting_list",
    "appointments.reminders",
    "appointments.slots",
    "outbox.deliver",
    "reminders.daily",
    "guardianships.ending",
}


@pytest.fixture
def app(app_factory):
    listener.RUNS.clear()
    return app_factory(TESTING_PLUGINS=["tests.fixture_plugins.sms_gateway", LISTENER])


def periodic_names(app) -> set[str]:
    return {task.name for task in tasks.queue(app).huey._registry.periodic_tasks}


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the consumer did not get there in time"
        time.sleep(0.05)


def test_hook_jobs(app):
    """The core's periodic jobs (no cron) and the plugin's are on the app's queue; what the worker
    queues when it starts."""
    assert periodic_names(app) == CORE_PERIODIC | {"listener.tick"}
    assert set(tasks.queue(app).at_start) == {"appointments.waiting_list", "appointments.slots", "guardianships.ending"}
    tasks.queue(app).enqueue("listener.quick")  # a job without a rhythm runs when queued
    assert tasks.queue(app).run_pending() == 1 and len(listener.RUNS["quick"]) == 1


def test_rhythms_every_whole_minutes_and_crontab_in_the_portals_time_zone(app):
    def due(every, moment: datetime) -> bool:
        return jobs.schedule(Job("x", print, every=every), app)(moment)

    six_hours = timedelta(hours=6)
    assert due(six_hours, datetime(2026, 5, 4, 6, 0)) and due(six_hours, datetime(2026, 5, 4, 0, 0))
    assert not due(six_hours, datetime(2026, 5, 4, 6, 1)) and not due(six_hours, datetime(2026, 5, 4, 3, 0))
    nine = crontab(minute="0", hour="9")  # 09:00 in Moscow is 06:00 UTC, the scheduler's clock
    assert due(nine, datetime(2026, 5, 4, 6, 0)) and not due(nine, datetime(2026, 5, 4, 9, 0))
    assert jobs.schedule(Job("x", print), app) is None


def test_the_consumer_runs_periodic_jobs_and_retries_a_failing_one_with_growing_delays(app, caplog):
    """A real consumer with its scheduler: the periodic job runs at once; the flaky job fails
    three times, is logged each time and tried again after 1 s, 2 s then 4 s (Huey keeps the time:
    never before), and works the fourth time; the quick job queued meanwhile runs before it; the
    doomed job gives up after its one retry."""
    queue = tasks.queue(app)
    with caplog.at_level(logging.INFO):
        consumer = tasks.start_consumer(app, workers=2, periodic=True)
        try:
            wait_until(lambda: listener.RUNS.get("tick"))
            queue.enqueue("listener.flaky")
            queue.enqueue("listener.doomed")
            wait_until(lambda: len(listener.RUNS.get("flaky", ())) >= 1)
            queue.enqueue("listener.quick")
            wait_until(lambda: len(listener.RUNS.get("flaky", ())) == 4 and len(listener.RUNS.get("doomed", ())) == 2)
            time.sleep(1.2)  # no more attempts after the last
        finally:
            consumer.stop(graceful=True)
    runs = listener.RUNS["flaky"]
    gaps = [later - earlier for earlier, later in zip(runs, runs[1:], strict=False)]
    assert len(runs) == 4 and gaps[0] >= 1 and gaps[1] >= 2 and gaps[2] >= 4, gaps  # a fixed delay: < 2.5 s each
    assert listener.RUNS["quick"][0] < runs[-1]  # the other job ran while the flaky one waited
    assert len(listener.RUNS["doomed"]) == 2
    for attempt, delay in ((1, 1), (2, 2), (3, 4)):
        assert f"job listener.flaky failed (attempt {attempt} of 4); trying again in {delay} s" in caplog.text
    assert "job listener.doomed failed (attempt 2 of 2); not tried again" in caplog.text
    assert "RuntimeError: flaky fails this time" in caplog.text  # the traceback is logged


def test_the_outbox_job_sends_what_could_not_go_out_at_once(app_factory, smtp):  # noqa: F811
    """No cron: a message whose first attempt failed (the mail server was down) goes out when the
    worker's ``outbox.deliver`` job runs once its retry is due."""
    import time_machine

    controller, inbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    assert register(app.test_client()).status_code == 303
    [waiting] = outbox(app)
    assert waiting.sent_at is None and waiting.attempts == 1
    app.config["SMTP_PORT"] = controller.port  # the server is back
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        tasks.queue(app).enqueue("outbox.deliver")
        assert tasks.queue(app).run_pending() == 1
    wait_for(inbox, 1)
    assert len(inbox.messages) == 1 and outbox(app)[-1].sent_at is not None


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("HalfMinuteJob", "every must be whole minutes"),
        ("TwinJob", "both declare a job 'outbox.deliver'"),
        ("CoreTaskJob", "the name of a core task"),
    ],
)
def test_a_wrong_job_declaration_stops_start_up(app_factory, plugin, message):
    with pytest.raises(PluginError, match=message):
        app_factory(TESTING_PLUGINS=[f"tests.fixture_plugins.bad_declarations:{plugin}"])


def test_flask_worker_as_make_run_starts_it_delivers_the_outbox_with_no_cron(
    app_factory,
    database_url,
    tmp_path,
    smtp,  # noqa: F811
):
    """`flask --app portal worker` in a process of its own: its scheduler queues the periodic
    jobs when it starts, and a message that failed at once goes out; SIGINT stops it cleanly."""
    import json
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from portal.database import db, write_transaction
    from portal.notify.models import OutboxMessage
    from tests.conftest import TEST_SECRET

    controller, inbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    assert register(app.test_client()).status_code == 303
    [waiting] = outbox(app)
    assert waiting.attempts == 1 and waiting.sent_at is None
    with app.app_context(), write_transaction():  # its retry is due: it failed five minutes ago
        db.session.get(OutboxMessage, waiting.id).created_at = datetime.now(UTC) - timedelta(minutes=5)
    config = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(tmp_path / "worker"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": controller.port,
    }
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "RACE_APP_CONFIG": json.dumps(config), "PYTHONPATH": str(root)}
    flask = str(Path(sys.executable).parent / "flask")
    worker = subprocess.Popen(  # noqa: S603 - our venv's flask
        [flask, "--app", "tests.race_app:app", "worker", "--threads", "1"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not inbox.messages and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGINT)
        _out, errors = worker.communicate(timeout=30)
    assert len(inbox.messages) == 1, errors.decode()[-2000:]
    assert outbox(app)[-1].sent_at is not None
    assert worker.returncode == 0 and b"Consumer exiting" in errors
