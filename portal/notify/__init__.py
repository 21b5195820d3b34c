"""Notifications: the outbox, the channels that deliver it (e-mail, SMS through a gateway, the demo
outbox page) and, later, the inbox and reminders."""
