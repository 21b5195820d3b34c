"""Demo data: the synthetic organisation directory, a handful of patients, and the demo accounts
(a patient, a guardian with two children, a trusted person, clinicians in two clinics, a
registrar, an org admin, an auditor and an accountant), each with a second factor set up; and the
demo clinics' paid services, which the accountant's report shows.

Safe to run on every start: rows are matched by their natural keys (oid, SNILS, e-mail), so a
second run adds nothing and rows someone has edited are left alone. Everyone here is made up.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pyotp
from sqlalchemy import func, select

from portal import clock, crypto, uploads
from portal.access.models import CareRelationship
from portal.auth import passwords
from portal.auth.models import Account, IdentityDocument, StaffMembership, VerificationRequest
from portal.consent.models import ConsentEvent
from portal.database import db, write_transaction
from portal.demodata.accounting import seed_demo_paid_services
from portal.demodata.clinic_day import seed_clinic_day
from portal.demodata.emergency import seed_demo_emergencies
from portal.demodata.history import seed_demo_history
from portal.demodata.invitations import seed_demo_invitation
from portal.demodata.people import CHILDREN, DEMO_PASSWORD, DEMO_PATIENTS, PEOPLE, email_of
from portal.demodata.pharmacies import seed_pharmacies
from portal.demodata.schedules import seed_demo_schedules
from portal.demodata.synthetic import demo_organisations, load
from portal.directory.models import Organisation
from portal.identifiers import enp_check_digit, make_snils
from portal.record.models import Patient
from portal.sharing.models import AccessGrant, Guardianship, GuardianshipRequest


def _tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 28), (220, 220, 220)).save(out, format="PNG")
    return out.getvalue()


def _patient(surname: str, name: str, patronymic: str, sex: str, born: date, snils9: str) -> Patient:
    snils = make_snils(snils9)
    patient = db.session.scalar(select(Patient).where(Patient.snils == snils))
    if patient is None:
        patient = Patient(surname=surname, name=name, patronymic=patronymic, sex=sex, birth_date=born, snils=snils)
        db.session.add(patient)
        db.session.flush()
    return patient


def _accounts(today: date) -> int:
    if db.session.scalar(select(func.count()).select_from(Account).where(Account.email == email_of(PEOPLE[0]))):
        return 0
    orgs = demo_organisations()
    moment = datetime.now(UTC)
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    accounts: dict[str, Account] = {}
    for person in PEOPLE:
        born = today - timedelta(days=person.age_days)
        patient = (
            _patient(person.surname, person.name, person.patronymic, person.sex, born, person.snils9)
            if person.verified
            else None
        )
        account = Account(
            email=email_of(person),
            email_confirmed_at=moment,
            phone=f"+7900000{person.snils9[-4:]}",
            phone_confirmed_at=moment,
            password_hash=password_hash,
            surname=person.surname,
            name=person.name,
            patronymic=person.patronymic,
            birth_date=born,
            sex=person.sex,
            snils=make_snils(person.snils9),
            patient_id=patient.id if patient else None,
            verification_status="verified" if person.verified else "in_review",
            is_active=True,
            second_factor=person.factor,
            failed_passwords=0,
            failed_codes=0,
            locale=None,  # no saved choice: the device's language decides; messages go in Russian
        )
        db.session.add(account)
        db.session.flush()
        if person.factor == "totp":
            account.totp_secret_encrypted = crypto.encrypt(pyotp.random_base32().encode(), f"totp:{account.id}")
        for role, org in person.staff:
            db.session.add(
                StaffMembership(
                    account_id=account.id,
                    organisation_id=orgs[org].id,
                    role=role,
                    specialty="терапевт" if role == "doctor" else None,
                )
            )
        if person.consent and patient is not None:
            db.session.add(
                ConsentEvent(
                    patient_id=patient.id,
                    account_id=account.id,
                    action="given",
                    text_version="v1",
                    ip="127.0.0.1",
                    created_at=moment,
                )
            )
        accounts[person.key] = account
    guardian = accounts["guardian"]
    children = {}
    for key, name, patronymic, sex, age_days, snils9 in CHILDREN:
        child = _patient(
            "Кузнецова" if sex == "F" else "Кузнецов", name, patronymic, sex, today - timedelta(days=age_days), snils9
        )
        children[key] = child
        db.session.add(
            Guardianship(
                guardian_id=guardian.id,
                child_id=child.id,
                verified_at=moment,
                verified_by_id=accounts["registrar"].id,
                started_on=child.birth_date,
                basis="Свидетельство о рождении (демо)",
            )
        )
    db.session.add(
        ConsentEvent(
            patient_id=children["child_9"].id,
            account_id=guardian.id,
            action="given",
            text_version="v1",
            ip="127.0.0.1",
            created_at=moment,
        )
    )
    smirnova = accounts["patient"].patient_id
    db.session.add(
        AccessGrant(
            patient_id=smirnova,
            grantee_id=accounts["trusted"].id,
            granted_by_id=accounts["patient"].id,
            sections="results,vaccinations,prescriptions",
            level="view",
            expires_on=today + timedelta(days=180),
        )
    )
    for patient_id in (smirnova, children["child_9"].id):
        for key in ("doctor", "nurse"):
            db.session.add(
                CareRelationship(
                    practitioner_id=accounts[key].id,
                    patient_id=patient_id,
                    organisation_id=orgs["A"].id,
                    basis="attachment",
                )
            )
    applicant = accounts["applicant"]
    request = VerificationRequest(
        account_id=applicant.id,
        passport_series="4512",
        passport_number="345678",
        passport_issued_on=today - timedelta(days=6 * 365),
        passport_issued_by="ГУ МВД России по г. Москве",
        passport_division_code="770001",
        oms_number="775500000000001" + str(enp_check_digit("775500000000001")),
    )
    db.session.add(request)
    db.session.flush()
    for kind in ("passport", "snils", "oms"):
        data = _tiny_png()
        key = uploads.store(data, f"identity:{applicant.id}")
        db.session.add(
            IdentityDocument(
                account_id=applicant.id,
                request_id=request.id,
                kind=kind,
                filename=f"{kind}.png",
                content_type="image/png",
                size=len(data),
                storage_key=key,
            )
        )
    # Smirnova asks to open her son's card: a request waiting in the registrar's queue.
    son_scan = _tiny_png()
    db.session.add(
        GuardianshipRequest(
            guardian_id=accounts["patient"].id,
            child_surname="Смирнов",
            child_name="Артём",
            child_patronymic="Сергеевич",
            child_birth_date=today - timedelta(days=5 * 365 + 30),
            child_sex="M",
            child_snils=make_snils("002000023"),
            basis="Свидетельство о рождении (демо)",
            document_key=uploads.store(son_scan, f"guardianship:{accounts['patient'].id}"),
            document_filename="birth-certificate.png",
            document_type="image/png",
        )
    )
    _demo_correction(accounts["patient"], orgs["A"], today)
    _demo_opt_out(accounts["trusted"])
    return len(PEOPLE)


def _demo_opt_out(applicant: Account) -> None:
    """Павлова asks to opt out of the electronic record: an application waiting for a registrar."""
    from portal.consent.models import OptOutRequest
    from portal.record.models import RequestEvent

    moment = datetime.now(UTC)
    row = OptOutRequest(
        patient_id=applicant.patient_id,
        requested_by_id=applicant.id,
        reason="Предпочитаю бумажную медицинскую карту.",
        status="registered",
        created_at=moment,
    )
    db.session.add(row)
    db.session.flush()
    row.number = f"О-{moment.year}-{row.id:06d}"
    db.session.add(
        RequestEvent(request_kind="opt_out", request_id=row.id, status="registered", actor_id=applicant.id, at=moment)
    )


def _demo_correction(reporter: Account, organisation: Organisation, today: date) -> None:
    """Smirnova reports a wrong date in a vaccination: an error report waiting for a registrar."""
    from portal.corrections.models import CorrectionFile, CorrectionRequest
    from portal.corrections.service import number_of
    from portal.record.models import Immunization, RequestEvent

    vaccination = Immunization(
        patient_id=reporter.patient_id,
        vaccine="Регевак В (гепатит B)",
        target="HepB",
        given_on=today - timedelta(days=400),
        series="R-0425",
        dose_number=3,
        dose_label="V3",
        organisation_id=organisation.id,
        confirmed=True,
    )
    db.session.add(vaccination)
    db.session.flush()
    moment = datetime.now(UTC)
    report = CorrectionRequest(
        patient_id=reporter.patient_id,
        requested_by_id=reporter.id,
        section="vaccinations",
        entry_id=vaccination.id,
        description="Дата прививки указана неверно: третью дозу мне ввели на неделю позже.",
        status="registered",
        created_at=moment,
    )
    db.session.add(report)
    db.session.flush()
    report.number = number_of(report)
    scan = _tiny_png()
    db.session.add_all(
        [
            CorrectionFile(
                correction_id=report.id,
                storage_key=uploads.store(scan, f"correction:{reporter.patient_id}"),
                filename="vaccination-certificate.png",
                content_type="image/png",
                size=len(scan),
            ),
            RequestEvent(
                request_kind="correction", request_id=report.id, status="registered", actor_id=reporter.id, at=moment
            ),
        ]
    )


def seed_demo() -> dict[str, int]:
    """Insert the demo organisations, patients and accounts that are missing; return how many
    were added. Uses the generator's default seed, so the demo patients are the first
    ``DEMO_PATIENTS`` of any benchmark load with that seed and the two never duplicate each other.
    """
    with write_transaction() as session:
        added = load(session, n_patients=DEMO_PATIENTS)
        added["accounts"] = _accounts(clock.today())
        added["visits"] = seed_demo_history(session, clock.today())["visit"]
        added["pharmacies"] = seed_pharmacies()
        added.update(seed_demo_schedules(clock.today(), _synthetic_patients()))
        added["paid_services"] = seed_demo_paid_services(clock.today(), _synthetic_patients())
        added["appointments"] = _demo_appointments(datetime.now(UTC))
        added["past_appointments"] = _demo_past_appointments()
        added["emergencies"] = seed_demo_emergencies(demo_organisations()["A"], _synthetic_patients())
        added["invitations"] = seed_demo_invitation()
        added["clinic_day"] = seed_clinic_day(datetime.now(UTC), _synthetic_patients())
    added["icd10_codes"] = _icd10()
    return added


def _icd10() -> int:
    """The ICD-10 reference book, when the database has none yet (`flask import-mkb10` refreshes it)."""
    from portal.mkb10 import importer

    return 0 if importer.is_loaded() else importer.load().added


def _synthetic_patients() -> list[int]:
    """The generated patients (not the demo people nor the guardian's children), who fill the demo
    clinics' schedules."""
    demo = [make_snils(p.snils9) for p in PEOPLE] + [make_snils(c[5]) for c in CHILDREN]
    return list(db.session.scalars(select(Patient.id).where(Patient.snils.not_in(demo)).order_by(Patient.id)))


def _demo_appointments(now: datetime) -> int:
    """The next appointment for Smirnova and for Дарья, with the demo doctor (clinic A): his first
    free slots from 10:30 (Moscow) three days from now, or that time when he has no slots."""
    from portal.appointments.models import Appointment, Slot
    from portal.record.models import Practitioner

    doctor = db.session.scalar(
        select(Practitioner)
        .join(Account, Account.id == Practitioner.account_id)
        .where(Account.email == email_of(next(p for p in PEOPLE if p.key == "doctor")))
    )
    if doctor is None:
        return 0
    added = 0
    day = (now + timedelta(days=3)).replace(hour=7, minute=30, second=0, microsecond=0)  # 10:30 in Moscow
    free = list(
        db.session.scalars(
            select(Slot)
            .where(
                Slot.practitioner_id == doctor.id,
                Slot.status == "free",
                Slot.kind == "in_person",
                Slot.starts_at >= day,
            )
            .order_by(Slot.starts_at)
            .limit(2)
        )
    )
    for snils9, room in ((PEOPLE[0].snils9, "214"), (CHILDREN[0][5], "108")):
        patient = db.session.scalar(select(Patient).where(Patient.snils == make_snils(snils9)))
        if patient is None or db.session.scalar(select(Appointment.id).where(Appointment.patient_id == patient.id)):
            continue
        slot = free.pop(0) if free else None
        if slot is not None:
            slot.status = "booked"
        db.session.add(
            Appointment(
                patient_id=patient.id,
                organisation_id=doctor.organisation_id,
                practitioner_id=doctor.id,
                slot_id=slot.id if slot else None,
                specialty_code=doctor.specialty_code,
                starts_at=slot.starts_at if slot else day,
                room=slot.room if slot else room,
                status="booked",
            )
        )
        added += 1
    return added


def _demo_past_appointments() -> int:
    """Past appointments of Кузнецов (the guardian's own card), so the card's list shows states and
    visits: his two latest clinic visits as completed appointments linked to them, and one missed
    appointment before them. Added once (only while he has no past appointment). (Smirnova's
    appointments stay as the booking tests count them.)"""
    from portal.appointments.models import Appointment
    from portal.record.models import Visit

    guardian = next(p for p in PEOPLE if p.key == "guardian")
    patient = db.session.scalar(select(Patient).where(Patient.snils == make_snils(guardian.snils9)))
    if patient is None or db.session.scalar(
        select(Appointment.id).where(Appointment.patient_id == patient.id, Appointment.starts_at < clock.now())
    ):
        return 0
    visits = list(
        db.session.scalars(
            select(Visit)
            .where(Visit.patient_id == patient.id, Visit.kind == "clinic", Visit.started_at < clock.now())
            .order_by(Visit.started_at.desc())
            .limit(2)
        )
    )
    added = 0
    for visit in visits:
        db.session.add(
            Appointment(
                patient_id=patient.id,
                organisation_id=visit.organisation_id,
                practitioner_id=visit.practitioner_id,
                specialty_code=visit.practitioner.specialty_code,
                starts_at=visit.started_at,
                status="completed",
                visit_id=visit.id,
            )
        )
        added += 1
    if visits:
        last = visits[-1]
        db.session.add(
            Appointment(
                patient_id=patient.id,
                organisation_id=last.organisation_id,
                practitioner_id=last.practitioner_id,
                specialty_code=last.practitioner.specialty_code,
                starts_at=last.started_at - timedelta(days=14),
                status="no_show",
            )
        )
        added += 1
    return added
