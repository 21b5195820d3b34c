"""The medical record. Clinics write it (and, for a few entries, the citizen adds to it); the
citizen reads it through the access policy. Every entry belongs to one patient and carries the
organisation and practitioner that made it, so one joined query lists a page of any section.

Lists are paginated by key: every entry table has an index on (patient_id, <date>, id).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import Base, name_column
from portal.directory.models import Organisation, Practitioner


class Patient(Base):
    """The subject of a medical record. Clinics write the record; the citizen reads it."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    surname: Mapped[str] = mapped_column(name_column(100))
    name: Mapped[str] = mapped_column(name_column(100))
    patronymic: Mapped[str | None] = mapped_column(name_column(100))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    # SNILS stored as 11 bare digits; shown as XXX-XXX-XXX YY.
    snils: Mapped[str] = mapped_column(String(11), unique=True)
    # Set when an opt-out from the electronic record («отказ от ЭМК») is approved: the card is
    # closed to portal viewing; its data stays in the archive.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint("length(snils) = 11", name="snils_length"),
    )

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


class _Entry:
    """Columns every record entry has."""

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Visit(_Entry, Base):
    """A visit and its examination report (протокол осмотра)."""

    __tablename__ = "visit"

    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))  # clinic, home, telemedicine, inpatient
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    complaints: Mapped[str | None] = mapped_column(Text)
    history: Mapped[str | None] = mapped_column(Text)  # history of the present illness (анамнез заболевания)
    examination: Mapped[str | None] = mapped_column(Text)
    conclusion: Mapped[str | None] = mapped_column(Text)
    recommendations: Mapped[str | None] = mapped_column(Text)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (Index("ix_visit_patient_date", "patient_id", "started_at", "id"),)


class Diagnosis(_Entry, Base):
    """An ICD-10 diagnosis. The title is kept as recorded (МКБ-10, НСИ Минздрава 1005)."""

    __tablename__ = "diagnosis"

    code: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(300))
    onset_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # active, resolved
    resolved_on: Mapped[date | None] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default="main")  # main, concomitant, complication
    verification: Mapped[str | None] = mapped_column(String(16))  # preliminary, final (a visit's protocol)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_diagnosis_patient_date", "patient_id", "onset_on", "id"),
        CheckConstraint("status IN ('active', 'resolved')", name="diagnosis_status"),
    )


class LabReport(_Entry, Base):
    """A laboratory panel or an instrumental study: a dated group of observations."""

    __tablename__ = "lab_report"

    code: Mapped[str] = mapped_column(String(16))  # LOINC panel or study code
    kind: Mapped[str] = mapped_column(String(16))  # lab, instrumental
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    conclusion: Mapped[str | None] = mapped_column(Text)  # an instrumental study's conclusion
    # How many of its observations are outside the reference range: kept with the report so a
    # list page needs no second query.
    flagged: Mapped[int] = mapped_column(Integer, default=0)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_lab_report_patient_date", "patient_id", "taken_at", "id"),)


class Observation(_Entry, Base):
    """One measured value: LOINC code, UCUM unit, the laboratory's reference range."""

    __tablename__ = "observation"

    report_id: Mapped[int] = mapped_column(ForeignKey("lab_report.id"), index=True)
    loinc: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(32))
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    flag: Mapped[str | None] = mapped_column(String(8))  # low, high (None: within range or no range)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_observation_trend", "patient_id", "loinc", "taken_at", "id"),)


class Immunization(_Entry, Base):
    """A vaccination. Added by a clinic (confirmed) or by the citizen with a scanned certificate
    (unconfirmed until a clinician confirms it)."""

    __tablename__ = "immunization"

    vaccine: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(32))  # calendar item code: HepB, MMR, DTP, …
    given_on: Mapped[date] = mapped_column(Date)
    series: Mapped[str | None] = mapped_column(String(64))  # lot number
    dose_number: Mapped[int | None] = mapped_column(Integer)
    dose_label: Mapped[str | None] = mapped_column(String(32))  # V1, V2, R1 (revaccination)…
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    place: Mapped[str | None] = mapped_column(String(300))  # where, as the citizen wrote it
    reactions: Mapped[str | None] = mapped_column(Text)
    next_dose_on: Mapped[date | None] = mapped_column(Date)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The appointment it was given at (portal/orders), when a clinician wrote it there.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    practitioner: Mapped[Practitioner | None] = relationship(lazy="joined", foreign_keys=[practitioner_id])

    __table_args__ = (Index("ix_immunization_patient_date", "patient_id", "given_on", "id"),)


class Prescription(_Entry, Base):
    """A prescription (рецепт). Expired ones are shown; 30 days after expiry they are blocked."""

    __tablename__ = "prescription"

    number: Mapped[str] = mapped_column(String(32))
    issued_on: Mapped[date] = mapped_column(Date)
    drug: Mapped[str] = mapped_column(String(200))  # international non-proprietary name
    form: Mapped[str] = mapped_column(String(100))  # tablets 500 mg
    dose: Mapped[str] = mapped_column(String(200))  # 1 tablet twice a day
    quantity: Mapped[str] = mapped_column(String(100))
    valid_until: Mapped[date] = mapped_column(Date)
    preferential: Mapped[bool] = mapped_column(Boolean, default=False)  # льготный рецепт
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    pharmacy_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pharmacy_status: Mapped[str | None] = mapped_column(String(16))  # sent, ready, dispensed
    # Written from an appointment (portal/orders): the appointment, how often and for how long.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    frequency: Mapped[str | None] = mapped_column(String(100))  # twice a day
    course_start: Mapped[date | None] = mapped_column(Date)
    course_end: Mapped[date | None] = mapped_column(Date)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True, foreign_keys=[organisation_id])
    practitioner: Mapped[Practitioner] = relationship(lazy="joined", innerjoin=True)
    pharmacy: Mapped[Organisation | None] = relationship(lazy="joined", foreign_keys=[pharmacy_id])

    __table_args__ = (Index("ix_prescription_patient_date", "patient_id", "issued_on", "id"),)


class Checkup(_Entry, Base):
    """A stage of a check-up (диспансеризация) or preventive examination."""

    __tablename__ = "checkup"

    year: Mapped[int] = mapped_column(Integer)
    stage: Mapped[int] = mapped_column(Integer)  # 1 or 2
    started_on: Mapped[date] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    health_group: Mapped[str | None] = mapped_column(String(4))  # I, II, IIIa, IIIb
    systolic: Mapped[int | None] = mapped_column(Integer)
    diastolic: Mapped[int | None] = mapped_column(Integer)
    glucose: Mapped[float | None] = mapped_column(Float)  # mmol/L
    cholesterol: Mapped[float | None] = mapped_column(Float)  # mmol/L
    height_cm: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    risk_factors: Mapped[str | None] = mapped_column(Text)  # in Russian, as the clinic wrote them
    conclusion: Mapped[str | None] = mapped_column(Text)
    follow_up: Mapped[str | None] = mapped_column(Text)
    next_due_on: Mapped[date | None] = mapped_column(Date)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (Index("ix_checkup_patient_date", "patient_id", "started_on", "id"),)

    @property
    def bmi(self) -> float | None:
        if not self.height_cm or not self.weight_kg:
            return None
        return round(self.weight_kg / (self.height_cm / 100) ** 2, 1)


class Referral(_Entry, Base):
    """A referral (направление) to a specialist, a test or a hospital."""

    __tablename__ = "referral"

    number: Mapped[str] = mapped_column(String(32))
    issued_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # consultation, test, hospital, study
    target: Mapped[str] = mapped_column(String(200))  # specialty or service
    reason: Mapped[str | None] = mapped_column(Text)
    diagnosis_code: Mapped[str | None] = mapped_column(String(8))
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # issued, used, cancelled
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))
    to_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # portal/orders; use_alter: appointment and referral name each other (no cycle when tables are sorted)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id", use_alter=True), index=True)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True, foreign_keys=[organisation_id])
    practitioner: Mapped[Practitioner] = relationship(lazy="joined", innerjoin=True)
    to_organisation: Mapped[Organisation | None] = relationship(lazy="joined", foreign_keys=[to_organisation_id])

    __table_args__ = (Index("ix_referral_patient_date", "patient_id", "issued_on", "id"),)


class Allergy(_Entry, Base):
    """An allergy or intolerance."""

    __tablename__ = "allergy"

    substance: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))  # medication, food, environment
    reaction: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))  # mild, moderate, severe
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, inactive
    recorded_on: Mapped[date] = mapped_column(Date)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioner.id"))

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (Index("ix_allergy_patient_date", "patient_id", "recorded_on", "id"),)


class InsurancePolicy(_Entry, Base):
    """A compulsory health insurance policy (полис ОМС, единый номер полиса: 16 digits)."""

    __tablename__ = "insurance_policy"

    number: Mapped[str] = mapped_column(String(16))
    insurer: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16))  # active, closed
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (Index("ix_insurance_patient_date", "patient_id", "valid_from", "id"),)


class ClinicAttachment(_Entry, Base):
    """The clinic the patient is attached to (прикрепление), and the district doctor."""

    __tablename__ = "clinic_attachment"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    district: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[date] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_attachment_patient_date", "patient_id", "since", "id"),)


class ServiceRecord(_Entry, Base):
    """A medical service received and what it cost
    («Информация об оказанных медицинских услугах и их стоимости»): paid by the compulsory
    insurance (ОМС), by the patient (paid) or by a voluntary insurer (ВМИ, «ДМС»).

    ``cost_kopecks`` is the cost of the whole line (all ``quantity`` of it). ``department_id`` is
    the department that rendered it that day (the accountant's report counts it there)."""

    __tablename__ = "service_record"

    provided_on: Mapped[date] = mapped_column(Date)
    code: Mapped[str] = mapped_column(String(32))  # номенклатура медицинских услуг, e.g. B01.047.001
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    cost_kopecks: Mapped[int] = mapped_column(Integer)
    paid_by: Mapped[str] = mapped_column(String(16), default="oms")  # oms, paid, vmi
    insurer: Mapped[str | None] = mapped_column(String(200))  # the voluntary insurer, for paid_by vmi
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioner.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    practitioner: Mapped[Practitioner | None] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_service_patient_date", "patient_id", "provided_on", "id"),
        # The accountant's report: an organisation's paid services of a period, without its OMS ones.
        Index("ix_service_organisation_payer_date", "organisation_id", "paid_by", "provided_on"),
    )


class Document(_Entry, Base):
    """A document in «Мои документы»: a clinic's (protocol, discharge summary, certificate) or
    the citizen's own upload. The file is encrypted at rest (``portal.uploads``)."""

    __tablename__ = "document"

    kind: Mapped[str] = mapped_column(String(24))  # upload, protocol, discharge, certificate, image, other
    title: Mapped[str] = mapped_column(String(200))
    document_date: Mapped[date] = mapped_column(Date)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))  # set for a citizen's upload
    storage_key: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    keep_until: Mapped[date | None] = mapped_column(Date)  # certificates stay for a year
    # Case-folded title and file name for the search box (SQLite's LIKE folds ASCII only).
    search_text: Mapped[str] = mapped_column(String(500), default="")
    # The SHA-256 of a citizen's upload: the same file sent twice within minutes is one document.
    content_hash: Mapped[str | None] = mapped_column(String(64))

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_document_patient_date", "patient_id", "document_date", "id"),
        # The uploads an account made lately (the quota, the repeated upload): a range, not a scan.
        Index("ix_document_uploader_created", "uploaded_by_id", "created_at"),
    )

    def kept_on(self, day: date) -> bool:
        """Whether the document is still in «Мои документы» on ``day`` (a certificate: a year)."""
        return self.keep_until is None or self.keep_until >= day

    @classmethod
    def kept_condition(cls, day: date):
        return or_(cls.keep_until.is_(None), cls.keep_until >= day)


class EntryRevision(Base):
    """The visible history of an entry: a correction keeps the old value here."""

    __tablename__ = "entry_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    section: Mapped[str] = mapped_column(String(24))
    entry_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    correction_id: Mapped[int | None] = mapped_column(Integer)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    # Who made the change, when it was a practitioner (the author correcting their entry, a
    # laboratory's doctor); a registrar's correction names no one (the history says "the clinic").
    changed_by_practitioner: Mapped[Practitioner | None] = relationship(
        primaryjoin="foreign(EntryRevision.changed_by_id) == remote(Practitioner.account_id)",
        viewonly=True,
        uselist=False,
        lazy="joined",
    )

    __table_args__ = (Index("ix_entry_revision_entry", "section", "entry_id", "id"),)


class RequestEvent(Base):
    """One step of a citizen's request's status timeline (certificate, correction, opt-out)."""

    __tablename__ = "request_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_kind: Mapped[str] = mapped_column(String(16))  # certificate, correction, opt_out
    request_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_request_event_request", "request_kind", "request_id", "id"),)
