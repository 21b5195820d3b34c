"""The registrar's desk and the org admin's schedules (issue 10, point 12).

The registrar finds a patient by SNILS or surname within their organisation's scope and books,
cancels and moves on the patient's behalf; each change is audited with the registrar as the actor
and the patient is told in the inbox; the booking opens the card to the doctor like a citizen's.
The org admin edits the rules and adds exceptions, which cancel the covered appointments and tell
the patients. A registrar or admin of clinic B gets 404 for clinic A's patients, slots,
appointments, rules and doctors, and nothing changes. Bad input: a past slot, another
organisation's slot, an invalid move, a malformed form — each a clear page, nothing changed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.access.models import CareRelationship
from portal.appointments.models import Appointment, ScheduleException, ScheduleRule, Slot
from portal.audit.models import AuditEvent
from portal.auth.models import Account
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner
from portal.notify.models import Notification
from portal.record.models import Patient
from tests.conftest import audit_log_verifies, csrf_token

THERAPIST = "72"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def orgs(app):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


@pytest.fixture
def registrar(app, demo, login):
    return login(demo["registrar"])


@pytest.fixture
def staff_b(app, demo, orgs, login):
    """Волков (a doctor of clinic B) is also its registrar and its org admin."""
    with app.app_context():
        assign_role(None, demo["doctor_b"].id, orgs["B"], "registrar")
        assign_role(None, demo["doctor_b"].id, orgs["B"], "org_admin")
    return login(demo["doctor_b"])


def free_slot(app, organisation: int, specialty: str = THERAPIST, skip: int = 0, doctor_account=None) -> int:
    with app.app_context():
        query = (
            sa.select(Slot.id)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(
                Slot.organisation_id == organisation,
                Practitioner.specialty_code == specialty,
                Slot.status == "free",
                Slot.starts_at > clock.now() + timedelta(days=2),
            )
        )
        if doctor_account is not None:
            query = query.where(Practitioner.account_id == doctor_account)
        return db.session.scalar(query.order_by(Slot.starts_at, Slot.id).offset(skip).limit(1))


def booked_of(app, patient_id: int, organisation: int | None = None) -> list[Appointment]:
    with app.app_context():
        query = sa.select(Appointment).where(
            Appointment.patient_id == patient_id,
            Appointment.status == "booked",
            Appointment.starts_at > clock.now(),
        )
        if organisation:
            query = query.where(Appointment.organisation_id == organisation)
        rows = list(db.session.scalars(query.order_by(Appointment.id)))
        db.session.expunge_all()
    return rows


def post(client, path: str, page: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **{k: str(v) for k, v in data.items()}})


def free_therapy_for(app, patient_id: int) -> None:
    """Cancel the patient's upcoming therapist appointments (the demo books some), so one more
    may be booked."""
    with app.app_context(), write_transaction():
        for row in db.session.scalars(
            sa.select(Appointment).where(
                Appointment.patient_id == patient_id,
                Appointment.specialty_code == THERAPIST,
                Appointment.status == "booked",
            )
        ):
            row.status = "cancelled_by_patient"


def test_the_registrar_finds_the_patient_by_snils_and_surname(app, demo, registrar):
    with app.app_context():
        snils = db.session.get(Patient, demo["patient"].patient_id).snils
    by_snils = registrar.get(f"/desk?q={snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}")
    assert by_snils.status_code == 200 and "Смирнова Елена" in text(by_snils)
    by_name = registrar.get("/desk?q=смирнова ел")
    assert f"/desk/patients/{demo['patient'].patient_id}" in by_name.get_data(as_text=True)
    nobody = registrar.get("/desk?q=12345")
    assert nobody.status_code == 200 and "/desk/patients/" not in nobody.get_data(as_text=True)


def test_booking_at_the_desk_is_audited_tells_the_patient_and_opens_the_card(app, demo, registrar, orgs):
    pid = demo["patient"].patient_id
    free_therapy_for(app, pid)
    page = registrar.get(f"/desk/patients/{pid}?specialty={THERAPIST}")
    assert page.status_code == 200
    slot_id = free_slot(app, orgs["A"], doctor_account=demo["doctor"].id)
    done = post(registrar, f"/desk/patients/{pid}/book", f"/desk/patients/{pid}", slot=slot_id)
    assert done.status_code == 303
    [appointment] = [a for a in booked_of(app, pid) if a.slot_id == slot_id]
    assert appointment.booked_by_id == demo["registrar"].id
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "appointment.booked", AuditEvent.object_id == str(appointment.id)
            )
        )
        assert (event.actor_id, event.actor_role) == (demo["registrar"].id, "registrar")
        note = db.session.scalar(
            sa.select(Notification).where(
                Notification.account_id == demo["patient"].id, Notification.event == "appointment_changed"
            )
        )
        assert note is not None and note.url.endswith(f"/appointments/{appointment.id}")
        care = db.session.scalar(sa.select(CareRelationship).where(CareRelationship.appointment_id == appointment.id))
        assert care.practitioner_id == demo["doctor"].id
        assert db.session.get(Slot, slot_id).status == "booked"
        assert audit_log_verifies()
    # the patient sees who booked it in «Кто смотрел мою карту»
    from tests.conftest import session_for

    patient = app.test_client()
    session_for(app, patient, demo["patient"].id)
    log = text(patient.get(f"/card/{pid}/access-log"))
    assert "Лебедева Ирина Владимировна" in log and "записал" in log.casefold()


def test_cancel_and_move_at_the_desk(app, demo, registrar, orgs):
    pid = demo["patient"].patient_id
    free_therapy_for(app, pid)
    first = free_slot(app, orgs["A"])
    second = free_slot(app, orgs["A"], skip=1)
    post(registrar, f"/desk/patients/{pid}/book", f"/desk/patients/{pid}", slot=first)
    [appointment] = [a for a in booked_of(app, pid) if a.slot_id == first]
    move_page = registrar.get(f"/desk/patients/{pid}/appointments/{appointment.id}/move")
    assert move_page.status_code == 200 and f'value="{second}"' in move_page.get_data(as_text=True)
    moved = post(
        registrar, f"/desk/patients/{pid}/appointments/{appointment.id}/move", f"/desk/patients/{pid}", slot=second
    )
    assert moved.status_code == 303
    [new] = [a for a in booked_of(app, pid) if a.slot_id == second]
    with app.app_context():
        assert db.session.get(Appointment, appointment.id).status == "cancelled_by_patient"
        assert db.session.get(Slot, first).status == "free"
    cancelled = post(
        registrar, f"/desk/patients/{pid}/appointments/{new.id}/cancel", f"/desk/patients/{pid}", reason="Уезжает"
    )
    assert cancelled.status_code == 303
    with app.app_context():
        found = db.session.get(Appointment, new.id)
        assert (found.status, found.cancel_reason, found.cancelled_by_id) == (
            "cancelled_by_patient",
            "Уезжает",
            demo["registrar"].id,
        )
        assert db.session.get(Slot, second).status == "free"
        kinds = [
            n.params
            for n in db.session.scalars(
                sa.select(Notification)
                .where(Notification.account_id == demo["patient"].id, Notification.event == "appointment_changed")
                .order_by(Notification.id)
            )
        ]
    assert ['"booked"' in k for k in kinds] == [True, False, False]
    assert '"moved"' in kinds[1] and '"cancelled"' in kinds[2]
    # cancelling it again: a clear page, nothing changes
    again = post(registrar, f"/desk/patients/{pid}/appointments/{new.id}/cancel", f"/desk/patients/{pid}")
    assert again.status_code == 400 and "Ничего не изменилось" in text(again)


def test_bad_input_at_the_desk_changes_nothing(app, demo, registrar, orgs):
    pid = demo["patient"].patient_id
    free_therapy_for(app, pid)
    with app.app_context(), write_transaction():
        past = db.session.get(Slot, free_slot(app, orgs["A"], skip=2))
        past.starts_at = clock.now() - timedelta(hours=2)
        past.ends_at = clock.now() - timedelta(hours=1)
        past_id = past.id
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Appointment))
    answer = post(registrar, f"/desk/patients/{pid}/book", f"/desk/patients/{pid}", slot=past_id)
    assert answer.status_code == 400 and "уже прошло" in text(answer)
    other_org = post(registrar, f"/desk/patients/{pid}/book", f"/desk/patients/{pid}", slot=free_slot(app, orgs["B"]))
    assert other_org.status_code == 404
    assert post(registrar, f"/desk/patients/{pid}/book", f"/desk/patients/{pid}", slot="x").status_code == 404
    no_token = registrar.post(f"/desk/patients/{pid}/book", data={"slot": str(free_slot(app, orgs["A"]))})
    assert no_token.status_code == 400
    bad_day = registrar.get(f"/desk/patients/{pid}?specialty={THERAPIST}&day=31.02.2026")
    assert (
        bad_day.status_code == 200
        and "01.11.2026" in text(bad_day)
        and 'aria-invalid="true"' in bad_day.get_data(as_text=True)
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == before


def test_a_registrar_of_clinic_b_gets_404_for_clinic_a(app, demo, orgs, staff_b, registrar):
    pid = demo["patient"].patient_id  # attached to clinic A
    assert "/desk/patients/" not in staff_b.get("/desk?q=смирнова").get_data(as_text=True)
    assert staff_b.get(f"/desk/patients/{pid}").status_code == 404
    [appointment] = booked_of(app, pid, orgs["A"])[:1] or [None]
    assert appointment is not None
    for path in (
        f"/desk/patients/{pid}/appointments/{appointment.id}/move",
        f"/desk/patients/{pid}/appointments/{appointment.id}/cancel",
        f"/desk/patients/{pid}/book",
    ):
        answer = (
            staff_b.get(path)
            if path.endswith("move")
            else post(staff_b, path, "/desk", slot=free_slot(app, orgs["B"]) or 0)
        )
        assert answer.status_code == 404, path
    assert booked_of(app, pid, orgs["A"])[0].status == "booked"
    # and clinic A's registrar cannot reach clinic B's appointment under an A patient's URL
    with app.app_context():
        b_appointment = db.session.scalar(
            sa.select(Appointment.id).where(Appointment.organisation_id == orgs["B"]).limit(1)
        )
    if b_appointment:
        assert registrar.get(f"/desk/patients/{pid}/appointments/{b_appointment}/move").status_code == 404


def test_a_registrar_never_books_for_their_own_card(app, demo, registrar):
    own = demo["registrar"].patient_id
    if own is not None:
        assert registrar.get(f"/desk/patients/{own}").status_code == 404


# -- the org admin ----------------------------------------------------------------------------------


def test_the_admin_edits_a_rule_and_bad_input_returns_the_form(app, demo, login, orgs):
    client = login(demo["org_admin"])
    assert client.get("/clinic/schedules").status_code == 200
    with app.app_context():
        rule = db.session.scalar(
            sa.select(ScheduleRule).where(ScheduleRule.organisation_id == orgs["A"]).order_by(ScheduleRule.id).limit(1)
        )
        rule_id, weekdays = rule.id, rule.weekdays
    path = f"/clinic/schedules/rules/{rule_id}"
    bad = post(client, path, path, weekdays="189", start_time="14:00", end_time="08:00", slot_minutes="3")
    body = text(bad)
    assert bad.status_code == 400 and 'value="189"' in bad.get_data(as_text=True)
    assert "от 1 до 7" in body and "позже начала" in body and "от 5 до 240" in body
    with app.app_context():
        assert db.session.get(ScheduleRule, rule_id).weekdays == weekdays
    good = post(client, path, path, weekdays="531", start_time="09:00", end_time="13:00", slot_minutes="20", room="7")
    assert good.status_code == 303
    with app.app_context():
        saved = db.session.get(ScheduleRule, rule_id)
        assert (saved.weekdays, saved.slot_minutes, saved.room) == ("135", 20, "7")
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "schedule.rule_changed")) is not None


def test_an_exception_cancels_the_appointments_and_tells_the_patients(app, demo, login, orgs):
    client = login(demo["org_admin"])
    with app.app_context():
        appointment = db.session.scalar(
            sa.select(Appointment)
            .join(Account, Account.patient_id == Appointment.patient_id)  # someone to tell
            .where(
                Appointment.organisation_id == orgs["A"],
                Appointment.status == "booked",
                Appointment.starts_at > clock.now() + timedelta(days=1),
                Appointment.practitioner_id.is_not(None),
            )
            .order_by(Appointment.starts_at)
            .limit(1)
        )
        day = clock.local_date(appointment.starts_at)
        doctor, appointment_id, patient_id = appointment.practitioner_id, appointment.id, appointment.patient_id
    page = "/clinic/schedules/exceptions/new"
    past = post(
        client, page, page, practitioner=doctor, kind="sick_leave",
        starts_on=(clock.today() - timedelta(days=1)).strftime("%d.%m.%Y"), ends_on=day.strftime("%d.%m.%Y"),
    )  # fmt: skip
    assert past.status_code == 400 and "в прошлом" in text(past)
    done = post(
        client, page, page, practitioner=doctor, kind="sick_leave", starts_on=day.strftime("%d.%m.%Y"),
        ends_on=day.strftime("%d.%m.%Y"), reason="Врач заболел",
    )  # fmt: skip
    assert done.status_code == 303
    with app.app_context():
        found = db.session.get(Appointment, appointment_id)
        assert found.status == "cancelled_by_clinic" and "Врач заболел" in found.cancel_reason
        exception = db.session.scalar(sa.select(ScheduleException).order_by(ScheduleException.id.desc()).limit(1))
        assert exception.created_by_id == demo["org_admin"].id and exception.applied_at is not None
        told = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.patient_id == patient_id, Notification.event == "appointment_changed")
        )
        assert told >= 1


def test_an_admin_of_clinic_b_gets_404_for_clinic_a(app, demo, orgs, staff_b):
    with app.app_context():
        rule_id = db.session.scalar(
            sa.select(ScheduleRule.id).where(ScheduleRule.organisation_id == orgs["A"]).limit(1)
        )
        doctor_a = db.session.scalar(
            sa.select(Practitioner.id).where(Practitioner.organisation_id == orgs["A"]).limit(1)
        )
        exceptions = db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleException))
    assert staff_b.get(f"/clinic/schedules/rules/{rule_id}").status_code == 404
    path = f"/clinic/schedules/rules/{rule_id}"
    edited = post(
        staff_b, path, "/clinic/schedules", weekdays="1", start_time="09:00", end_time="10:00", slot_minutes="15"
    )
    assert edited.status_code == 404
    page = "/clinic/schedules/exceptions/new"
    day = (clock.today() + timedelta(days=3)).strftime("%d.%m.%Y")
    forged = post(staff_b, page, page, practitioner=doctor_a, kind="holiday", starts_on=day, ends_on=day)
    assert forged.status_code in (400, 404)  # not in B's list of doctors: refused, nothing made
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ScheduleException)) == exceptions
    overview = text(staff_b.get("/clinic/schedules"))
    assert "Соколов" not in overview


def test_the_staff_pages_send_as_many_statements_with_four_times_the_rows(app, demo, orgs, login):
    """The desk's search, patient page (with free times) and the schedules overview: the same
    statements whatever the number of patients' appointments, slots and rules."""
    from tests.test_htmx import recorded_statements

    pid = demo["patient"].patient_id
    desk_client, admin_client = login(demo["registrar"]), login(demo["org_admin"])
    pages = [
        (desk_client, "/desk?q=смирнова"),
        (desk_client, f"/desk/patients/{pid}?specialty={THERAPIST}"),
        (admin_client, "/clinic/schedules"),
    ]

    def counts() -> list[int]:
        found = []
        for client, path in pages:
            assert client.get(path).status_code == 200
            with recorded_statements(app) as statements:
                assert client.get(path).status_code == 200
            found.append(len(statements))
        return found

    before = counts()
    with app.app_context(), write_transaction():
        practitioners = list(
            db.session.scalars(sa.select(Practitioner).where(Practitioner.organisation_id == orgs["A"]))
        )
        rules = list(db.session.scalars(sa.select(ScheduleRule).where(ScheduleRule.organisation_id == orgs["A"])))
        slots = list(
            db.session.scalars(sa.select(Slot).where(Slot.organisation_id == orgs["A"], Slot.starts_at > clock.now()))
        )
        for n in range(3):
            for rule in rules:
                db.session.add(
                    ScheduleRule(
                        practitioner_id=rule.practitioner_id, organisation_id=rule.organisation_id,
                        weekdays=rule.weekdays, start_time=rule.start_time, end_time=rule.end_time,
                        slot_minutes=rule.slot_minutes, kind=rule.kind, valid_from=rule.valid_from,
                    )
                )  # fmt: skip
            for slot in slots[:50]:
                shift = timedelta(minutes=1 + n)
                db.session.add(
                    Slot(
                        practitioner_id=slot.practitioner_id, organisation_id=slot.organisation_id,
                        starts_at=slot.starts_at + shift, ends_at=slot.ends_at + shift, kind=slot.kind, status="free",
                    )
                )  # fmt: skip
            for day in range(5):
                db.session.add(
                    Appointment(
                        patient_id=pid, organisation_id=orgs["A"], practitioner_id=practitioners[0].id,
                        starts_at=clock.now() - timedelta(days=40 + day + 7 * n), status="completed",
                    )
                )  # fmt: skip
    assert counts() == before


def test_a_rule_edit_cancels_the_booked_times_it_drops_and_tells_the_patients(app, demo, login, orgs):
    """The demo patient's next appointment sits on the demo doctor's slots: a rule of his that no
    longer makes it cancels it by the clinic, the patient told with the way to the ticket's
    alternatives; the free times follow the new rule at once."""
    client = login(demo["org_admin"])
    with app.app_context():
        appointment = db.session.scalar(
            sa.select(Appointment)
            .join(Slot, Slot.id == Appointment.slot_id)
            .join(Account, Account.patient_id == Appointment.patient_id)  # someone to tell
            .where(
                Appointment.organisation_id == orgs["A"],
                Appointment.status == "booked",
                Appointment.starts_at > clock.now() + timedelta(days=1),
                Slot.rule_id.is_not(None),
            )
            .order_by(Appointment.starts_at)
            .limit(1)
        )
        rule = db.session.get(ScheduleRule, db.session.get(Slot, appointment.slot_id).rule_id)
        appointment_id, patient_id, rule_id = appointment.id, appointment.patient_id, rule.id
        weekday = str(clock.local_date(appointment.starts_at).isoweekday())
        others = "".join(d for d in "12345" if d != weekday)
    path = f"/clinic/schedules/rules/{rule_id}"
    done = post(client, path, path, weekdays=others, start_time=f"{rule.start_time:%H:%M}",
                end_time=f"{rule.end_time:%H:%M}", slot_minutes=rule.slot_minutes, room=rule.room or "")  # fmt: skip
    assert done.status_code == 303 and "affected=" in done.headers["Location"]
    assert "отменены" in text(client.get(done.headers["Location"])) or "отменена" in text(
        client.get(done.headers["Location"])
    )
    with app.app_context():
        found = db.session.get(Appointment, appointment_id)
        assert found.status == "cancelled_by_clinic" and "изменилось расписание" in found.cancel_reason
        assert db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.patient_id == patient_id, Notification.event == "appointment_changed")
        )
        day_slots = sa.select(Slot.status).where(
            Slot.rule_id == rule_id,
            Slot.starts_at > clock.now(),
            Slot.status != "cancelled",
        )
        assert db.session.scalars(day_slots).all()  # the other weekdays keep their times
        assert audit_log_verifies()


def test_removing_an_exception_makes_its_times_bookable_again(app, demo, login, orgs, staff_b):
    client = login(demo["org_admin"])
    day = clock.today() + timedelta(days=3)
    with app.app_context():
        doctor = db.session.scalar(
            sa.select(Slot.practitioner_id)
            .where(Slot.organisation_id == orgs["A"], Slot.status == "free", Slot.starts_at >= clock.day_start(day))
            .order_by(Slot.starts_at)
            .limit(1)
        )
        day = clock.local_date(
            db.session.scalar(
                sa.select(Slot.starts_at)
                .where(Slot.practitioner_id == doctor, Slot.status == "free", Slot.starts_at >= clock.day_start(day))
                .order_by(Slot.starts_at)
                .limit(1)
            )
        )
    that_day = sa.and_(
        Slot.practitioner_id == doctor,
        Slot.starts_at >= clock.day_start(day),
        Slot.starts_at < clock.day_start(day + timedelta(days=1)),
    )
    page = "/clinic/schedules/exceptions/new"
    stamp = day.strftime("%d.%m.%Y")
    added = post(client, page, page, practitioner=doctor, kind="training", starts_on=stamp, ends_on=stamp)
    assert added.status_code == 303
    with app.app_context():
        exception_id = db.session.scalar(sa.select(ScheduleException.id).order_by(ScheduleException.id.desc()))
        cancelled = db.session.scalar(
            sa.select(sa.func.count()).select_from(Slot).where(that_day, Slot.status == "cancelled")
        )
        booked = db.session.scalar(
            sa.select(sa.func.count()).select_from(Slot).where(that_day, Slot.status == "booked")
        )
        assert cancelled > 0 and booked == 0
    overview = client.get("/clinic/schedules").get_data(as_text=True)
    assert f"/clinic/schedules/exceptions/{exception_id}/remove" in overview
    remove = f"/clinic/schedules/exceptions/{exception_id}/remove"
    assert client.post(remove).status_code == 400  # no CSRF token
    assert post(staff_b, remove, "/clinic/schedules").status_code == 404  # another clinic's admin
    done = post(client, remove, "/clinic/schedules")
    assert done.status_code == 303 and "для записи снова" in text(client.get(done.headers["Location"]))
    with app.app_context():
        assert db.session.get(ScheduleException, exception_id) is None
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(Slot).where(that_day, Slot.status == "free")
        ) == cancelled  # fmt: skip
        assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "schedule.exception_removed"))
    assert post(client, remove, "/clinic/schedules").status_code == 404  # gone
