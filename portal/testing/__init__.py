"""The author's kit: test a plugin against the real portal.

The fixtures (``portal_app``, ``client_as``, ``demo_cards``, ``count_queries``, ``check_page``) come
from ``portal.testing.plugin``, which pytest loads by itself once the portal is installed (entry
point ``medkarta`` in the group ``pytest11``; ``-p no:medkarta`` turns it off). The helpers here are
for tests that build their own fixtures; docs/writing_plugins.md shows both."""

from portal.testing.database import ON_POSTGRES, TEST_SECRET, make_app
from portal.testing.people import ROLES, card_ids, seed_people, session_for, signed_in_client
from portal.testing.web import csrf_token, outbox, recorded_statements

__all__ = [
    "ON_POSTGRES",
    "ROLES",
    "TEST_SECRET",
    "card_ids",
    "csrf_token",
    "make_app",
    "outbox",
    "recorded_statements",
    "seed_people",
    "session_for",
    "signed_in_client",
]
