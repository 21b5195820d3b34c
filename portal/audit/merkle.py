"""Merkle tree hashing as in Certificate Transparency (RFC 9162, section 2.1): pure functions, no
database. Leaves are SHA-256(0x00 || data), interior nodes SHA-256(0x01 || left || right); the
tree of n leaves splits at the largest power of two smaller than n."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def frontier_positions(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees a tree of ``size`` leaves is made of, left to right, as (level,
    position): one for each bit set in ``size``, largest first."""
    out, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


class Frontier:
    """The right edge of a growing tree: the hashes of its perfect subtrees, largest first; O(log n)
    memory. ``append`` returns the new perfect subtrees it completed, as (level, position, hash)."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        levels = [level for level, _ in frontier_positions(size)]
        if len(levels) != len(hashes):
            raise ValueError("a frontier needs one hash per bit of its size")
        self.size = size
        self.stack: list[tuple[int, bytes]] = list(zip(levels, hashes, strict=True))

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        made = []
        level, digest = 0, leaf
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            level, digest = level + 1, node_hash(left, digest)
            made.append((level, self.size >> level, digest))
        self.stack.append((level, digest))
        self.size += 1
        return made

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node_hash(left, digest)
        return digest


def root_of(hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes, by the recursive definition (for tests and the proof)."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = split(len(hashes))
    return node_hash(root_of(hashes[:k]), root_of(hashes[k:]))


def perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """The aligned perfect subtrees, as (level, position), whose fold is MTH(D[start:end]), left to
    right (``start`` is a multiple of the largest power of two not above ``end - start``, as every
    subtree in an audit path is)."""
    parts = []
    while start < end:
        size = end - start
        k = size if size & (size - 1) == 0 else split(size)
        level = k.bit_length() - 1
        if start % k:
            raise ValueError(f"[{start}, {end}) is not aligned")
        parts.append((level, start >> level))
        start += k
    return parts


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect subtrees left to right into their MTH (the right-most pair first)."""
    digest = hashes[-1]
    for left in reversed(hashes[:-1]):
        digest = node_hash(left, digest)
    return digest


def audit_path_ranges(index: int, size: int, start: int = 0) -> list[tuple[int, int]]:
    """RFC 9162 PATH(index, D[start:start+size]) as the leaf ranges [a, b) whose MTH make it,
    nearest the leaf first."""
    if size <= 1:
        return []
    k = split(size)
    if index < k:
        return [*audit_path_ranges(index, k, start), (start + k, start + size)]
    return [*audit_path_ranges(index - k, size - k, start + k), (start, start + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Iterable[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``path`` prove leaf ``index`` in the tree of ``size`` with ``root``?"""
    if index >= size:
        return False
    fn, sn, digest = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and digest == root
