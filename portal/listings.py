"""Public listings kept for a short while in each worker process: the directory's search pages
and the count of organisations on the home page.

The directory changes a few times a day and is read on every visit to «Медицинские организации»;
building its page (a count, a page of organisations, the lists of regions and specialties, a
table) cost three times the rest of the request. A page of it, rendered for one language, one
search and one attached clinic, is kept for ``DIRECTORY_CACHE_SECONDS`` (default 60; 0 turns the
cache off). It holds public data only: what is kept is keyed by everything it shows, and nothing
of a person is in it but which clinic is theirs (part of the key). A change made by this process
(``forget()``) is seen at once; another worker or server sees it within the time. Nothing here
is needed for correctness: a worker that starts empty builds the pages again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from flask import Flask, current_app


class Listings:
    """Values by key, each kept ``seconds``; at most ``size`` of them (then the store empties)."""

    def __init__(self, seconds: float, size: int = 512) -> None:
        self.seconds = seconds
        self.size = size
        self._items: dict[Hashable, tuple[float, Any]] = {}

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept for ``key``, or ``make()``'s (kept unless it is None)."""
        now = time.monotonic()
        found = self._items.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = make()
        if value is not None and self.seconds > 0:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (now + self.seconds, value)
        return value

    def forget(self) -> None:
        self._items.clear()


def listings() -> Listings:
    return current_app.extensions["portal.listings"]


def forget() -> None:
    """After a change to the directory: this process builds its pages again."""
    listings().forget()


def init_app(app: Flask) -> None:
    app.extensions["portal.listings"] = Listings(app.config["DIRECTORY_CACHE_SECONDS"])
