"""The portal's clock: one «now» and one «today» for every rule and every date shown.

Moments are stored and compared in UTC. A calendar day — a child's 15th birthday, the last day of
a grant, the date printed on a certificate, a day picked in a filter — is a day in the portal's
time zone (the TIMEZONE setting, Europe/Moscow by default), so that at 00:30 in Moscow every rule
and every page agree that it is already the next day. Nothing here reads the server's local time
zone (``date.today()``, naive ``datetime.now()``): the same moment gives the same day everywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Europe/Moscow"


def now() -> datetime:
    """The current moment, aware, in UTC (as stored)."""
    return datetime.now(UTC)


def zone() -> ZoneInfo:
    """The portal's time zone: the TIMEZONE setting, or the default outside an application."""
    name = current_app.config.get("TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    return ZoneInfo(name)


def local_date(moment: datetime) -> date:
    """The calendar day this moment falls on in the portal's time zone (a naive moment is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone()).date()


def today() -> date:
    """Today in the portal's time zone: the day every date rule and every page uses."""
    return local_date(now())


def day_start(day: date) -> datetime:
    """The moment (UTC) the portal's calendar day begins."""
    return datetime.combine(day, time.min, zone()).astimezone(UTC)


def day_end(day: date) -> datetime:
    """The last microsecond (UTC) of the portal's calendar day, for inclusive «until» bounds."""
    return day_start(day + timedelta(days=1)) - timedelta(microseconds=1)
