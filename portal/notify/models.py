from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, Select, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from portal.database import Base


class OutboxMessage(Base):
    """A message to deliver. Written in the same transaction as the event it reports; delivered
    after commit, so a rolled-back action never sends anything."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, sms
    kind: Mapped[str] = mapped_column(String(32))  # confirm_email, sign_in_code, security_alert, …
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_message_pending", "sent_at", "id"),)


class Notification(Base):
    """A message in the citizen's inbox. Stored as an event with its parameters and rendered in
    the reader's language. A reminder (``remind_at``) repeats until it is done or dismissed."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    event: Mapped[str] = mapped_column(String(32))  # result_new, prescription_issued, …
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    url: Mapped[str | None] = mapped_column(String(300))
    # One open reminder per subject: "vaccination:12", "checkup:2027" …
    subject_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_times: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_notification_account_id", "account_id", "id"),
        Index("ix_notification_unread", "account_id", "read_at"),
        Index("ix_notification_remind", "remind_at"),
    )


class NotificationPreference(Base):
    """Whether an account wants EVENT delivered by CHANNEL (portal, email, sms). A missing row
    means the default for that event and channel."""

    __tablename__ = "notification_preference"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    event: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)


def unread_of(account_id) -> Select:
    """The count of an account's unread notifications (``account_id`` a value or a column: the
    signed-in session's query counts them for the header with it)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.account_id == account_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
