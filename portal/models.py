"""Every feature's models, imported in one place so migrations and ``create_all`` see them all."""

from portal.access.models import CareRelationship, EmergencyAccess
from portal.appointments.models import (
    Appointment,
    AppointmentReminder,
    HomeVisitRequest,
    ScheduleException,
    ScheduleRule,
    Slot,
    WaitingListEntry,
    WaitingListOffer,
)
from portal.audit.models import AuditEvent, AuditLeaf, AuditNode, AuditTreeHead
from portal.auditor.models import EmergencyReview
from portal.auth.models import (
    Account,
    IdentityDocument,
    OneTimeCode,
    RecoveryCode,
    ServerSession,
    StaffMembership,
    VerificationRequest,
)
from portal.certificates.models import CertificateRequest
from portal.consent.models import ConsentEvent, OptOutRequest
from portal.corrections.models import CorrectionFile, CorrectionRequest
from portal.directory.models import (
    AttachmentApplication,
    Department,
    OpeningHours,
    Organisation,
    OrganisationService,
)
from portal.mkb10.models import Mkb10Code, Mkb10Word
from portal.notify.models import Notification, NotificationPreference, OutboxMessage
from portal.orgadmin.models import StaffInvitation
from portal.protocol.models import VisitProtocol
from portal.record import version  # noqa: F401,E402  (stamps updated_at on changed entries)
from portal.record.models import (
    Allergy,
    Checkup,
    ClinicAttachment,
    Diagnosis,
    Document,
    EntryRevision,
    Immunization,
    InsurancePolicy,
    LabReport,
    Observation,
    Patient,
    Practitioner,
    Prescription,
    Referral,
    RequestEvent,
    ServiceRecord,
    Visit,
)
from portal.sharing.models import AccessGrant, Guardianship, GuardianshipRequest

__all__ = [
    "AccessGrant",
    "Account",
    "Allergy",
    "Appointment",
    "AppointmentReminder",
    "AttachmentApplication",
    "AuditEvent",
    "AuditLeaf",
    "AuditNode",
    "AuditTreeHead",
    "CareRelationship",
    "CertificateRequest",
    "Checkup",
    "ClinicAttachment",
    "ConsentEvent",
    "CorrectionFile",
    "CorrectionRequest",
    "Department",
    "Diagnosis",
    "Document",
    "EmergencyAccess",
    "EmergencyReview",
    "EntryRevision",
    "Guardianship",
    "GuardianshipRequest",
    "HomeVisitRequest",
    "IdentityDocument",
    "Immunization",
    "InsurancePolicy",
    "LabReport",
    "Mkb10Code",
    "Mkb10Word",
    "Notification",
    "NotificationPreference",
    "Observation",
    "OneTimeCode",
    "OpeningHours",
    "OptOutRequest",
    "Organisation",
    "OrganisationService",
    "OutboxMessage",
    "Patient",
    "Practitioner",
    "Prescription",
    "RecoveryCode",
    "Referral",
    "RequestEvent",
    "ScheduleException",
    "ScheduleRule",
    "ServerSession",
    "ServiceRecord",
    "Slot",
    "StaffInvitation",
    "StaffMembership",
    "VerificationRequest",
    "Visit",
    "VisitProtocol",
    "WaitingListEntry",
    "WaitingListOffer",
]
