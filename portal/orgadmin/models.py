from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base, name_column

INVITATION_STATUSES = ("pending", "accepted", "revoked", "replaced")


class StaffInvitation(Base):
    """An invitation to work in an organisation with some roles, sent by e-mail as a single-use
    link. Only a hash of the link's random token is kept. ``status``: pending until accepted,
    revoked by an admin, or replaced when it is sent again (the new row carries a new token, so
    the old link dies); a pending one past ``expires_at`` has expired."""

    __tablename__ = "staff_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    email: Mapped[str] = mapped_column(String(254))  # stored lower-case
    surname: Mapped[str] = mapped_column(name_column(100))
    name: Mapped[str] = mapped_column(name_column(100))
    patronymic: Mapped[str | None] = mapped_column(name_column(100))
    roles: Mapped[str] = mapped_column(String(100))  # comma-separated, in STAFF_ROLES order
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the link's token
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # who accepted it

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'revoked', 'replaced')", name="status"),
        Index("ix_staff_invitation_organisation", "organisation_id", "status"),
        # One open invitation per address and organisation: a second is a resend.
        Index(
            "uq_staff_invitation_pending",
            "organisation_id",
            "email",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    @property
    def role_list(self) -> list[str]:
        return [role for role in self.roles.split(",") if role]

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)
