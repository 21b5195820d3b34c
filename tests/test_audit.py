"""The audit log: one writer that only inserts, in the action's transaction; append-only in the
database; sealed into a Merkle tree with signed heads by one sealer at a time, even under
concurrent writers; verify-audit names an edit, a deletion, a reordering and a forged head."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal.audit import merkle, sealer, signing
from portal.audit import service as audit
from portal.audit.models import AuditEvent, AuditLeaf, AuditNode, AuditTreeHead
from portal.audit.verify import verify
from portal.database import db, write_transaction
from portal.directory.models import Organisation
from tests.conftest import ON_POSTGRES

AUDIT_TABLES = ("audit_event", "audit_leaf", "audit_node", "audit_tree_head")


def write_events(n: int, **fields) -> None:
    for i in range(n):
        with write_transaction():
            audit.record("test.event", object_type="thing", object_id=i, reason=f"reason {i}", **fields)


def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args or ["verify-audit"]))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_recording_an_event_only_inserts_it(app):
    """No head row, no shared row, no lock: the request's transaction gets one INSERT."""
    with app.app_context():
        write_events(1)  # the first write may read the schema; count the second
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args):
            statements.append(statement.split()[0:3])

        sa.event.listen(db.engine, "before_cursor_execute", seen)
        try:
            with write_transaction():
                audit.record("card.read", section="summary")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert [s for s in statements if s[0] not in ("BEGIN", "COMMIT")] == [["INSERT", "INTO", "audit_event"]]


def test_events_are_sealed_into_a_signed_tree_and_verify(app):
    with app.app_context():
        write_events(5)
        assert verify().ok  # not sealed yet, but within the grace period
        assert sealer.seal_pending() == 5
        assert sealer.seal_pending() == 0  # nothing new: no empty head either
        leaves = list(db.session.scalars(sa.select(AuditLeaf).order_by(AuditLeaf.leaf_index)))
        events = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
        assert [leaf.event_id for leaf in leaves] == [e.id for e in events]
        assert [leaf.leaf_index for leaf in leaves] == [0, 1, 2, 3, 4]
        assert [leaf.leaf_hash for leaf in leaves] == [merkle.leaf_hash(audit.canonical(e)) for e in events]
        head = db.session.scalar(sa.select(AuditTreeHead))
        assert head.tree_size == 5 and head.root_hash == merkle.root_of([leaf.leaf_hash for leaf in leaves])
        key = signing.current_key()
        assert head.key_id == key.key_id
        assert signing.head_signature_ok(key.public_bytes, 5, head.signed_at, head.root_hash, head.signature)
        assert events[0].created_at.tzinfo is not None or not ON_POSTGRES
    result = run_cli(app)
    assert result.exit_code == 0 and result.output.startswith("OK: 5 events sealed, 1 signed tree heads verify")


def test_sealing_in_batches_gives_a_head_per_batch_and_verify_streams(app):
    with app.app_context():
        write_events(37)
        assert sealer.seal_pending(batch=10) == 37
        write_events(6)
        sealer.seal_pending(batch=4)
        sizes = list(db.session.scalars(sa.select(AuditTreeHead.tree_size).order_by(AuditTreeHead.tree_size)))
        assert sizes == [10, 20, 30, 37, 41, 43]
        # Perfect subtrees are stored: 21 + 10 + 5 + 2 + 1 nodes above the 43 leaves.
        assert count(AuditNode) == 39
        verdict = verify(batch=3)
        assert (verdict.ok, verdict.checked, verdict.heads) == (True, 43, 6)


def test_the_seal_audit_command(app):
    with app.app_context():
        write_events(3)
    assert run_cli(app, "seal-audit").output.strip() == "3 events sealed"
    assert run_cli(app, "seal-audit").output.strip() == "0 events sealed"


def test_an_event_is_kept_only_with_its_action(app):
    with app.app_context():
        with pytest.raises(ValueError), write_transaction():
            audit.record("test.rolled_back")
            raise ValueError("the action failed")
        db.session.rollback()
        assert count(AuditEvent) == 0


def test_record_outside_a_write_transaction_is_refused(app):
    with app.app_context(), pytest.raises(RuntimeError, match="inside write_transaction"):
        audit.record("test.nowhere")


def test_an_audited_read_writes_its_events_together_when_its_reads_are_done(app):
    """A card page's reads run without the write lock; its events land in one INSERT at the end."""
    with app.app_context():
        write_events(1)
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_args):
            statements.append(statement.split()[0])

        sa.event.listen(db.engine, "before_cursor_execute", seen)
        try:
            with audit.audited_read():
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
                audit.record_many([audit.event("card.read", section="summary")])
                audit.record_many([audit.event("card.read", section="results")])
                assert count(AuditEvent) == 1  # nothing written yet
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", seen)
        assert [s for s in statements if s not in ("BEGIN", "COMMIT")].count("INSERT") == 1
        sections = list(db.session.scalars(sa.select(AuditEvent.section).order_by(AuditEvent.id)))
        assert sections == [None, "summary", "results"]


def test_an_audited_read_that_fails_writes_no_event(app):
    with app.app_context():
        with pytest.raises(LookupError), audit.audited_read():
            audit.record_many([audit.event("card.read", section="summary")])
            raise LookupError("no such entry: the page answers 404")
        assert count(AuditEvent) == 0
        with pytest.raises(RuntimeError, match="record_many"), audit.audited_read():
            audit.record("card.read")  # returns an id: only inside a write transaction


def test_an_audited_read_does_not_hold_the_write_lock_while_it_reads(app):
    """Another writer gets in while a card page reads (on SQLite it used to wait for the page)."""
    with app.app_context():
        write_events(1)
        with audit.audited_read():
            audit.record_many([audit.event("card.read", section="summary")])
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))  # a read snapshot is open
            other = db.engine.connect()
            try:
                if not ON_POSTGRES:
                    other.connection.driver_connection.execute("PRAGMA busy_timeout = 0")
                with other.begin():  # would fail at once ("database is locked") under a write lock
                    other.execute(sa.insert(AuditEvent.__table__), audit.event("test.other"))
            finally:
                other.close()
        actions = list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions == ["test.event", "test.other", "card.read"]
        assert verify().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET reason = 'edited' WHERE id = 2",
        "DELETE FROM audit_event WHERE id = 2",
        "UPDATE audit_leaf SET event_id = 3 WHERE leaf_index = 0",
        "DELETE FROM audit_leaf WHERE leaf_index = 2",
        "DELETE FROM audit_node",
        "UPDATE audit_tree_head SET tree_size = 2",
        "DELETE FROM audit_tree_head",
    ],
)
def test_the_database_refuses_to_change_or_remove_the_log(app, statement):
    with app.app_context():
        write_events(3)
        sealer.seal_pending()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert run_cli(app).exit_code == 0


def tamper(app, *statements: str | sa.Executable) -> None:
    """Change the log the way someone with direct database access could: triggers off first."""
    with app.app_context(), db.engine.begin() as conn:
        for table in AUDIT_TABLES:
            if ON_POSTGRES:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_delete")
        for statement in statements:
            if isinstance(statement, str):
                conn.exec_driver_sql(statement)
            else:
                conn.execute(statement)
        if ON_POSTGRES:
            for table in AUDIT_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def verdict_of(app, **kwargs):
    with app.app_context():
        return verify(**kwargs)


def sealed_log(app, n: int = 6, batches: int = 2) -> None:
    with app.app_context():
        for _ in range(batches):
            write_events(n // batches)
            sealer.seal_pending()


def swap_leaves(a: int, b: int) -> list[str]:
    """Exchange two leaves' places (event and hash together), as a reordering would."""
    return [
        f"UPDATE audit_leaf SET leaf_index = -1 WHERE leaf_index = {a}",  # noqa: S608 (two integers)
        f"UPDATE audit_leaf SET leaf_index = {a} WHERE leaf_index = {b}",  # noqa: S608
        f"UPDATE audit_leaf SET leaf_index = {b} WHERE leaf_index = -1",  # noqa: S608
    ]


@pytest.mark.parametrize(
    "statements,kind,event_id,message",
    [
        (
            ["UPDATE audit_event SET reason = 'nothing to see' WHERE id = 3"],
            "edited",
            3,
            "event 3 (leaf 2) was changed",
        ),
        (["UPDATE audit_event SET patient_id = NULL, actor_role = 'self' WHERE id = 2"], "edited", 2, "event 2"),
        (["DELETE FROM audit_event WHERE id = 4"], "deleted", 4, "event 4 (leaf 3) was deleted"),
        # Reordering events: two events exchange their contents under the same ids.
        (
            [
                "UPDATE audit_event SET reason = 'x' WHERE id = 2",
                "UPDATE audit_event SET reason = 'reason 1', object_id = '1' WHERE id = 3",
                "UPDATE audit_event SET reason = 'reason 0', object_id = '0' WHERE id = 2",
            ],
            "edited",
            2,
            "event 2",
        ),
        # Reordering leaves: every leaf still matches its event, but not the signed root.
        (swap_leaves(1, 2), "wrong root", None, "the signed head of 3 events does not match the leaves"),
        (swap_leaves(3, 5), "wrong root", None, "the signed head of 6 events does not match the leaves"),
        # A leaf removed: the numbering breaks; the last leaves removed: the heads still name them.
        (["DELETE FROM audit_leaf WHERE leaf_index = 1"], "gap", None, "leaf 1 is missing"),
        (["DELETE FROM audit_leaf WHERE leaf_index = 5"], "short tree", None, "covers 6 events but the tree has 5"),
        # A forged head: an edited root or size, without the key to sign it again.
        (
            [
                "UPDATE audit_tree_head SET root_hash = (SELECT root_hash FROM audit_tree_head WHERE tree_size = 6) "
                "WHERE tree_size = 3"
            ],
            "forged head",
            None,
            "the signature of the head of 3 events does not verify",
        ),
        (["UPDATE audit_tree_head SET tree_size = 4 WHERE tree_size = 3"], "forged head", None, "head of 4 events"),
    ],
)
def test_verify_audit_names_the_first_problem(app, statements, kind, event_id, message):
    sealed_log(app)
    assert verdict_of(app).ok
    tamper(app, *statements)
    verdict = verdict_of(app)
    assert (verdict.ok, verdict.kind, verdict.event_id) == (False, kind, event_id)
    assert message in verdict.problem
    result = run_cli(app)
    assert result.exit_code == 1
    assert result.output.startswith(f"BROKEN ({kind}): ")
    assert message in result.output


def test_a_head_rewritten_to_match_an_edit_is_caught(app):
    """Someone who edits an event, fixes its leaf and every stored hash and re-signs the heads
    with a key of their own is still caught: the portal's key did not sign them."""
    sealed_log(app)
    forger = Ed25519PrivateKey.generate()
    with app.app_context():
        event = db.session.get(AuditEvent, 2)
        db.session.expunge(event)
        event.reason = "forged"
        hashes = [leaf.leaf_hash for leaf in db.session.scalars(sa.select(AuditLeaf).order_by(AuditLeaf.leaf_index))]
        hashes[1] = merkle.leaf_hash(audit.canonical(event))
        heads = list(db.session.scalars(sa.select(AuditTreeHead)))
        db.session.rollback()
        updates = [
            sa.update(AuditEvent).where(AuditEvent.id == 2).values(reason="forged"),
            sa.update(AuditLeaf).where(AuditLeaf.leaf_index == 1).values(leaf_hash=hashes[1]),
        ]
        for head in heads:
            root = merkle.root_of(hashes[: head.tree_size])
            signature = forger.sign(signing.head_message(head.tree_size, signing.to_millis(head.signed_at), root))
            updates.append(
                sa.update(AuditTreeHead)
                .where(AuditTreeHead.tree_size == head.tree_size)
                .values(root_hash=root, signature=signature)
            )
    tamper(app, *updates)
    verdict = verdict_of(app)
    assert verdict.kind == "forged head" and verdict.tree_size == 3


def test_a_head_signed_by_another_key_is_named(app):
    sealed_log(app)
    tamper(app, sa.update(AuditTreeHead).where(AuditTreeHead.tree_size == 6).values(key_id="ab" * 32))
    verdict = verdict_of(app)
    assert (verdict.kind, verdict.tree_size) == ("forged head", 6)
    assert "names a key this portal does not have" in verdict.problem


def test_an_event_that_was_never_sealed_is_missing_after_the_grace_period(app):
    with app.app_context():
        write_events(3)
        sealer.seal_pending()
        write_events(1)  # written, not sealed
        later = datetime.now(UTC) + timedelta(seconds=app.config["AUDIT_GRACE_SECONDS"] + 1)
        assert verify().ok
        verdict = verify(now=later)
    assert (verdict.ok, verdict.kind, verdict.event_id) == (False, "missing", 4)
    assert "event 4 is older than 60 s and in no leaf" in verdict.problem


def test_a_removed_leaf_and_its_heads_leave_the_event_missing(app):
    sealed_log(app)
    tamper(app, "DELETE FROM audit_tree_head WHERE tree_size = 6", "DELETE FROM audit_leaf WHERE leaf_index = 5")
    verdict = verdict_of(app, now=datetime.now(UTC) + timedelta(minutes=5))
    assert (verdict.kind, verdict.event_id) == ("missing", 6)


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
    """Every column of an audit event is covered by its leaf (the id too: an event moved to
    another id leaves its leaf without its event). Editing any one of them in the database makes
    verify-audit name that event (a column added to the model but left out of the hash fails here)."""
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
                        target, original = event.id, getattr(event, column)
        assert None not in [getattr(event, c.name) for c in AuditEvent.__table__.columns]
        sealer.seal_pending()
        table = AuditEvent.__table__
        value = changed_value(table.c[column], original)
        db.session.remove()
    assert run_cli(app).exit_code == 0
    tamper(app, sa.update(table).where(table.c.id == target).values({column: value}))
    verdict = verdict_of(app)
    assert (verdict.ok, verdict.event_id) == (False, target)
    assert verdict.kind == ("deleted" if column == "id" else "edited")
    assert run_cli(app).exit_code == 1


def test_concurrent_writers_while_the_sealer_runs_lose_nothing(app):
    """Six writers append at once while two sealers follow (as on two worker machines): every
    event ends up in exactly one leaf, in one tree whose every signed head verifies."""
    errors: list[BaseException] = []

    def writer() -> None:
        with app.app_context():
            try:
                write_events(15, actor_role="doctor")
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    sealers = [sealer.start_sealer_thread(app, interval=0.01) for _ in range(2)]
    # A first event, sealed by the followers before the writers start: the 90 that follow then
    # need at least one more head, however fast the writers are (they once finished before either
    # sealer's first look, and all 90 went into one head).
    with app.app_context():
        write_events(1, actor_role="doctor")
        deadline = time.monotonic() + 10
        while count(AuditTreeHead) < 1 and time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.01)
        db.session.remove()
    writers = [threading.Thread(target=writer) for _ in range(6)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    for thread, stop in sealers:
        stop.set()
        thread.join(timeout=30)
    assert errors == []
    with app.app_context():
        sealer.seal_pending()  # whatever the followers had not reached when they stopped
        assert count(AuditEvent) == 91
        assert count(AuditLeaf) == 91
        assert db.session.scalar(sa.select(sa.func.count(sa.distinct(AuditLeaf.event_id)))) == 91
        assert db.session.scalar(sa.select(sa.func.max(AuditLeaf.leaf_index))) == 90
        assert count(AuditTreeHead) >= 2
    result = run_cli(app)
    assert result.output.startswith("OK: 91 events sealed"), result.output


@pytest.mark.skipif(not ON_POSTGRES, reason="on SQLite writers are serialised: ids commit in order")
def test_an_event_that_commits_late_with_a_lower_id_is_sealed_next(app):
    """PostgreSQL hands out ids before commit: an event can commit after a later id was sealed.
    It is sealed in the next batch, after it in the tree; the tree's order is the seal order."""
    with app.app_context():
        write_events(2)
        sealer.seal_pending()
    started, go_on = threading.Event(), threading.Event()
    late: list[int] = []

    def slow_writer() -> None:
        with app.app_context():
            with write_transaction():
                late.append(audit.record("test.late").id)
                started.set()
                go_on.wait(10)
            db.session.remove()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    started.wait(10)
    with app.app_context():
        write_events(1)  # a higher id, committed first
        sealer.seal_pending()
        go_on.set()
        thread.join(10)
        sealer.seal_pending()
        order = list(db.session.scalars(sa.select(AuditLeaf.event_id).order_by(AuditLeaf.leaf_index)))
        assert order[-1] == late[0] and order[-2] > late[0]
        assert verify().ok


@pytest.mark.timing
def test_an_event_is_sealed_within_a_second(app):
    thread, stop = sealer.start_sealer_thread(app)
    try:
        with app.app_context():
            time.sleep(0.3)  # the thread is running
            for _ in range(3):
                with write_transaction():
                    event_id = audit.record("card.read", section="summary").id
                written = time.monotonic()
                while time.monotonic() - written < 2:
                    db.session.rollback()  # a fresh snapshot each look
                    sealed = sa.select(AuditLeaf.leaf_index).where(AuditLeaf.event_id == event_id)
                    if db.session.scalar(sealed) is not None:
                        break
                    time.sleep(0.02)
                assert time.monotonic() - written < 1.0
            db.session.remove()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_the_public_key_is_published(client, app):
    body = client.get("/audit/public-key").get_json()
    with app.app_context():
        key = signing.current_key()
    assert body["algorithm"] == "Ed25519"
    assert base64.b64decode(body["public_key"]) == key.public_bytes
    assert body["key_id"] == key.key_id


def test_the_background_worker_starts_the_sealer():
    """`flask worker` (which `make run` starts beside gunicorn) runs the sealer thread: without it
    nothing is sealed and verify-audit reports every event as missing after the grace period."""
    import importlib

    from portal import tasks

    starters = []
    for name in tasks.BACKGROUND_STARTERS:
        module, _, function = name.partition(":")
        starters.append(getattr(importlib.import_module(module), function))
    assert sealer.start_sealer_thread in starters
