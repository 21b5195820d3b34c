"""The directory: medical organisations, their departments, practitioners, the building's
accessibility, opening hours and services with prices; and the citizen's applications to change
the clinic they are attached to («прикрепление»)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import Base, name_column

# The building's accessibility, in the order a page lists it. None in a column: not stated.
ACCESSIBILITY_FEATURES = ("step_free_entrance", "lift", "hearing_loop", "accessible_toilet", "disabled_parking")


def organisation_search_text(name: str, city: str, address: str) -> str:
    """The case-folded text an organisation is searched by (SQLite's LIKE folds only ASCII)."""
    return " ".join((name, city, address)).casefold()


class Organisation(Base):
    """A medical organisation (clinic, hospital, laboratory) listed in the directory."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The organisation's OID in the federal register of medical organisations (ФРМО).
    oid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(name_column(300))
    kind: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(2), index=True)
    city: Mapped[str] = mapped_column(name_column(100))
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str] = mapped_column(String(20))
    # Case-folded name, city and address: SQLite's LIKE ignores case only for ASCII letters.
    search_text: Mapped[str] = mapped_column(String(800))
    # The building's accessibility: True (there is), False (there is not), None (not stated).
    step_free_entrance: Mapped[bool | None] = mapped_column(Boolean)
    lift: Mapped[bool | None] = mapped_column(Boolean)
    hearing_loop: Mapped[bool | None] = mapped_column(Boolean)
    accessible_toilet: Mapped[bool | None] = mapped_column(Boolean)
    disabled_parking: Mapped[bool | None] = mapped_column(Boolean)
    accessibility_note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_organisation_name_id", "name", "id"),)

    @property
    def accessibility(self) -> dict[str, bool | None]:
        return {feature: getattr(self, feature) for feature in ACCESSIBILITY_FEATURES}


class Department(Base):
    """A department of an organisation (терапевтическое отделение, педиатрическое, стоматология)."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    name: Mapped[str] = mapped_column(name_column(200))
    location: Mapped[str | None] = mapped_column(String(200))  # floor, wing, building
    phone: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_department_organisation_name"),)


class Practitioner(Base):
    """A medical worker as the record names them (the federal register of medical workers) and as
    the directory lists them. Linked to an account when the practitioner signs in to the portal.

    ``specialty`` is the name as shown (e.g. «терапевт»); ``specialty_code`` is its code in the
    national nomenclature of specialties (portal/directory/data/specialties.csv), which search and
    booking use. No photo is kept."""

    __tablename__ = "practitioner"

    id: Mapped[int] = mapped_column(primary_key=True)
    surname: Mapped[str] = mapped_column(name_column(100))
    name: Mapped[str] = mapped_column(name_column(100))
    patronymic: Mapped[str | None] = mapped_column(name_column(100))
    specialty: Mapped[str] = mapped_column(String(100))
    specialty_code: Mapped[str | None] = mapped_column(String(8), index=True)
    position: Mapped[str | None] = mapped_column(String(200))  # «врач-терапевт участковый»
    registration_number: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), unique=True)

    # "unnested": under an entry's outer join to its doctor this is a LEFT JOIN in the chain, not an
    # inner join nested in parentheses, which SQLite answered by scanning every practitioner.
    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin="unnested")

    @property
    def short_name(self) -> str:
        initials = "".join(f"{p[0]}." for p in (self.name, self.patronymic) if p)
        return f"{self.surname} {initials}"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


class OpeningHours(Base):
    """When an organisation is open on a day of the week (ISO: 1 Monday … 7 Sunday). A day with
    no row is a day off."""

    __tablename__ = "opening_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)

    __table_args__ = (
        UniqueConstraint("organisation_id", "weekday", name="uq_opening_hours_organisation_weekday"),
        CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
        CheckConstraint("closes > opens", name="closes_after_opens"),
    )


class OrganisationService(Base):
    """A service the organisation offers (номенклатура медицинских услуг), free under the
    compulsory insurance (ОМС) or at a price in roubles (kept in kopecks)."""

    __tablename__ = "organisation_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    code: Mapped[str] = mapped_column(String(32))  # e.g. B01.047.001
    name: Mapped[str] = mapped_column(String(300))
    oms: Mapped[bool] = mapped_column(Boolean, default=False)  # free under the compulsory insurance
    price_kopecks: Mapped[int | None] = mapped_column(Integer)  # None with oms: no charge

    __table_args__ = (
        UniqueConstraint("organisation_id", "code", name="uq_organisation_service_organisation_code"),
        CheckConstraint("price_kopecks IS NULL OR price_kopecks >= 0", name="price_not_negative"),
    )


ATTACHMENT_STATUSES = ("pending", "approved", "refused")


class AttachmentApplication(Base):
    """A citizen's application to be attached to another clinic. The registrar of the new clinic
    decides. At most once a year unless the citizen moved (326-ФЗ art. 16): the service enforces
    that; the database keeps one pending application per card."""

    __tablename__ = "attachment_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("account.id"))  # the citizen or guardian
    from_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    to_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decision_reason: Mapped[str | None] = mapped_column(Text)  # why it was refused
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    from_organisation: Mapped[Organisation | None] = relationship(foreign_keys=[from_organisation_id])
    to_organisation: Mapped[Organisation] = relationship(foreign_keys=[to_organisation_id])

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
        Index("ix_attachment_application_patient_created", "patient_id", "created_at"),
        # One pending application per card, kept by the database.
        Index(
            "uq_attachment_application_pending",
            "patient_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
