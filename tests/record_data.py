"""Record entries for tests: N entries in every listed section of one card, made quickly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from portal.database import db, write_transaction
from portal.directory.models import Organisation
from portal.record import models as m


def practitioner(organisation_id: int, surname: str = "Орлова", specialty: str = "терапевт") -> int:
    with write_transaction():
        row = m.Practitioner(
            surname=surname,
            name="Анна",
            patronymic="Петровна",
            specialty=specialty,
            registration_number="77-12345",
            organisation_id=organisation_id,
        )
        db.session.add(row)
        db.session.flush()
        return row.id


def organisations(count: int = 2) -> list[int]:
    return list(db.session.scalars(sa.select(Organisation.id).order_by(Organisation.id).limit(count)))


def fill(patient_id: int, n: int, org: int, doctor: int, start: date = date(2026, 10, 1)) -> None:
    """``n`` entries in each listed section, one a day going back from ``start``; every third
    laboratory report has a value above its range."""
    if n <= 0:
        return
    days = [start - timedelta(days=i) for i in range(n)]
    moments = [datetime(d.year, d.month, d.day, 9, 30, tzinfo=UTC) for d in days]
    base = {"patient_id": patient_id, "organisation_id": org, "practitioner_id": doctor}
    with write_transaction():
        db.session.execute(
            sa.insert(m.Visit),
            [
                {**base, "started_at": t, "kind": "clinic", "complaints": "Кашель", "conclusion": "ОРВИ"}
                for t in moments
            ],
        )
        db.session.execute(
            sa.insert(m.Diagnosis),
            [
                {
                    **base,
                    "code": "J06.9",
                    "title": "Острая инфекция верхних дыхательных путей неуточненная",
                    "onset_on": d,
                    "status": "resolved" if i % 2 else "active",
                }
                for i, d in enumerate(days)
            ],
        )
        db.session.execute(
            sa.insert(m.LabReport),
            [
                {**base, "code": "58410-2", "kind": "lab", "taken_at": t, "flagged": int(i % 3 == 0)}
                for i, t in enumerate(moments)
            ],
        )
        reports = db.session.execute(
            sa.select(m.LabReport.id, m.LabReport.taken_at, m.LabReport.flagged).where(
                m.LabReport.patient_id == patient_id
            )
        ).all()
        db.session.execute(
            sa.insert(m.Observation),
            [
                {
                    "patient_id": patient_id,
                    "report_id": rid,
                    "loinc": "718-7",
                    "value": 180.0 if flagged else 140.0,
                    "unit": "g/L",
                    "low": 120.0,
                    "high": 160.0,
                    "flag": "high" if flagged else None,
                    "taken_at": taken,
                }
                for rid, taken, flagged in reports
            ],
        )
        db.session.execute(
            sa.insert(m.Immunization),
            [
                {
                    "patient_id": patient_id,
                    "organisation_id": org,
                    "practitioner_id": doctor,
                    "vaccine": "Гриппол плюс",
                    "target": "Flu",
                    "given_on": d,
                    "dose_label": "V1",
                    "confirmed": True,
                }
                for d in days
            ],
        )
        db.session.execute(
            sa.insert(m.Prescription),
            [
                {
                    **base,
                    "number": f"77-{i:06d}",
                    "issued_on": d,
                    "drug": "Амоксициллин",
                    "form": "таблетки 500 мг",
                    "dose": "по 1 таблетке 3 раза в день",
                    "quantity": "20 таблеток",
                    "valid_until": d + timedelta(days=60),
                }
                for i, d in enumerate(days)
            ],
        )
        db.session.execute(
            sa.insert(m.Checkup),
            [{**base, "year": d.year, "stage": 1, "started_on": d, "health_group": "II"} for d in days],
        )
        db.session.execute(
            sa.insert(m.Referral),
            [
                {
                    **base,
                    "number": f"Н-{i}",
                    "issued_on": d,
                    "kind": "consultation",
                    "target": "Кардиолог",
                    "valid_until": d + timedelta(days=30),
                    "status": "issued",
                }
                for i, d in enumerate(days)
            ],
        )
        db.session.execute(
            sa.insert(m.Allergy),
            [
                {
                    **base,
                    "substance": f"Пенициллин {i}",
                    "category": "medication",
                    "severity": "moderate",
                    "recorded_on": d,
                }
                for i, d in enumerate(days)
            ],
        )
        db.session.execute(
            sa.insert(m.ServiceRecord),
            [
                {
                    **base,
                    "provided_on": d,
                    "code": "B01.047.001",
                    "name": "Приём врача-терапевта первичный",
                    "cost_kopecks": 123450,
                }
                for d in days
            ],
        )


def fresh_card(snils9: str = "003000099") -> int:
    """A verified citizen with consent and an empty card (the demo cards have years of history);
    returns the account id."""
    from portal.auth.models import Account
    from portal.consent.models import ConsentEvent
    from portal.identifiers import make_snils

    moment = datetime.now(UTC)
    with write_transaction():
        patient = m.Patient(
            surname="Новикова",
            name="Ольга",
            patronymic="Игоревна",
            birth_date=date(1990, 5, 17),
            sex="F",
            snils=make_snils(snils9),
        )
        db.session.add(patient)
        db.session.flush()
        account = Account(
            email=f"fresh{snils9}@example.org",
            email_confirmed_at=moment,
            phone="+79000009999",
            phone_confirmed_at=moment,
            password_hash="-",
            surname=patient.surname,
            name=patient.name,
            patronymic=patient.patronymic,
            birth_date=patient.birth_date,
            sex="F",
            snils=patient.snils,
            patient_id=patient.id,
            verification_status="verified",
            is_active=True,
            second_factor="sms",
            failed_passwords=0,
            failed_codes=0,
        )
        db.session.add(account)
        db.session.flush()
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
        return account.id
