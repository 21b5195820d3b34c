"""The access log: append-only AuditEvents, the one writer, the sealer into a signed Merkle tree,
verification and proofs."""
