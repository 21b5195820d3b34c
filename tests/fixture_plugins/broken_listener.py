"""A test-only plugin whose handler of booked appointments always raises."""

from portal.plugin_api import AppointmentBooked, hookimpl

CONTRACT = "1.0"


def fail(event):
    raise RuntimeError(f"the broken listener fails on appointment {event.appointment_id}")


@hookimpl
def event_handlers():
    return {AppointmentBooked: fail}
