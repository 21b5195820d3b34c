"""The appointments' clock, a thread of ``flask worker`` (portal.tasks.BACKGROUND_STARTERS) as the
audit sealer is: every minute it passes on the waiting list's offers nobody answered and offers
free times to the next in line, and sends the reminders that are due; every six hours it makes
the doctors' slots for the horizon ahead. Each step is what its command does (``flask
expire-offers``, ``flask send-appointment-reminders``, ``flask generate-slots``) and is safe to
run twice or at once on several machines, so any number of workers may run the clock."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from portal.database import db

log = logging.getLogger(__name__)

EVERY_SECONDS = 60.0
SLOTS_EVERY_SECONDS = 6 * 3600.0


def tick(app: Flask, slots: bool) -> None:
    """One round: the waiting list, the reminders and (``slots``) the slots."""
    from portal.appointments import reminders, waitlist
    from portal.appointments.schedule import generate_slots

    with app.app_context(), app.test_request_context(base_url=app.config["BASE_URL"]):
        for name, step in (
            ("slots", generate_slots if slots else None),
            ("waiting list", waitlist.run),
            ("reminders", reminders.run),
        ):
            if step is None:
                continue
            try:
                step()
            except Exception:  # a locked or unreachable database: say so, the next round tries again
                log.exception("the appointments clock failed at %s; retrying", name)
            finally:
                db.session.remove()


def start_appointment_clock(
    app: Flask, interval: float = EVERY_SECONDS, slots_interval: float = SLOTS_EVERY_SECONDS
) -> tuple[threading.Thread, threading.Event]:
    """Run ``tick`` every ``interval`` seconds (slots every ``slots_interval``) in a daemon thread
    until the returned event is set."""
    stop = threading.Event()

    def run() -> None:
        last_slots = None
        while not stop.is_set():
            now = time.monotonic()
            due = last_slots is None or now - last_slots >= slots_interval
            tick(app, slots=due)
            if due:
                last_slots = now
            stop.wait(interval)

    thread = threading.Thread(target=run, name="appointments-clock", daemon=True)
    thread.start()
    return thread, stop
