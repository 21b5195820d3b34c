"""Every feature's models, imported in one place so migrations and ``create_all`` see them all."""

from portal.appointments.models import Organisation
from portal.record.models import Patient

__all__ = ["Organisation", "Patient"]
