"""Test-only plugins that declare what the host must refuse at start-up (``module:attribute``)."""

from datetime import timedelta

from portal.plugin_api import Job, hookimpl


class HalfMinuteJob:
    CONTRACT = "1.0"

    @hookimpl
    def jobs():  # noqa: N805 (called on the class: a plain function)
        return [Job("bad.half_minute", print, every=timedelta(seconds=30))]


class NotAnEvent:
    CONTRACT = "1.0"

    @hookimpl
    def event_handlers():  # noqa: N805
        return {dict: print}


class TwinJob:
    CONTRACT = "1.0"

    @hookimpl
    def jobs():  # noqa: N805
        return [Job("outbox.deliver", print)]


class CoreTaskJob:
    CONTRACT = "1.0"

    @hookimpl
    def jobs():  # noqa: N805
        return [Job("events.handle", print)]
