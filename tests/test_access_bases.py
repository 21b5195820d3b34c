"""The access policy when one account has several bases for a card, and at the age of medical
consent (15, 323-ФЗ art. 54): the basis that grants most decides and is named; a child's own
account opens the card on the 15th birthday, the day the guardian's access ends; an ended
guardianship decides nothing; a card whose owner never consented is closed to everyone else."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from portal import clock
from portal.access import policy
from portal.access import service as access
from portal.access.models import CareRelationship, EmergencyAccess
from portal.audit.models import AuditEvent
from portal.auth.models import Account, StaffMembership
from portal.consent.models import ConsentEvent
from portal.database import db, write_transaction
from portal.identifiers import make_snils
from portal.record.models import Immunization, Patient, Practitioner
from portal.sharing.models import AccessGrant, Guardianship
from tests.conftest import csrf_token


def portal_date(app, day, form: str, lang: str) -> str:
    """A date as the portal writes it in ``lang`` (portal.formatting: «1 сентября 2027 года»)."""
    from portal.formatting import format_date

    with app.test_request_context(headers={"Accept-Language": lang}):
        return format_date(day, form)


def noon(day: date) -> datetime:
    """Midday UTC: the same date in UTC and in Moscow, whatever the hour the tests run at."""
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)


def add_grant(patient_id: int, grantee_id: int, sections: str, granted_by_id: int, level: str = "view") -> None:
    db.session.add(
        AccessGrant(
            patient_id=patient_id,
            grantee_id=grantee_id,
            granted_by_id=granted_by_id,
            sections=sections,
            level=level,
            expires_on=clock.today() + timedelta(days=60),
        )
    )


def add_guardianship(guardian_id: int, child: Patient, ended: bool = False) -> None:
    db.session.add(
        Guardianship(
            guardian_id=guardian_id,
            child_id=child.id,
            basis="Свидетельство о рождении (тест)",
            started_on=child.birth_date,
            verified_at=datetime.now(UTC),
            ended_at=datetime.now(UTC) if ended else None,
        )
    )


def consent_for(patient_id: int, account_id: int) -> None:
    db.session.add(
        ConsentEvent(
            patient_id=patient_id,
            account_id=account_id,
            action="given",
            text_version="v1",
            created_at=datetime.now(UTC),
        )
    )


def organisation_of(account_id: int, role: str) -> int:
    return db.session.scalar(
        sa.select(StaffMembership.organisation_id).where(
            StaffMembership.account_id == account_id, StaffMembership.role == role
        )
    )


# -- 15: the basis that grants most --------------------------------------------------------------


def test_a_clinician_who_is_also_a_trusted_person_reads_every_section_under_emergency_access(app, demo, login):
    """Doctor B holds Smirnova's grant of the results alone; in an emergency he reads the whole card."""
    patient_id = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        add_grant(patient_id, demo["doctor_b"].id, "results", demo["patient"].id)
    doctor_b = login(demo["doctor_b"])
    assert doctor_b.get(f"/card/{patient_id}/diagnoses").status_code == 404  # the grant alone
    with app.app_context(), write_transaction():
        started = datetime.now(UTC)
        db.session.add(
            EmergencyAccess(
                practitioner_id=demo["doctor_b"].id,
                patient_id=patient_id,
                organisation_id=organisation_of(demo["doctor_b"].id, "doctor"),
                reason="Без сознания, доставлен бригадой СМП",
                started_at=started,
                expires_at=started + timedelta(minutes=60),
            )
        )
    assert doctor_b.get(f"/card/{patient_id}/diagnoses").status_code == 200
    overview = doctor_b.get(f"/card/{patient_id}").get_data(as_text=True)
    assert f"/card/{patient_id}/allergies" in overview  # every section, not the grant's
    with app.app_context():
        read = db.session.scalar(
            sa.select(AuditEvent)
            .where(AuditEvent.actor_id == demo["doctor_b"].id, AuditEvent.section == "diagnoses")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        decision = policy.decide(
            db.session.get(Account, demo["doctor_b"].id), "read", db.session.get(Patient, patient_id), "results"
        )
    assert read.outcome == "success" and read.actor_role == "emergency"
    # The grant allows this read too: the decision names the basis it took and the others.
    assert decision.basis == "emergency" and "trusted" in decision.reason


def test_a_treating_doctor_who_holds_a_grant_reads_as_the_doctor(app, demo, login):
    patient_id = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        add_grant(patient_id, demo["doctor"].id, "vaccinations", demo["patient"].id)
    doctor = login(demo["doctor"])
    assert doctor.get(f"/card/{patient_id}/diagnoses").status_code == 200
    with app.app_context():
        decision = policy.decide(
            db.session.get(Account, demo["doctor"].id), "write", db.session.get(Patient, patient_id), "diagnoses"
        )
    assert decision.allowed and decision.basis == "clinician"


def test_a_nurse_with_an_add_grant_adds_where_the_grant_says(app, demo):
    """The nurse treats Smirnova (read, add) and holds her grant: the basis that allows an export
    is the grant's, for its sections only."""
    patient_id = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        add_grant(patient_id, demo["nurse"].id, "results", demo["patient"].id, level="add")
    with app.app_context():
        nurse = db.session.get(Account, demo["nurse"].id)
        patient = db.session.get(Patient, patient_id)
        exported = policy.decide(nurse, "export", patient, "results")
        assert exported.allowed and exported.basis == "trusted"
        assert not policy.decide(nurse, "export", patient, "diagnoses").allowed
        read = policy.decide(nurse, "read", patient, "diagnoses")
        assert read.allowed and read.basis == "clinician"


# -- 16: a child's own account --------------------------------------------------------------------


def make_teen(app, demo, age_days: int) -> tuple[int, int]:
    """A 14-year-old registered and verified on Gosuslugi terms, linked to a card whose guardian
    (the demo guardian) consented: (account id, patient id)."""
    with app.app_context(), write_transaction():
        born = clock.today() - timedelta(days=age_days)
        patient = Patient(
            surname="Кузнецов", name="Тимур", patronymic="Андреевич", sex="M", birth_date=born,
            snils=make_snils("004100001"),
        )  # fmt: skip
        db.session.add(patient)
        db.session.flush()
        guardian = db.session.get(Account, demo["guardian"].id)
        teen = Account(
            email="teen@example.ru",
            email_confirmed_at=datetime.now(UTC),
            phone="+79000004101",
            phone_confirmed_at=datetime.now(UTC),
            password_hash=guardian.password_hash,
            surname="Кузнецов",
            name="Тимур",
            patronymic="Андреевич",
            birth_date=born,
            sex="M",
            snils=patient.snils,
            patient_id=patient.id,
            verification_status="verified",
            is_active=True,
            second_factor="sms",
            failed_passwords=0,
            failed_codes=0,
        )
        db.session.add(teen)
        add_guardianship(guardian.id, patient)
        consent_for(patient.id, guardian.id)
        db.session.flush()
        return teen.id, patient.id


def test_a_teen_under_15_does_not_open_their_own_card_until_the_15th_birthday(app, demo, login):
    teen_id, patient_id = make_teen(app, demo, 14 * 365 + 100)
    with app.app_context():
        teen = db.session.get(Account, teen_id)
        born = db.session.get(Patient, patient_id).birth_date
    fifteenth = policy.birthday(born, 15)
    with time_machine.travel(noon(fifteenth - timedelta(days=1)), tick=False):
        client = login(teen)
        assert client.get(f"/card/{patient_id}").status_code == 404
        assert client.get(f"/card/{patient_id}/diagnoses").status_code == 404
        client.set_cookie("lang", "en")
        cards = client.get("/cards").get_data(as_text=True)
        assert f"/card/{patient_id}" not in cards
        opens = portal_date(app, fifteenth, "long", "en")
        assert f"Your card opens to you on {opens}, when you turn 15. Until then your parent or guardian" in cards
        client.set_cookie("lang", "ru")
        russian = client.get("/cards").get_data(as_text=True)
        opens = portal_date(app, fifteenth, "long", "ru")
        assert f"Ваша карта откроется вам {opens}, когда вам исполнится 15 лет. До этого дня" in russian
        assert login(demo["guardian"]).get(f"/card/{patient_id}").status_code == 200
        with app.app_context():
            refused = db.session.scalar(
                sa.select(AuditEvent).where(AuditEvent.actor_id == teen_id, AuditEvent.outcome == "denied").limit(1)
            )
        assert refused is not None and "15th birthday" in refused.reason
        with app.app_context():  # the record's news go to the guardian, not yet to the teen
            assert access.card_holders(patient_id) == [demo["guardian"].id]
    with time_machine.travel(noon(fifteenth), tick=False):
        client = login(teen)
        assert client.get(f"/card/{patient_id}").status_code == 200
        assert login(demo["guardian"]).get(f"/card/{patient_id}").status_code == 404
        with app.app_context():
            assert access.card_holders(patient_id) == [teen_id]


def test_a_teen_under_15_neither_gives_nor_withdraws_the_consent_for_the_card(app, demo, login):
    teen_id, patient_id = make_teen(app, demo, 14 * 365 + 100)
    with app.app_context():
        teen = db.session.get(Account, teen_id)
    client = login(teen)
    client.set_cookie("lang", "en")
    page = client.get("/consent/").get_data(as_text=True)
    assert "Your card opens to you on" in page and 'action="/consent/revoke"' not in page
    token = csrf_token(client, "/consent/")
    client.post("/consent/revoke", data={"csrf_token": token})
    with app.app_context():
        from portal.consent.service import has_consent

        assert has_consent(patient_id)  # the guardian's consent stands


# -- 34: an ended guardianship decides nothing -----------------------------------------------------


def test_a_parent_who_is_the_16_year_olds_doctor_opens_the_card_as_the_doctor(app, demo, login):
    child = demo["child_16"]
    with app.app_context(), write_transaction():
        add_guardianship(demo["doctor"].id, db.session.get(Patient, child.id))
        db.session.add(
            CareRelationship(
                practitioner_id=demo["doctor"].id,
                patient_id=child.id,
                organisation_id=organisation_of(demo["doctor"].id, "doctor"),
                basis="attachment",
            )
        )
        consent_for(child.id, demo["guardian"].id)  # given while Максим was a child
    doctor = login(demo["doctor"])
    assert doctor.get(f"/card/{child.id}").status_code == 200
    assert doctor.get(f"/card/{child.id}/access-log").status_code == 404  # the parent's rights ended
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.actor_id == demo["doctor"].id, AuditEvent.patient_id == child.id)
        )
    assert event.actor_role == "clinician"


def test_a_parent_holding_the_16_year_olds_grant_reads_what_it_shares(app, demo, login):
    child = demo["child_16"]
    with app.app_context(), write_transaction():
        consent_for(child.id, demo["guardian"].id)
        add_grant(child.id, demo["guardian"].id, "results", demo["guardian"].id)
    guardian = login(demo["guardian"])
    assert guardian.get(f"/card/{child.id}/results").status_code == 200
    assert guardian.get(f"/card/{child.id}/diagnoses").status_code == 404
    with app.app_context():
        decision = policy.decide(
            db.session.get(Account, demo["guardian"].id), "read", db.session.get(Patient, child.id), "diagnoses"
        )
    assert decision.basis == "trusted"


def test_a_former_guardian_without_another_basis_is_told_the_card_is_the_childs(app, demo):
    with app.app_context():
        decision = policy.decide(
            db.session.get(Account, demo["guardian"].id),
            "read",
            db.session.get(Patient, demo["child_16"].id),
            "summary",
        )
    assert not decision.allowed


# -- 37: tests that must be able to fail -----------------------------------------------------------


def test_a_guardian_who_is_a_doctor_elsewhere_does_not_write_to_the_childs_record(app, demo, login):
    """Doctor B (another clinic, no care relationship with Дарья) is her guardian: he may add, not
    confirm (write) a vaccination in her record."""
    child = demo["child_9"]
    with app.app_context(), write_transaction():
        add_guardianship(demo["doctor_b"].id, db.session.get(Patient, child.id))
        if db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor_b"].id)) is None:
            db.session.add(
                Practitioner(
                    surname="Волков", name="Сергей", specialty="терапевт", registration_number="T-1",
                    organisation_id=organisation_of(demo["doctor_b"].id, "doctor"), account_id=demo["doctor_b"].id,
                )
            )  # fmt: skip
        entry = Immunization(
            patient_id=child.id, vaccine="Приорикс", target="MMR", given_on=clock.today() - timedelta(days=20),
            dose_number=2, place="Поликлиника № 3, Тула", confirmed=False, added_by_id=demo["guardian"].id,
        )  # fmt: skip
        db.session.add(entry)
        db.session.flush()
        entry_id = entry.id
    parent = login(demo["doctor_b"])
    assert parent.get(f"/card/{child.id}").status_code == 200  # as her guardian
    page = f"/card/{child.id}/vaccinations/{entry_id}/confirm"
    assert parent.post(page, data={"csrf_token": csrf_token(parent, "/cards")}).status_code == 404
    with app.app_context():
        assert db.session.get(Immunization, entry_id).confirmed is False
        decision = policy.decide(
            db.session.get(Account, demo["guardian"].id), "write", db.session.get(Patient, child.id), "diagnoses"
        )
    assert not decision.allowed and decision.reason == "guardians add entries; clinicians write the record"


@pytest.mark.parametrize("who", ["doctor", "nurse", "trusted"])
def test_a_card_whose_owner_never_consented_is_closed_to_everyone_but_the_patient(app, demo, login, who):
    patient_id = demo["patient"].patient_id
    with app.app_context(), write_transaction():
        db.session.execute(sa.delete(ConsentEvent).where(ConsentEvent.patient_id == patient_id))
    assert login(demo[who]).get(f"/card/{patient_id}").status_code == 404
    assert login(demo[who]).get(f"/card/{patient_id}/results").status_code == 404
    with app.app_context():
        decision = policy.decide(
            db.session.get(Account, demo["patient"].id), "read", db.session.get(Patient, patient_id), "summary"
        )
    assert decision.allowed and decision.basis == "self"


def test_a_guardianship_request_is_refused_on_the_childs_15th_birthday_and_taken_the_day_before(app, demo, login):
    from tests.test_guardianship import ask, latest_request

    day = date(2027, 6, 10)
    with time_machine.travel(noon(day), tick=False):
        parent = login(demo["trusted"])
        parent.set_cookie("lang", "en")
        refused = ask(parent, date(2012, 6, 10), make_snils("004100002"))
        assert refused.status_code == 400
        assert "A child of 15 or older manages their own card" in refused.get_data(as_text=True)
        assert latest_request(app, demo["trusted"].id) is None
        assert ask(parent, date(2012, 6, 11), make_snils("004100003")).status_code == 303
        assert latest_request(app, demo["trusted"].id) is not None
