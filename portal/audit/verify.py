"""verify-audit: check the audit log against its Merkle tree and signed tree heads.

One pass over the leaves in index order, each joined to its event (in batches), rebuilding the
tree's right edge (O(log n) hashes) and comparing it with every signed head as the count of
leaves reaches the head's size; then one query for events that should have been sealed and were
not. Time O(n), memory O(log n + batch): it works at millions of events. The first problem is
named and the check stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select

from portal.audit import merkle, signing
from portal.audit.models import AuditEvent, AuditLeaf, AuditTreeHead
from portal.audit.service import FIELDS, event_leaf_hash
from portal.database import db

EVENT = AuditEvent.__table__
LEAF = AuditLeaf.__table__
HEAD = AuditTreeHead.__table__

# What went wrong, as the Verdict's ``kind``.
EDITED = "edited"  # the event differs from what was sealed
DELETED = "deleted"  # a leaf whose event is gone
MISSING = "missing"  # an event older than the grace period that is in no leaf
GAP = "gap"  # leaf indices not 0, 1, 2, …
FORGED_HEAD = "forged head"  # a head whose signature does not verify (or an unknown key)
WRONG_ROOT = "wrong root"  # a head whose root is not the tree of its first tree_size leaves
SHORT_TREE = "short tree"  # a head larger than the tree


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int  # leaves checked before the problem (all of them when ok)
    heads: int = 0  # signed heads checked
    kind: str = ""
    problem: str = ""
    event_id: int | None = None
    leaf_index: int | None = None
    tree_size: int | None = None

    def describe(self) -> str:
        if self.ok:
            return f"OK: {self.checked} events sealed, {self.heads} signed tree heads verify"
        return f"BROKEN ({self.kind}): {self.problem}"


def verify(batch: int = 5000, now: datetime | None = None) -> Verdict:
    key = signing.current_key()
    grace = timedelta(seconds=current_app.config["AUDIT_GRACE_SECONDS"])
    frontier = merkle.Frontier()
    heads = _heads(batch)
    head = next(heads, None)
    checked_heads = 0
    columns = [LEAF.c.leaf_index, LEAF.c.event_id, LEAF.c.leaf_hash, EVENT.c.id.label("found")]
    columns += [EVENT.c[name] for name in FIELDS if name != "id"]
    while True:
        rows = db.session.execute(
            select(*columns)
            .select_from(LEAF.outerjoin(EVENT, EVENT.c.id == LEAF.c.event_id))
            .where(LEAF.c.leaf_index >= frontier.size)
            .order_by(LEAF.c.leaf_index)
            .limit(batch)
        ).all()
        for row in rows:
            n = frontier.size
            if row.leaf_index != n:
                return Verdict(
                    False, n, checked_heads, GAP, f"leaf {n} is missing (the next is {row.leaf_index})", leaf_index=n
                )
            if row.found is None:
                return Verdict(
                    False, n, checked_heads, DELETED, f"event {row.event_id} (leaf {n}) was deleted", row.event_id, n
                )
            if event_leaf_hash(_Event(row)) != row.leaf_hash:
                return Verdict(
                    False,
                    n,
                    checked_heads,
                    EDITED,
                    f"event {row.event_id} (leaf {n}) was changed after it was sealed",
                    row.event_id,
                    n,
                )
            frontier.append(row.leaf_hash)
            while head is not None and head.tree_size == frontier.size:
                if problem := _head_problem(head, frontier.root(), key):
                    return Verdict(False, frontier.size, checked_heads, *problem, tree_size=head.tree_size)
                checked_heads += 1
                head = next(heads, None)
            if head is not None and head.tree_size < frontier.size:  # a size that is never reached
                return Verdict(
                    False,
                    frontier.size,
                    checked_heads,
                    WRONG_ROOT,
                    f"the signed head of {head.tree_size} events matches no tree",
                    tree_size=head.tree_size,
                )
        if len(rows) < batch:
            break
    if head is not None:
        return Verdict(
            False,
            frontier.size,
            checked_heads,
            SHORT_TREE,
            f"a signed head covers {head.tree_size} events but the tree has {frontier.size}: "
            f"leaves from {frontier.size} on were removed",
            leaf_index=frontier.size,
            tree_size=head.tree_size,
        )
    cutoff = (now or datetime.now(UTC)) - grace
    unsealed = db.session.scalar(
        select(EVENT.c.id)
        .where(EVENT.c.created_at < cutoff, ~exists().where(LEAF.c.event_id == EVENT.c.id))
        .order_by(EVENT.c.id)
        .limit(1)
    )
    if unsealed is not None:
        return Verdict(
            False,
            frontier.size,
            checked_heads,
            MISSING,
            f"event {unsealed} is older than {int(grace.total_seconds())} s and in no leaf: it was never sealed, "
            "or its leaf was removed",
            unsealed,
        )
    return Verdict(True, frontier.size, checked_heads)


class _Event:
    """A joined row read as the event it holds (``found`` is its id)."""

    def __init__(self, row) -> None:
        self._row = row

    def __getattr__(self, name: str):
        return self._row.found if name == "id" else getattr(self._row, name)


def _heads(batch: int):
    last = 0
    while True:
        rows = db.session.execute(
            select(HEAD).where(HEAD.c.tree_size > last).order_by(HEAD.c.tree_size).limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].tree_size


def _head_problem(head, root: bytes, key: signing.SigningKey) -> tuple[str, str] | None:
    if head.key_id != key.key_id:
        return FORGED_HEAD, f"the signed head of {head.tree_size} events names a key this portal does not have"
    if not signing.head_signature_ok(key.public_bytes, head.tree_size, head.signed_at, head.root_hash, head.signature):
        return FORGED_HEAD, f"the signature of the head of {head.tree_size} events does not verify"
    if head.root_hash != root:
        return WRONG_ROOT, (
            f"the signed head of {head.tree_size} events does not match the leaves: they were reordered, "
            "replaced or removed"
        )
    return None
