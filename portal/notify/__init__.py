"""Notifications: the outbox, the channels that deliver it (e-mail, SMS by plugin, the demo
outbox page) and, later, the inbox and reminders."""
