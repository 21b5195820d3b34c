"""The sealer: takes committed events that are not yet in the Merkle tree, appends them as leaves,
stores the perfect subtrees they complete, and signs the new tree head.

Events are taken in id order; one that commits late, with an id below events already sealed, goes
into the next batch: the tree's order is the order of sealing, and verify-audit checks that
order against the signed heads. Only one sealer works at a time, however many processes run
one: on PostgreSQL a transaction-level advisory lock, on SQLite the database's write lock
(``write_transaction`` begins IMMEDIATE). Requests never wait for it on PostgreSQL; on SQLite
it holds the write lock for one batch (a few milliseconds).

A leaf-side module like the writer: it imports no feature package.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import exists, func, insert, select, text

from portal.audit import merkle, signing
from portal.audit.models import AuditEvent, AuditLeaf, AuditNode, AuditTreeHead
from portal.audit.service import event_leaf_hash
from portal.database import db, write_transaction

log = logging.getLogger(__name__)

ADVISORY_LOCK = 0x6D6B_6175  # "mkau": one sealer at a time on PostgreSQL
BATCH = 2000  # events per transaction: short enough not to hold SQLite's write lock for long
LATE_COMMIT_FACTOR = 2  # look for late commits among events written in the last 2 × grace period

EVENT = AuditEvent.__table__
LEAF = AuditLeaf.__table__
NODE = AuditNode.__table__
HEAD = AuditTreeHead.__table__


def seal_pending(batch: int = BATCH) -> int:
    """Seal every event committed before the call; return how many were sealed. One signed tree
    head per batch; nothing is written when there is nothing new."""
    total = 0
    while True:
        sealed = _seal_batch(batch)
        total += sealed
        if sealed < batch:
            return total


def load_frontier(session, size: int) -> merkle.Frontier:
    """The right edge of the stored tree of ``size`` leaves, from O(log n) stored hashes."""
    positions = merkle.frontier_positions(size)
    return merkle.Frontier(size, [hashes for hashes in subtree_hashes(session, positions)])


def subtree_hashes(session, positions: list[tuple[int, int]]) -> list[bytes]:
    """The stored hashes of perfect subtrees given as (level, position), in that order: two
    queries, whatever their number."""
    wanted_leaves = [pos for level, pos in positions if level == 0]
    wanted_nodes = [(level, pos) for level, pos in positions if level > 0]
    found: dict[tuple[int, int], bytes] = {}
    if wanted_leaves:
        rows = session.execute(select(LEAF.c.leaf_index, LEAF.c.leaf_hash).where(LEAF.c.leaf_index.in_(wanted_leaves)))
        found.update({(0, index): digest for index, digest in rows})
    if wanted_nodes:
        levels = {level for level, _ in wanted_nodes}
        rows = session.execute(
            select(NODE.c.level, NODE.c.position, NODE.c.hash).where(
                NODE.c.level.in_(levels), NODE.c.position.in_({pos for _, pos in wanted_nodes})
            )
        )
        found.update({(level, pos): digest for level, pos, digest in rows})
    missing = [p for p in positions if p not in found]
    if missing:
        raise LookupError(f"the audit tree lacks its stored subtrees {missing}")
    return [found[p] for p in positions]


def _late_commit_bound(session, now: datetime) -> int:
    """An event id below every id handed out in the late-commit window: the last event sealed by
    the newest head signed before the window began (its id was taken before that moment)."""
    cutoff = now - timedelta(seconds=LATE_COMMIT_FACTOR * current_app.config["AUDIT_GRACE_SECONDS"])
    size = session.scalar(
        select(HEAD.c.tree_size).where(HEAD.c.signed_at <= cutoff).order_by(HEAD.c.tree_size.desc()).limit(1)
    )
    if not size:
        return 0
    return session.scalar(select(LEAF.c.event_id).where(LEAF.c.leaf_index == size - 1)) or 0


def _seal_batch(batch: int) -> int:
    with write_transaction() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        now = datetime.now(UTC)
        size = session.scalar(select(func.max(LEAF.c.leaf_index)))
        size = 0 if size is None else size + 1
        last_id = session.scalar(select(func.max(LEAF.c.event_id))) or 0
        events = list(session.execute(select(EVENT).where(EVENT.c.id > last_id).order_by(EVENT.c.id).limit(batch)))
        if postgres and size:
            # On SQLite writers are serialised, so ids commit in order; on PostgreSQL an id taken
            # before ``last_id`` may commit after it was sealed.
            unsealed = ~exists().where(LEAF.c.event_id == EVENT.c.id)
            late_from = _late_commit_bound(session, now)
            late = session.execute(
                select(EVENT)
                .where(EVENT.c.id > late_from, EVENT.c.id < last_id, unsealed)
                .order_by(EVENT.c.id)
                .limit(batch)
            )
            events = sorted([*late, *events], key=lambda e: e.id)[:batch]
        if not events:
            return 0
        frontier = load_frontier(session, size)
        leaves, nodes = [], []
        for event in events:
            digest = event_leaf_hash(event)
            leaves.append({"leaf_index": frontier.size, "event_id": event.id, "leaf_hash": digest})
            nodes += [{"level": lv, "position": pos, "hash": h} for lv, pos, h in frontier.append(digest)]
        session.execute(insert(LEAF), leaves)
        if nodes:
            session.execute(insert(NODE), nodes)
        key = signing.current_key()
        millis = signing.to_millis(datetime.now(UTC))
        root = frontier.root()
        session.execute(
            insert(HEAD).values(
                tree_size=frontier.size,
                root_hash=root,
                signed_at=signing.from_millis(millis),
                signature=signing.sign_head(key, frontier.size, millis, root),
                key_id=key.key_id,
            )
        )
        return len(events)


def follow(stop: threading.Event, interval: float = 0.2) -> None:
    """Seal, wait ``interval`` seconds, repeat, until ``stop`` is set (inside an app context). An
    event is in a signed head within about ``interval`` plus one batch of it being committed."""
    while not stop.is_set():
        try:
            seal_pending()
        except Exception:  # a locked or unreachable database: say so and try again
            log.exception("the audit sealer failed; retrying")
        finally:
            db.session.remove()
        stop.wait(interval)


def start_sealer_thread(app: Flask, interval: float = 0.2) -> tuple[threading.Thread, threading.Event]:
    """Run ``follow`` in a daemon thread with its own app context (for the background worker
    process). Set the returned event and join the thread to stop it."""
    stop = threading.Event()

    def run() -> None:
        with app.app_context():
            follow(stop, interval)

    thread = threading.Thread(target=run, name="audit-sealer", daemon=True)
    thread.start()
    return thread, stop
