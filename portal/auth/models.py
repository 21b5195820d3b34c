from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import Base, name_column

VERIFICATION_STATUSES = ("unverified", "in_review", "verified", "rejected")
STAFF_ROLES = ("registrar", "doctor", "nurse", "org_admin", "auditor", "accountant")


class Account(UserMixin, Base):
    """A sign-in identity. Linked to at most one Patient (its own card) once verified."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    phone: Mapped[str] = mapped_column(String(12))  # +7XXXXXXXXXX
    phone_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    surname: Mapped[str] = mapped_column(name_column(100))
    name: Mapped[str] = mapped_column(name_column(100))
    patronymic: Mapped[str | None] = mapped_column(name_column(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    snils: Mapped[str] = mapped_column(String(11), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), unique=True)
    verification_status: Mapped[str] = mapped_column(String(16), default="unverified")
    verification_reason: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Second factor: "totp", "sms" or "email"; the TOTP seed is stored encrypted.
    second_factor: Mapped[str | None] = mapped_column(String(8))
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_passwords: Mapped[int] = mapped_column(Integer, default=0)
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locale: Mapped[str | None] = mapped_column(String(8))
    theme: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    memberships: Mapped[list[StaffMembership]] = relationship(back_populates="account", lazy="selectin")

    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint(
            "verification_status IN ('unverified', 'in_review', 'verified', 'rejected')", name="verification_status"
        ),
    )

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)

    @property
    def roles(self) -> set[str]:
        return {m.role for m in self.memberships if m.ended_at is None}

    @property
    def is_staff(self) -> bool:
        return bool(self.roles)


class StaffMembership(Base):
    """A staff role held in one organisation (a doctor of clinic A is nobody in clinic B), from
    ``started_at`` until ``ended_at``. A role removed and given again is a new row, so the rows are
    the history. Suspension (``portal.clinic.service.suspend``) is per organisation: it ends the
    person's roles there (``ended_at``) and marks them ``suspended_at``, so every check of a role
    (an unended membership) closes at once; reactivating reopens exactly those rows."""

    __tablename__ = "staff_membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    role: Mapped[str] = mapped_column(String(16))
    specialty: Mapped[str | None] = mapped_column(String(100))
    registration_number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    account: Mapped[Account] = relationship(back_populates="memberships")

    __table_args__ = (
        CheckConstraint("role IN ('registrar', 'doctor', 'nurse', 'org_admin', 'auditor', 'accountant')", name="role"),
        # One current row per role; ended ones are the history.
        Index(
            "uq_staff_membership_current_role",
            "account_id",
            "organisation_id",
            "role",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class RecoveryCode(Base):
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OneTimeCode(Base):
    """A short code sent by SMS or e-mail: confirms a phone or a sign-in, bound to one attempt."""

    __tablename__ = "one_time_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # The sign-in attempt (server session id) or other context the code is bound to.
    bound_to: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ServerSession(Base):
    """A signed-in browser. The cookie carries only the id; signing out ends the row, so a copied
    cookie dies with it."""

    __tablename__ = "server_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # "password" (second factor pending) or "complete"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    authenticated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last password entry
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # A new authenticator seed being set up in this session, encrypted; the working one stays in
    # the account until a code from the new one is entered.
    pending_totp_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)


class TrustedDevice(Base):
    """A browser that completed a sign-in to this account (OWASP's device cookie). Wrong passwords
    typed on it count against it alone, so an attacker who throttles sign-in for everyone else does
    not lock the owner out of a device they have used before."""

    __tablename__ = "trusted_device"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """Wrong passwords per typed login (normalised, keyed-hashed), kept for known and unknown
    logins alike so the answers never tell whether an account exists."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdentityDocument(Base):
    """An uploaded identity document, encrypted at rest (AES-GCM) and stored outside static."""

    __tablename__ = "identity_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("verification_request.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # passport, snils, oms
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VerificationRequest(Base):
    """The passport and OMS details a citizen submits for a registrar to check."""

    __tablename__ = "verification_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    passport_series: Mapped[str] = mapped_column(String(4))
    passport_number: Mapped[str] = mapped_column(String(6))
    passport_issued_on: Mapped[date] = mapped_column(Date)
    passport_issued_by: Mapped[str] = mapped_column(String(300))
    passport_division_code: Mapped[str] = mapped_column(String(7))
    oms_number: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decision: Mapped[str | None] = mapped_column(String(16))  # approved, rejected
    reason: Mapped[str | None] = mapped_column(Text)


class IdentityLink(Base):
    """An account's identity at a sign-in provider (``portal.plugin_api.IdentityProvider``): the
    provider's subject signs in to this account. One subject belongs to one account, and an account
    has at most one identity per provider."""

    __tablename__ = "identity_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))  # uq_identity_link_account_provider
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("provider", "subject", name="uq_identity_link_subject"),
        UniqueConstraint("account_id", "provider", name="uq_identity_link_account_provider"),
    )
