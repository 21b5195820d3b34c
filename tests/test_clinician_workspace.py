"""The clinicians' workspace: the doctor's day (/doctor: their own appointments, marks through
states.transition, the way into the card) and the nurse's list (/nurse) with the measurements form
(vital signs in LOINC and UCUM, through the record's intake, on the patient's trend page)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments import care
from portal.appointments.models import Appointment
from portal.audit.models import AuditEvent
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.clinic_day import PLAN
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner
from portal.notify.models import Notification
from portal.record.models import LabReport, Observation
from tests.conftest import audit_log_verifies, csrf_token


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def orgs(app):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


def _local(moment):
    """A stored moment (naive UTC on SQLite) in the portal's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clock.zone())


def todays(app, demo, status: str | None = None) -> list[Appointment]:
    """The demo doctor's appointments of today (the demo's clinic day), by time."""
    with app.app_context():
        doctor = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.account_id == demo["doctor"].id))
        query = (
            sa.select(Appointment)
            .where(
                Appointment.practitioner_id == doctor,
                Appointment.starts_at >= clock.day_start(clock.today()),
                Appointment.starts_at < clock.day_start(clock.today() + timedelta(days=1)),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
        if status:
            query = query.where(Appointment.status == status)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
    return found


def appointment_in_b(app, demo, orgs, status: str = "arrived") -> int:
    """An appointment in clinic B today, with its doctor (Волков), of a card with consent."""
    with app.app_context(), write_transaction():
        doctor_b = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor_b"].id))
        row = Appointment(
            patient_id=demo["guardian"].patient_id, organisation_id=orgs["B"], practitioner_id=doctor_b.id,
            specialty_code=doctor_b.specialty_code, starts_at=clock.now() - timedelta(minutes=10), status=status,
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        care.open_for(row, None, "system")
        return row.id


def smirnova_arrived(app, demo, orgs) -> Appointment:
    """Smirnova (who has an account, so she is told) arrived at the demo doctor's just now."""
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor"].id))
        row = Appointment(
            patient_id=demo["patient"].patient_id, organisation_id=orgs["A"], practitioner_id=doctor.id,
            specialty_code=doctor.specialty_code, starts_at=clock.now() - timedelta(minutes=5), status="arrived",
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        db.session.expunge(row)
        return row


def post(client, path: str, page: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


# -- the doctor's day ------------------------------------------------------------------------------


def test_the_demo_doctor_has_a_day_of_appointments_in_several_states(app, demo):
    found = todays(app, demo)
    assert len(found) >= len(PLAN)
    assert {"completed", "no_show", "arrived", "booked"} <= {a.status for a in found}
    assert {"in_person", "online"} <= {a.kind for a in found}


def test_the_doctors_day_lists_time_patient_age_kind_state_and_marks(app, demo, login):
    client = login(demo["doctor"])
    response = client.get("/doctor")
    assert response.status_code == 200
    page = text(response)
    for state in ("Завершена", "Неявка", "Пришёл на приём", "Запись действует"):  # the states in words
        assert state in page
    html = response.get_data(as_text=True)
    arrived = todays(app, demo, "arrived")[0]
    # an arrived patient: «completed» may be marked; the card opens through the booking
    assert f"/doctor/appointments/{arrived.id}/completed" in html
    assert f'href="/card/{arrived.patient_id}"' in html
    assert "Онлайн" in page and "В поликлинике" in page
    # a date field that works without JavaScript, and the neighbouring days
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    assert f"/doctor?date={yesterday}" in html
    assert 'type="date"' in html and 'name="date"' in html
    other = client.get(f"/doctor?date={yesterday}")
    assert other.status_code == 200
    assert f"/doctor/appointments/{arrived.id}/" not in other.get_data(as_text=True)
    assert client.get("/doctor?date=nonsense").status_code == 200


def test_marking_goes_through_the_state_machine_audited(app, demo, login):
    client = login(demo["doctor"])
    arrived = todays(app, demo, "arrived")[0]
    response = post(client, f"/doctor/appointments/{arrived.id}/completed", "/doctor")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Appointment, arrived.id).status == "completed"
        event = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "appointment.completed", AuditEvent.object_id == str(arrived.id)
            )
        )
        assert event is not None and event.actor_id == demo["doctor"].id and event.actor_role == "clinician"
    # a final state moves no further: 409, nothing changed
    again = post(client, f"/doctor/appointments/{arrived.id}/no_show", "/doctor")
    assert again.status_code == 409
    with app.app_context():
        assert db.session.get(Appointment, arrived.id).status == "completed"
    with app.app_context():
        assert audit_log_verifies()


def test_arrival_before_the_hour_and_no_show_before_the_end_are_refused(app, demo, login):
    client = login(demo["doctor"])
    later = [
        a
        for a in todays(app, demo, "booked")
        if a.starts_at.replace(tzinfo=UTC) > clock.now() + timedelta(hours=1, minutes=5)
    ]
    if not later:
        pytest.skip("too late in the day for an appointment more than an hour ahead")
    response = post(client, f"/doctor/appointments/{later[0].id}/no_show", "/doctor")
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Appointment, later[0].id).status == "booked"


def test_a_doctor_sees_and_marks_only_their_own_appointments(app, demo, login, orgs):
    b = appointment_in_b(app, demo, orgs)
    mine = todays(app, demo, "arrived")[0]
    sokolov, volkov = login(demo["doctor"]), login(demo["doctor_b"])
    assert f"/doctor/appointments/{b}/" not in sokolov.get("/doctor").get_data(as_text=True)
    assert post(sokolov, f"/doctor/appointments/{b}/completed", "/doctor").status_code == 404
    assert post(volkov, f"/doctor/appointments/{mine.id}/completed", "/doctor").status_code == 404
    for who in ("nurse", "registrar", "patient", "auditor", "org_admin"):
        assert post(login(demo[who]), f"/doctor/appointments/{mine.id}/completed", "/").status_code == 404
    with app.app_context():
        assert db.session.get(Appointment, mine.id).status == "arrived"
        assert db.session.get(Appointment, b).status == "arrived"


def test_a_doctor_of_two_organisations_sees_both_labelled(app, demo, login, orgs):
    b = appointment_in_b(app, demo, orgs, status="booked")
    with app.app_context():
        assign_role(None, demo["doctor"].id, orgs["B"], "doctor")
    with app.app_context(), write_transaction():
        sokolov = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.account_id == demo["doctor"].id))
        db.session.get(Appointment, b).practitioner_id = sokolov
        names = {key: db.session.get(demo_organisations()[key].__class__, orgs[key]).name for key in ("A", "B")}
    response = login(demo["doctor"]).get("/doctor")
    html = response.get_data(as_text=True)
    assert f"/doctor/appointments/{b}/" in html or "Организация" in html
    assert names["A"] in html and names["B"] in html


def test_without_a_care_relationship_the_row_offers_emergency_access(app, demo, login):
    first = todays(app, demo)[0]
    with app.app_context(), write_transaction():
        from portal.access.models import CareRelationship

        db.session.execute(
            sa.update(CareRelationship)
            .where(CareRelationship.appointment_id == first.id)
            .values(ended_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    html = login(demo["doctor"]).get("/doctor").get_data(as_text=True)
    assert f'href="/card/{first.patient_id}"' not in html
    assert 'href="/clinic/emergency"' in html


def test_the_doctors_day_sends_as_many_statements_with_more_appointments(app, demo, login):
    from tests.test_htmx import recorded_statements

    client = login(demo["doctor"])

    def count() -> int:
        assert client.get("/doctor").status_code == 200
        with recorded_statements(app) as statements:
            assert client.get("/doctor").status_code == 200
        return len(statements)

    before = count()
    rows = todays(app, demo)
    with app.app_context(), write_transaction():
        for n, row in enumerate(rows * 3):
            copy = Appointment(
                patient_id=row.patient_id, organisation_id=row.organisation_id, practitioner_id=row.practitioner_id,
                specialty_code=row.specialty_code, kind=row.kind, starts_at=row.starts_at + timedelta(seconds=n + 1),
                status=row.status,
            )  # fmt: skip
            db.session.add(copy)
            db.session.flush()
            care.open_for(copy, None, "system")
    assert count() == before


# -- the nurse -------------------------------------------------------------------------------------


def test_the_nurse_sees_todays_in_person_appointments_and_measures_the_arrived(app, demo, login):
    client = login(demo["nurse"])
    response = client.get("/nurse")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    arrived = todays(app, demo, "arrived")[0]
    booked = [a for a in todays(app, demo, "booked") if a.kind == "in_person"][0]
    online = [a for a in todays(app, demo) if a.kind == "online"][0]
    assert f"/nurse/appointments/{arrived.id}/measurements" in html
    assert f"/nurse/appointments/{booked.id}/measurements" not in html
    with app.app_context():
        from portal.record.models import Patient

        online_name = db.session.get(Patient, online.patient_id).full_name
        booked_name = db.session.get(Patient, booked.patient_id).full_name
    assert booked_name in html
    # The online appointment has no row (its patient may have another, in-person one today).
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>\s*<td><span[^>]*>([^<]*)</span>', html)
    assert rows and (booked_name in {name for _, name in rows})
    online_hhmm = _local(online.starts_at).strftime("%H:%M")
    assert not [row for row in rows if row[1] == online_name and row[0].endswith(online_hhmm)]
    assert client.get(f"/nurse/appointments/{booked.id}/measurements").status_code == 404


def test_bad_measurements_come_back_with_what_was_typed_and_nothing_is_kept(app, demo, login):
    client = login(demo["nurse"])
    arrived = todays(app, demo, "arrived")[0]
    path = f"/nurse/appointments/{arrived.id}/measurements"
    cases = [
        ({"systolic": "80", "diastolic": "120"}, "систолическое давление должно быть выше"),
        ({"systolic": "120"}, "систолическое, и диастолическое"),
        ({"temperature": "48"}, "от 32 до 43"),
        ({"pulse": "быстро"}, "например 72"),
        ({}, "хотя бы одно измерение"),
    ]
    for data, message in cases:
        response = post(client, path, path, **data)
        assert response.status_code == 400, data
        page = response.get_data(as_text=True)
        assert message.lower() in page.lower(), (data, text(response))
        assert 'id="error-summary"' in page
        for value in data.values():
            assert f'value="{value}"' in page
    with app.app_context():
        assert not db.session.scalar(
            sa.select(LabReport.id).where(LabReport.patient_id == arrived.patient_id, LabReport.code == "85353-1")
        )


def test_measurements_are_written_in_loinc_and_ucum_told_and_shown_on_the_trend(app, demo, login, orgs):
    client = login(demo["nurse"])
    arrived = smirnova_arrived(app, demo, orgs)
    path = f"/nurse/appointments/{arrived.id}/measurements"
    data = {
        "systolic": "150", "diastolic": "95", "pulse": "72", "temperature": "36,6", "spo2": "97",
        "weight": "81,5", "height": "178", "glucose": "5,4",
    }  # fmt: skip
    response = post(client, path, path, **data)
    assert response.status_code == 303, text(response)
    with app.app_context():
        report = db.session.scalar(
            sa.select(LabReport).where(LabReport.patient_id == arrived.patient_id, LabReport.code == "85353-1")
        )
        assert report.kind == "vitals" and report.flagged == 2  # 150/95
        nurse = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["nurse"].id))
        assert report.practitioner_id == nurse.id
        found = {
            o.loinc: (o.value, o.unit)
            for o in db.session.scalars(sa.select(Observation).where(Observation.report_id == report.id))
        }
        assert found == {
            "8480-6": (150, "mm[Hg]"), "8462-4": (95, "mm[Hg]"), "8867-4": (72, "/min"), "8310-5": (36.6, "Cel"),
            "59408-5": (97, "%"), "29463-7": (81.5, "kg"), "8302-2": (178, "cm"), "15074-8": (5.4, "mmol/L"),
        }  # fmt: skip
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.write", AuditEvent.object_id == str(report.id))
        )
        assert event.actor_id == demo["nurse"].id and event.actor_role == "clinician"
        told = db.session.scalar(
            sa.select(Notification).where(
                Notification.patient_id == arrived.patient_id, Notification.event == "result_new"
            )
        )
        assert told is not None
    # the patient sees it on her trend page
    trend = login(demo["patient"]).get(f"/card/{arrived.patient_id}/results/trend/8480-6")
    assert trend.status_code == 200
    assert "150" in text(trend)
    with app.app_context():
        assert audit_log_verifies()


def test_a_nurse_of_another_clinic_and_other_roles_get_404(app, demo, login, orgs):
    b = appointment_in_b(app, demo, orgs)
    mine = todays(app, demo, "arrived")[0]
    nurse = login(demo["nurse"])
    assert nurse.get(f"/nurse/appointments/{b}/measurements").status_code == 404
    assert post(nurse, f"/nurse/appointments/{b}/measurements", "/nurse", pulse="70").status_code == 404
    for who in ("doctor", "doctor_b", "registrar", "patient", "auditor", "org_admin"):
        client = login(demo[who])
        assert client.get(f"/nurse/appointments/{mine.id}/measurements").status_code == 404
        assert post(client, f"/nurse/appointments/{mine.id}/measurements", "/", pulse="70").status_code == 404
    with app.app_context():
        assert not db.session.scalar(sa.select(LabReport.id).where(LabReport.code == "85353-1"))


def test_the_nurse_measures_only_on_the_day_the_patient_arrived(app, demo, login):
    arrived = todays(app, demo, "arrived")[0]
    with app.app_context(), write_transaction():
        db.session.get(Appointment, arrived.id).starts_at = datetime.now(UTC) - timedelta(days=1)
    assert login(demo["nurse"]).get(f"/nurse/appointments/{arrived.id}/measurements").status_code == 404


def test_the_demo_seed_adds_the_day_once(app, demo):
    from portal.demodata.clinic_day import seed_clinic_day
    from portal.demodata.seed import _synthetic_patients

    with app.app_context(), write_transaction():
        assert seed_clinic_day(datetime.now(UTC), _synthetic_patients()) == 0
    assert date.today()  # (the seed's day is the portal's today)


def test_ids_past_the_database_are_404(app, demo, login):
    huge = 9223372036854775808
    doctor, nurse = login(demo["doctor"]), login(demo["nurse"])
    assert post(doctor, f"/doctor/appointments/{huge}/arrived", "/doctor").status_code == 404
    assert nurse.get(f"/nurse/appointments/{huge}/measurements").status_code == 404
    assert post(nurse, f"/nurse/appointments/{huge}/measurements", "/nurse", pulse="70").status_code == 404


def test_the_seed_clinic_day_command_adds_a_day_only_when_today_has_none(app, demo):
    with app.app_context():
        doctor = db.session.scalar(sa.select(Practitioner.id).where(Practitioner.account_id == demo["doctor"].id))
    runner = app.test_cli_runner()
    assert "clinic day: 0 added" in runner.invoke(args=["seed-clinic-day"]).output
    with app.app_context(), write_transaction():
        db.session.execute(
            sa.update(Appointment)
            .where(Appointment.practitioner_id == doctor, Appointment.slot_id.is_(None))
            .values(starts_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert f"clinic day: {len(PLAN)} added" in runner.invoke(args=["seed-clinic-day"]).output
    assert len(todays(app, demo)) >= len(PLAN)
