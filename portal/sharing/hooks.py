"""Guardianships' ends, found by a background job declared through the ``jobs`` hook."""

from __future__ import annotations

from datetime import timedelta

from portal.plugin_api import Job, hookimpl


def publish_guardian_endings() -> int:
    from portal.sharing.endings import publish_endings

    return publish_endings()


@hookimpl
def jobs() -> list[Job]:
    """Every hour (and when the worker starts): tell the subscribers of the guardianships that end
    today (``GuardianAccessEnding``), once each."""
    return [Job("guardianships.ending", publish_guardian_endings, every=timedelta(hours=1), at_start=True)]
