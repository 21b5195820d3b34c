"""Access control: the only place that decides who may see what.

Every endpoint either is marked ``public`` (reviewed: it shows no personal data) or declares its
access requirement; ``tests/test_routes.py`` fails the build for a route that does neither.
The policy for medical data (self, guardian, trusted person, clinician, emergency) lands in
``policy.py`` with the identity issue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

PUBLIC_MARK = "_portal_access_public"


def public(view: F) -> F:
    """Mark a view as reviewed and public: it shows no personal or medical data."""
    setattr(view, PUBLIC_MARK, True)
    return view


def is_public(view: Callable) -> bool:
    return bool(getattr(view, PUBLIC_MARK, False))
