"""Schedules (rules and exceptions), slots and appointments; the waiting list, home visits and
reminders build on them. The directory of organisations lives in portal/directory."""
