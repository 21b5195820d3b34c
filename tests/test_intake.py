"""The record's intake: a treating doctor writes results and prescriptions; the values are
flagged against their ranges, the writing is audited, and the card's holders (the patient, a
child's guardian) are told, in the portal and by e-mail; nobody else is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.access.policy import AccessDenied
from portal.audit.models import AuditEvent
from portal.auth.models import Account
from portal.database import db
from portal.notify.models import Notification
from portal.record import intake
from portal.record.models import LabReport, Observation, Prescription
from tests.conftest import outbox

BLOOD_COUNT = "58410-2"  # ОАК
VALUES = [
    intake.Measured("718-7", 175, "g/L", 120, 160),  # haemoglobin: above
    intake.Measured("6690-2", 11.5, "10*9/L", 4, 9),  # leukocytes: above
    intake.Measured("777-3", 250, "10*9/L", 150, 400),  # platelets: within
]


def write_results(app, author, patient_id: int, values=VALUES):
    with app.test_request_context():
        author = db.session.get(Account, author.id)
        report = intake.add_results(author, patient_id, BLOOD_COUNT, datetime.now(UTC) - timedelta(hours=3), values)
        return report.id


def notes_of(app, account_id: int, event: str) -> list[Notification]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(Notification).where(Notification.account_id == account_id, Notification.event == event)
            )
        )
        db.session.expunge_all()
    return rows


def test_a_result_is_flagged_audited_and_the_patient_is_told_how_many_values_are_out_of_range(app, demo, login):
    card = demo["patient"].patient_id
    report_id = write_results(app, demo["doctor"], card)
    with app.app_context():
        report = db.session.get(LabReport, report_id)
        flags = {
            loinc: flag
            for loinc, flag in db.session.execute(
                sa.select(Observation.loinc, Observation.flag).where(Observation.report_id == report_id)
            )
        }
        written = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.write").order_by(AuditEvent.id.desc())
        )
    assert report.flagged == 2 and flags == {"718-7": "high", "6690-2": "high", "777-3": None}
    assert (written.actor_id, written.section, written.object_id) == (demo["doctor"].id, "results", str(report_id))
    assert written.actor_role == "clinician"

    [note] = notes_of(app, demo["patient"].id, "result_new")
    assert note.patient_id == card and note.url == f"/card/{card}/results/{report_id}" and note.read_at is None
    assert json.loads(note.params)["out_of_range"] == 2
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    inbox = owner.get("/notifications").get_data(as_text=True)
    assert "New result: Complete blood count, 2 values out of range" in inbox
    entry = owner.get(note.url).get_data(as_text=True)
    assert "above the range" in entry and "175" in entry
    mails = [m for m in outbox(app, demo["patient"].email) if m.kind == "notify_result_new"]
    assert len(mails) == 1 and "175" not in mails[0].body  # the e-mail carries no medical details


def test_a_result_within_range_says_so_and_a_childs_guardian_is_told(app, demo, login):
    child = demo["child_9"]
    write_results(app, demo["doctor"], child.id, [intake.Measured("777-3", 250, "10*9/L", 150, 400)])
    [note] = notes_of(app, demo["guardian"].id, "result_new")
    assert note.patient_id == child.id and json.loads(note.params)["out_of_range"] == 0
    guardian = login(demo["guardian"])
    guardian.set_cookie("lang", "en")
    inbox = guardian.get("/notifications").get_data(as_text=True)
    assert "New result: Complete blood count" in inbox and "out of range" not in inbox
    # Smirnova's trusted person and the patient herself hold no part of this card.
    assert not notes_of(app, demo["patient"].id, "result_new") and not notes_of(app, demo["trusted"].id, "result_new")


def test_a_trusted_person_is_not_told_and_an_ended_guardianship_tells_nobody(app, demo):
    from portal.database import write_transaction
    from portal.sharing.models import Guardianship

    write_results(app, demo["doctor"], demo["patient"].patient_id)
    assert not notes_of(app, demo["trusted"].id, "result_new")  # shared sections are read, not news
    with app.app_context(), write_transaction():
        db.session.execute(
            sa.update(Guardianship)
            .where(Guardianship.child_id == demo["child_9"].id)
            .values(ended_at=datetime.now(UTC))
        )
    write_results(app, demo["doctor"], demo["child_9"].id)
    assert not notes_of(app, demo["guardian"].id, "result_new")


@pytest.mark.parametrize("who", ["nurse", "doctor_b", "trusted", "registrar", "patient"])
def test_only_a_treating_doctor_writes_and_a_refusal_writes_and_tells_nothing(app, demo, who):
    card = demo["patient"].patient_id
    with app.app_context():
        before = db.session.scalar(
            sa.select(sa.func.count()).select_from(LabReport).where(LabReport.patient_id == card)
        )
    with pytest.raises(AccessDenied):
        write_results(app, demo[who], card)
    with app.app_context():
        after = db.session.scalar(sa.select(sa.func.count()).select_from(LabReport).where(LabReport.patient_id == card))
    assert after == before and not notes_of(app, demo["patient"].id, "result_new")


def test_a_prescription_is_issued_and_the_patient_is_told_its_number_and_term(app, demo, login):
    card = demo["patient"].patient_id
    until = clock.today() + timedelta(days=60)
    with app.test_request_context():
        doctor = db.session.get(Account, demo["doctor"].id)
        rx = intake.issue_prescription(
            doctor,
            card,
            number="77-0042",
            drug="Метформин",
            form="таблетки 500 мг",
            dose="по 1 таблетке 2 раза в день",
            quantity="60 таблеток",
            valid_until=until,
        )
        rx_id = rx.id
    with app.app_context():
        rx = db.session.get(Prescription, rx_id)
        assert rx.practitioner.account_id == demo["doctor"].id and rx.issued_on == clock.today()
    [note] = notes_of(app, demo["patient"].id, "prescription_issued")
    assert note.url == f"/card/{card}/prescriptions/{rx_id}"
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    inbox = owner.get("/notifications").get_data(as_text=True)
    assert "Prescription issued: Метформин" in inbox and "Prescription No. 77-0042, valid until" in inbox
    page = owner.get(note.url).get_data(as_text=True)
    assert "77-0042" in page and "Метформин" in page


def test_a_prescription_cannot_end_before_it_is_issued(app, demo):
    card = demo["patient"].patient_id
    with app.test_request_context(), pytest.raises(ValueError):
        intake.issue_prescription(
            db.session.get(Account, demo["doctor"].id),
            card,
            number="77-0043",
            drug="Лозартан",
            form="таблетки",
            dose="1",
            quantity="30",
            valid_until=clock.today() - timedelta(days=1),
        )
    with app.app_context():
        assert db.session.scalar(sa.select(Prescription.id).where(Prescription.number == "77-0043")) is None
    assert not notes_of(app, demo["patient"].id, "prescription_issued")
