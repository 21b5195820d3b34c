"""A plugin's own tables: a declarative base per plugin, keys into the two core tables a plugin
may reference, the database session and the core's write transaction.

A plugin never queries core tables. It keeps its data in tables named ``<name>_...`` declared on
``PluginData.Model``, in a metadata of their own, so the core's migrations never see them and
each plugin's Alembic branch (``migrations/versions`` in its package) sees only its own. The only
foreign keys into the core are ``patient_key()`` and ``account_key()``: ``patient.id`` and
``account.id`` are stable, every other core table may change shape without notice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, MetaData
from sqlalchemy.orm import DeclarativeBase, Session

from portal.database import NAMING_CONVENTION, db, write_transaction

__all__ = ["PluginData", "account_key", "db_session", "patient_key", "write_transaction"]

PLUGIN_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class PluginData:
    """What a plugin keeps in the database.

    ``name`` prefixes every table (``<name>_...``) and names the Alembic version table
    (``<name>_alembic_version``); it is the plugin's name as enabled (for a ``TESTING_PLUGINS``
    import path, its last part). ``Model`` is the declarative base of the plugin's tables and
    ``versions`` the folder of its Alembic revisions, ``migrations/versions`` beside
    ``package_file`` (pass the package's ``__file__``). The portal checks all of it at start-up.
    """

    def __init__(self, name: str, package_file: str) -> None:
        if not PLUGIN_NAME.fullmatch(name):
            raise ValueError(f"plugin data name {name!r}: lower-case letters, digits and _, at most 40")
        self.name = name
        self.metadata = MetaData(naming_convention=NAMING_CONVENTION)
        self.Model: type[DeclarativeBase] = type(
            f"{name}_Model", (DeclarativeBase,), {"metadata": self.metadata, "__abstract__": True}
        )
        self.versions = Path(package_file).resolve().parent / "migrations" / "versions"

    @property
    def prefix(self) -> str:
        return f"{self.name}_"

    @property
    def version_table(self) -> str:
        return f"{self.name}_alembic_version"


def patient_key(**kwargs: Any) -> ForeignKey:
    """A foreign key to ``patient.id``, one of the two core columns a plugin's table may reference."""
    from portal.record.models import Patient

    return ForeignKey(Patient.__table__.c.id, **kwargs)


def account_key(**kwargs: Any) -> ForeignKey:
    """A foreign key to ``account.id``, one of the two core columns a plugin's table may reference."""
    from portal.auth.models import Account

    return ForeignKey(Account.__table__.c.id, **kwargs)


def db_session() -> Session:
    """The database session of the running request or command (read with it; write inside
    ``write_transaction()``, which commits the block or rolls all of it back)."""
    return db.session()
