"""The outbox and the reminders' background jobs, declared through the ``jobs`` hook."""

from __future__ import annotations

from datetime import timedelta

from portal.plugin_api import Job, crontab, hookimpl

OUTBOX_BATCH = 500  # messages one run of the outbox job tries at most


def deliver_outbox() -> int:
    """Send the outbox messages whose retry is due (1, 2, 4, 8 minutes after each failure)."""
    from portal.notify.service import deliver_pending

    return deliver_pending(limit=OUTBOX_BATCH)


def send_reminders() -> None:
    from portal.notify import reminders

    reminders.run()


@hookimpl
def jobs() -> list[Job]:
    """Every minute the outbox sends what could not go out at once; at 09:00 (the portal's time)
    the record's reminders are repeated and created. Both are safe to run twice."""
    return [
        Job("outbox.deliver", deliver_outbox, every=timedelta(minutes=1), retries=2, retry_delay=timedelta(seconds=5)),
        Job("reminders.daily", send_reminders, every=crontab(minute="0", hour="9"), retry_delay=timedelta(minutes=2)),
    ]
