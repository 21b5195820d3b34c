"""Consent to the processing of personal data (152-FZ): give, read, revoke, history."""
