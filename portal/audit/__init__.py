"""The access log: append-only, hash-chained AuditEvents, the one writer, and verification."""
