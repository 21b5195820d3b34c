"""The database: migrations match the models, SQLite tuning, and writes that are all-or-nothing
and do not deadlock under concurrent writers."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.database import db, write_transaction
from portal.identifiers import make_snils
from portal.record.models import Patient
from tests.conftest import ON_POSTGRES


def test_migrations_produce_exactly_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_migrations_are_at_head(app):
    from alembic.script import ScriptDirectory

    with app.app_context(), db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        migrate = app.extensions["migrate"]
        config = migrate.migrate.get_config(migrate.directory)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert heads == [current]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite pragmas")
def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(app):
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def patient(n: int, **overrides) -> Patient:
    values = dict(
        surname="Иванова",
        name="Мария",
        patronymic="Петровна",
        birth_date=date(2017, 3, 1),
        sex="F",
        snils=make_snils(f"{200000000 + n:09d}"),
    )
    values.update(overrides)
    return Patient(**values)


def count_patients() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Patient))


def test_a_failed_write_keeps_nothing(app):
    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError), write_transaction() as session:
            session.add(patient(1))
            session.flush()
            session.add(patient(2, sex="X"))  # refused by the check constraint
            session.flush()
        db.session.rollback()
        assert count_patients() == 0


def test_a_successful_write_is_committed(app):
    with app.app_context():
        with write_transaction() as session:
            session.add(patient(1))
        db.session.remove()
        assert count_patients() == 1


def test_changes_outside_a_write_transaction_are_refused(app):
    with app.app_context():
        count_patients()  # a read opens a transaction
        db.session.add(patient(1))
        with pytest.raises(RuntimeError, match="outside write_transaction"), write_transaction():
            pass
        db.session.rollback()


def test_what_a_request_keeps_loaded_is_not_read_again_and_cannot_be_changed(app):
    """``keep_loaded`` (a card page's account and session): its write transaction reads everything
    else again under the write lock, not those; and a change to one of them is refused, never
    written from the copy loaded before the lock."""
    from portal.database import keep_loaded
    from tests.test_htmx import recorded_statements

    with app.app_context():
        with write_transaction() as session:
            session.add_all([patient(1), patient(2, name="Анна")])
        db.session.remove()
        kept, other = db.session.scalars(sa.select(Patient).order_by(Patient.id)).all()
        keep_loaded(kept)
        kept_id = kept.id
        with recorded_statements(app) as statements, write_transaction():
            assert (kept.name, other.name) == ("Мария", "Анна")
        assert len(statements) == 1  # the other patient, read again; not the kept one
        with pytest.raises(RuntimeError, match="keep_loaded"), write_transaction():
            kept.name = "Ольга"
        db.session.rollback()
        db.session.remove()
        assert db.session.scalar(sa.select(Patient.name).where(Patient.id == kept_id)) == "Мария"


def test_concurrent_read_then_write_transactions_do_not_deadlock(app):
    """Eight threads each read, then write, at the same time: all must succeed."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        with app.app_context():
            try:
                count_patients()  # a read snapshot first, as a request would
                barrier.wait()
                for i in range(5):
                    with write_transaction() as session:
                        count_patients()
                        session.add(patient(n * 100 + i))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with app.app_context():
        assert count_patients() == 40


def test_names_sort_in_russian_order_on_postgresql(app):
    if not ON_POSTGRES:
        pytest.skip("the ICU collation is a PostgreSQL feature; SQLite sorts by code point")
    with app.app_context():
        with write_transaction() as session:
            for i, surname in enumerate(["ёжиков", "Яковлев", "азбукин", "Ёлкин", "Борисов"]):
                session.add(patient(i, surname=surname))
        names = list(db.session.scalars(sa.select(Patient.surname).order_by(Patient.surname)))
    assert names == ["азбукин", "Борисов", "ёжиков", "Ёлкин", "Яковлев"]
