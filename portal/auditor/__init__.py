"""The auditor's workspace: the organisation's audit events (search and export), the review of its
emergency accesses, and the check of the log's Merkle tree. Metadata only: no page here shows a
card's content."""
