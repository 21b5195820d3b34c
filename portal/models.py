"""Every feature's models, imported in one place so migrations and ``create_all`` see them all."""

from portal.access.models import CareRelationship, EmergencyAccess
from portal.appointments.models import Organisation
from portal.audit.models import AuditEvent, AuditHead
from portal.auth.models import (
    Account,
    IdentityDocument,
    OneTimeCode,
    RecoveryCode,
    ServerSession,
    StaffMembership,
    VerificationRequest,
)
from portal.consent.models import ConsentEvent
from portal.notify.models import OutboxMessage
from portal.record.models import Patient
from portal.sharing.models import AccessGrant, Guardianship, GuardianshipRequest

__all__ = [
    "AccessGrant",
    "Account",
    "AuditEvent",
    "AuditHead",
    "CareRelationship",
    "ConsentEvent",
    "EmergencyAccess",
    "Guardianship",
    "GuardianshipRequest",
    "IdentityDocument",
    "OneTimeCode",
    "Organisation",
    "OutboxMessage",
    "Patient",
    "RecoveryCode",
    "ServerSession",
    "StaffMembership",
    "VerificationRequest",
]
