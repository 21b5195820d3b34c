"""The audit log: one writer, in the action's transaction, append-only in the database,
hash-chained, linear under concurrent writers, verified from the command line."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.appointments.models import Organisation
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from tests.conftest import ON_POSTGRES


def write_events(n: int, **fields) -> None:
    for i in range(n):
        with write_transaction():
            audit.record("test.event", object_type="thing", object_id=i, reason=f"reason {i}", **fields)


def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=["verify-audit", *args])


def test_events_chain_and_verify(app):
    with app.app_context():
        write_events(5)
        events = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))
        assert [e.seq for e in events] == [1, 2, 3, 4, 5]
        assert events[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
        assert events[0].created_at.tzinfo is not None or not ON_POSTGRES
    result = run_cli(app)
    assert result.exit_code == 0 and result.output.startswith("OK: 5 events")


def test_an_event_is_kept_only_with_its_action(app):
    with app.app_context():
        with pytest.raises(ValueError), write_transaction():
            audit.record("test.rolled_back")
            raise ValueError("the action failed")
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_record_outside_a_write_transaction_is_refused(app):
    with app.app_context(), pytest.raises(RuntimeError, match="inside write_transaction"):
        audit.record("test.nowhere")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET reason = 'edited' WHERE seq = 2",
        "DELETE FROM audit_event WHERE seq = 2",
    ],
)
def test_the_database_refuses_to_change_or_remove_events(app, statement):
    with app.app_context():
        write_events(3)
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert run_cli(app).exit_code == 0


def tamper(app, *statements: str | sa.Executable) -> None:
    """Change the log the way someone with direct database access could: triggers off first."""
    with app.app_context(), db.engine.begin() as conn:
        if ON_POSTGRES:
            conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        for statement in statements:
            if isinstance(statement, str):
                conn.exec_driver_sql(statement)
            else:
                conn.execute(statement)
        if ON_POSTGRES:
            conn.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER USER")


@pytest.mark.parametrize(
    "statements,broken_at",
    [
        (["UPDATE audit_event SET reason = 'nothing to see' WHERE seq = 3"], 3),
        (["UPDATE audit_event SET patient_id = NULL, actor_role = 'self' WHERE seq = 2"], 2),
        (["DELETE FROM audit_event WHERE seq = 4"], 4),
        (
            [
                "UPDATE audit_event SET seq = -1 WHERE seq = 2",
                "UPDATE audit_event SET seq = 2 WHERE seq = 3",
                "UPDATE audit_event SET seq = 3 WHERE seq = -1",
            ],
            2,
        ),
        (["DELETE FROM audit_event WHERE seq = 6"], 6),
    ],
)
def test_verify_audit_names_the_first_broken_link(app, statements, broken_at):
    with app.app_context():
        write_events(6)
    tamper(app, *statements)
    result = run_cli(app)
    assert result.exit_code == 1
    assert result.output.startswith(f"BROKEN at event {broken_at}")


def test_a_recomputed_hash_does_not_hide_an_edit(app):
    """Editing an event and fixing its own hash still breaks the link to the next event."""
    with app.app_context():
        write_events(4)
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == 2))
        event.reason = "forged"
        forged = audit.chain_hash(event.prev_hash, event)
        db.session.rollback()
    tamper(app, f"UPDATE audit_event SET reason = 'forged', hash = '{forged}' WHERE seq = 2")  # noqa: S608
    assert run_cli(app).output.startswith("BROKEN at event 3")


def test_the_chain_stays_linear_under_concurrent_writers(app):
    errors: list[BaseException] = []

    def worker() -> None:
        with app.app_context():
            try:
                write_events(10, actor_role="doctor")
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with app.app_context():
        seqs = list(db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(1, 61))
    assert run_cli(app).output.startswith("OK: 60 events")


def changed_value(column: sa.Column, value: object) -> object:
    """Another value for ``column`` that the database accepts: NULL where it may be empty,
    otherwise something of the same type that differs from ``value``."""
    if column.nullable and value is not None:
        return None
    python_type = column.type.python_type
    if python_type is datetime:
        return value - timedelta(seconds=1)
    if python_type is int:
        return value + 1_000_000
    return "tampered" if value != "tampered" else "forged"


@pytest.mark.parametrize("column", [c.name for c in AuditEvent.__table__.columns])
def test_an_edit_to_any_field_of_an_event_is_named(app, demo, column):
    """Every column of an audit event is covered by the chain: the hash covers its fields, the
    link covers prev_hash, the order covers id and seq. Editing any one of them in the database
    makes verify-audit name that event (a column added to the model but left out of the hash
    fails here)."""
    with app.app_context():
        # Every field filled, so each can be changed to NULL or another value.
        organisation = db.session.scalar(sa.select(Organisation.id).limit(1))
        with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.7"}):
            for i in range(3):
                with write_transaction():
                    event = audit.record(
                        "card.open",
                        actor_id=demo["doctor"].id,
                        actor_role="doctor",
                        on_behalf_of_id=demo["patient"].id,
                        organisation_id=organisation,
                        patient_id=demo["patient"].patient_id,
                        section="summary",
                        object_type="thing",
                        object_id=i,
                        outcome="success",
                        reason=f"reason {i}",
                    )
                    if i == 1:
                        target, original = event.seq, getattr(event, column)
        assert None not in [getattr(event, c.name) for c in AuditEvent.__table__.columns]
        table = AuditEvent.__table__
        value = changed_value(table.c[column], original)
        db.session.remove()
    assert run_cli(app).exit_code == 0
    tamper(app, sa.update(table).where(table.c.seq == target).values({column: value}))
    result = run_cli(app)
    assert result.exit_code == 1
    assert result.output.startswith(f"BROKEN at event {target}:"), result.output
