"""The org admin's new working rules and organisation choice (issue 11, point 6).

A doctor newly listed in the directory has no rule: the overview says so and links to the new-rule
page with that doctor chosen; the saved rule is audited and makes its free times for the booking
horizon at once, so the patient's booking steps list the doctor straight away. Bad input (an end
before the start, minutes out of range, no weekday, a past first day, an end before it, an overlap
with another rule of the doctor) returns the form with a precise message and everything typed, and
nothing is written. An admin of several organisations chooses one (``?organisation=``, kept through
the forms and the redirects) with a switcher on the overview; another organisation's doctor or an
organisation the account does not administer is 404."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments.models import ScheduleException, ScheduleRule, Slot
from portal.audit.models import AuditEvent
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Organisation, Practitioner
from tests.conftest import audit_log_verifies, csrf_token

THERAPIST = "72"
NEW = "/clinic/schedules/rules/new"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def post(client, path: str, page: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **{k: str(v) for k, v in data.items()}})


def day(offset: int) -> str:
    return (clock.today() + timedelta(days=offset)).strftime("%d.%m.%Y")


@pytest.fixture
def orgs(app):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


@pytest.fixture
def admin(demo, login):
    return login(demo["org_admin"])


def newcomer(app, organisation: int, surname: str = "Новикова") -> int:
    """A therapist just listed in the directory: no rule, no slot."""
    with app.app_context(), write_transaction():
        doctor = Practitioner(
            surname=surname, name="Ирина", patronymic="Петровна", specialty="терапевт", specialty_code=THERAPIST,
            registration_number=f"NEW-{surname}", organisation_id=organisation,
        )  # fmt: skip
        db.session.add(doctor)
        db.session.flush()
        return doctor.id


def rules_of(app, practitioner_id: int) -> list[ScheduleRule]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(ScheduleRule).where(ScheduleRule.practitioner_id == practitioner_id)))
        db.session.expunge_all()
        return rows


def free_slots(app, practitioner_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Slot)
            .where(Slot.practitioner_id == practitioner_id, Slot.status == "free")
        )


GOOD = {"kind": "in_person", "weekdays": "135", "start_time": "09:00", "end_time": "13:00", "slot_minutes": "20"}


def test_a_new_doctor_gets_a_rule_and_patients_can_book_them_at_once(app, demo, login, admin, orgs):
    doctor = newcomer(app, orgs["A"])
    patient = login(demo["patient"])
    pid = demo["patient"].patient_id
    doctors_step = f"/card/{pid}/appointments/book/doctor?specialty={THERAPIST}"
    assert "Новикова" not in text(patient.get(doctors_step))  # no free times: not offered

    overview = admin.get("/clinic/schedules").get_data(as_text=True)
    assert "Правила работы пока нет" in overview
    assert f'href="{NEW}?practitioner={doctor}"' in overview
    assert f'href="{NEW}"' in overview  # «Add a working rule»
    page = admin.get(f"{NEW}?practitioner={doctor}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(rf'<option[^>]*value="{doctor}"[^>]*selected', html) or re.search(
        rf'<option[^>]*selected[^>]*value="{doctor}"', html
    )
    assert f'value="{day(0)}"' in html  # the first day defaults to today

    done = post(admin, NEW, NEW, practitioner=doctor, room="12", valid_from=day(0), valid_until=day(90), **GOOD)
    assert done.status_code == 303 and "done=rule_added" in done.headers["Location"]
    assert "для записи открыт" in text(admin.get(done.headers["Location"]))
    [rule] = rules_of(app, doctor)
    assert (rule.weekdays, f"{rule.start_time:%H:%M}", f"{rule.end_time:%H:%M}", rule.slot_minutes, rule.room) == (
        "135", "09:00", "13:00", 20, "12"
    )  # fmt: skip
    assert rule.kind == "in_person" and rule.organisation_id == orgs["A"] and rule.valid_from == clock.today()
    assert free_slots(app, doctor) > 0
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "schedule.rule_added"))
        assert event.actor_id == demo["org_admin"].id and str(event.object_id) == str(rule.id)
        assert audit_log_verifies()

    # The patient's booking steps offer the new doctor and their days straight away.
    assert "Новикова" in text(patient.get(doctors_step))
    dates = patient.get(f"/card/{pid}/appointments/book/date?specialty={THERAPIST}&doctor={doctor}")
    assert dates.status_code == 200 and "date=" in dates.get_data(as_text=True)
    # and the overview lists the rule under the doctor
    assert f"/clinic/schedules/rules/{rule.id}" in admin.get("/clinic/schedules").get_data(as_text=True)


def test_a_home_rule_has_no_room(app, admin, orgs):
    doctor = newcomer(app, orgs["A"])
    data = {**GOOD, "kind": "home", "room": "12", "valid_from": day(1)}
    bad = post(admin, NEW, NEW, practitioner=doctor, **data)
    assert bad.status_code == 400 and "нет кабинета" in text(bad)
    assert rules_of(app, doctor) == []
    done = post(admin, NEW, NEW, practitioner=doctor, **{**data, "room": ""})
    assert done.status_code == 303
    [rule] = rules_of(app, doctor)
    assert rule.kind == "home" and rule.room is None and rule.valid_from == clock.today() + timedelta(days=1)
    with app.app_context():
        kinds = set(db.session.scalars(sa.select(Slot.kind).where(Slot.practitioner_id == doctor)))
    assert kinds == {"home"}


@pytest.mark.parametrize(
    "changes,message,field",
    [
        ({"start_time": "14:00", "end_time": "08:00"}, "позже начала", "end_time"),
        ({"slot_minutes": "300"}, "от 5 до 240", "slot_minutes"),
        ({"slot_minutes": "3"}, "от 5 до 240", "slot_minutes"),
        ({"weekdays": ""}, "Введите дни недели", "weekdays"),
        ({"weekdays": "189"}, "от 1 до 7", "weekdays"),
        ({"valid_from": "yesterday"}, "не может начинаться в прошлом", "valid_from"),
        ({"valid_until": "before"}, "раньше своего первого дня", "valid_until"),
        ({"practitioner": ""}, "Выберите врача", "practitioner"),
    ],
)
def test_bad_input_returns_the_form_with_a_precise_message(app, admin, orgs, changes, message, field):
    doctor = newcomer(app, orgs["A"])
    data = {"practitioner": doctor, "room": "7", "valid_from": day(2), "valid_until": day(30), **GOOD, **changes}
    data["valid_from"] = day(-1) if data["valid_from"] == "yesterday" else data["valid_from"]
    data["valid_until"] = day(1) if data["valid_until"] == "before" else data["valid_until"]
    bad = post(admin, NEW, NEW, **data)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and message in text(bad)
    assert 'id="error-summary"' in html and f'href="#{field}"' in html
    for name in ("weekdays", "start_time", "end_time", "slot_minutes", "room", "valid_from", "valid_until"):
        assert f'value="{data[name]}"' in html, name  # everything typed is kept
    assert rules_of(app, doctor) == [] and free_slots(app, doctor) == 0


def test_an_overlap_with_another_rule_of_the_doctor_is_refused(app, admin, orgs):
    doctor = newcomer(app, orgs["A"])
    assert post(admin, NEW, NEW, practitioner=doctor, valid_from=day(0), **GOOD).status_code == 303
    before = free_slots(app, doctor)
    data = {**GOOD, "weekdays": "5", "start_time": "12:00", "end_time": "15:00", "valid_from": day(7)}
    bad = post(admin, NEW, NEW, practitioner=doctor, **data)
    assert bad.status_code == 400
    assert "уже есть приём: пн, ср, пт 09:00–13:00" in text(bad) and 'value="12:00"' in bad.get_data(as_text=True)
    assert len(rules_of(app, doctor)) == 1 and free_slots(app, doctor) == before
    # the afternoon of the same days, or a rule that ended before, does not overlap
    assert post(admin, NEW, NEW, practitioner=doctor, **{**data, "start_time": "13:00"}).status_code == 303
    assert len(rules_of(app, doctor)) == 2


def test_another_organisations_doctor_or_organisation_is_404(app, demo, admin, orgs):
    doctor_b = newcomer(app, orgs["B"], "Бэева")
    assert admin.get(f"{NEW}?practitioner={doctor_b}").status_code == 404
    assert admin.get(f"{NEW}?organisation={orgs['B']}").status_code == 404
    assert admin.get(f"/clinic/schedules?organisation={orgs['B']}").status_code == 404
    assert admin.get(f"/clinic/schedules/exceptions/new?organisation={orgs['B']}").status_code == 404
    assert admin.get("/clinic/schedules?organisation=x").status_code == 404
    assert admin.get(f"{NEW}?practitioner=x").status_code == 404
    forged = post(admin, NEW, NEW, practitioner=doctor_b, valid_from=day(0), **GOOD)
    assert forged.status_code == 404
    assert rules_of(app, doctor_b) == [] and free_slots(app, doctor_b) == 0
    for who in ("doctor", "registrar", "patient"):
        assert post_as(app, demo, who, doctor_b).status_code == 404


def post_as(app, demo, who: str, doctor: int):
    client = app.test_client()
    from tests.conftest import session_for

    session_for(app, client, demo[who].id)
    return post(client, NEW, "/", practitioner=doctor, valid_from=day(0), **GOOD)


@pytest.fixture
def two_clinics(app, demo, orgs):
    """The demo admin is also the org admin of clinic B."""
    with app.app_context():
        assign_role(None, demo["org_admin"].id, orgs["B"], "org_admin")
        names = {key: db.session.get(Organisation, orgs[key]).name for key in ("A", "B")}
        db.session.remove()
    return names


def test_an_admin_of_several_organisations_chooses_one(app, demo, admin, orgs, two_clinics):
    plain = admin.get("/clinic/schedules").get_data(as_text=True)
    assert 'aria-label="Ваши организации"' in plain  # the switcher
    chosen = admin.get(f"/clinic/schedules?organisation={orgs['B']}")
    html = chosen.get_data(as_text=True)
    assert chosen.status_code == 200 and two_clinics["B"] in text(chosen).split("Правила работы")[0]
    switcher = html.split('aria-label="Ваши организации"')[1].split("</nav>")[0]
    current = re.findall(r'<a href="([^"]+)" aria-current="page"', switcher)
    assert current == [f"/clinic/schedules?organisation={orgs['B']}"]
    assert f'href="/clinic/schedules?organisation={orgs["A"]}"' in switcher
    assert f"{NEW}?organisation={orgs['B']}" in html
    assert f"/clinic/schedules/exceptions/new?organisation={orgs['B']}" in html

    doctor_b = newcomer(app, orgs["B"], "Бэева")
    assert f"practitioner={doctor_b}" in admin.get(f"/clinic/schedules?organisation={orgs['B']}").get_data(as_text=True)
    assert "Бэева" not in text(admin.get(f"/clinic/schedules?organisation={orgs['A']}"))
    page = f"{NEW}?organisation={orgs['B']}"
    form = admin.get(page).get_data(as_text=True)
    assert f'action="{NEW}?organisation={orgs["B"]}"' in form and "Бэева" in form
    # a doctor of clinic A under clinic B's page: 404
    doctor_a = newcomer(app, orgs["A"])
    assert post(admin, page, page, practitioner=doctor_a, valid_from=day(0), **GOOD).status_code == 404
    assert admin.get(f"{NEW}?organisation={orgs['B']}&practitioner={doctor_a}").status_code == 404
    # an error keeps the organisation in the form's address
    bad = post(admin, page, page, practitioner=doctor_b, valid_from=day(0), **{**GOOD, "weekdays": ""})
    assert bad.status_code == 400 and f'action="{NEW}?organisation={orgs["B"]}"' in bad.get_data(as_text=True)
    done = post(admin, page, page, practitioner=doctor_b, valid_from=day(0), **GOOD)
    assert done.status_code == 303 and f"organisation={orgs['B']}" in done.headers["Location"]
    [rule] = rules_of(app, doctor_b)
    assert rule.organisation_id == orgs["B"] and free_slots(app, doctor_b) > 0
    # ?practitioner= alone chooses that doctor's organisation
    assert two_clinics["B"] in text(admin.get(f"{NEW}?practitioner={newcomer(app, orgs['B'], 'Вэева')}"))

    # the exception page of clinic B: B's doctors, saved for B, back to B
    exceptions = f"/clinic/schedules/exceptions/new?organisation={orgs['B']}"
    assert "Бэева" in admin.get(exceptions).get_data(as_text=True)
    three = day(3)
    added = post(admin, exceptions, exceptions, practitioner=doctor_b, kind="training", starts_on=three, ends_on=three)
    assert added.status_code == 303 and f"organisation={orgs['B']}" in added.headers["Location"]
    with app.app_context():
        exception = db.session.scalar(sa.select(ScheduleException).order_by(ScheduleException.id.desc()).limit(1))
        assert exception.organisation_id == orgs["B"]
        exception_id = exception.id
    remove = f"/clinic/schedules/exceptions/{exception_id}/remove"
    removed = post(admin, remove, f"/clinic/schedules?organisation={orgs['B']}")
    assert removed.status_code == 303 and f"organisation={orgs['B']}" in removed.headers["Location"]
    # the edit of a rule of clinic B leads back to clinic B
    edit = f"/clinic/schedules/rules/{rule.id}"
    assert f'href="/clinic/schedules?organisation={orgs["B"]}"' in admin.get(edit).get_data(as_text=True)
    saved = post(admin, edit, edit, weekdays="24", start_time="09:00", end_time="12:00", slot_minutes="20")
    assert saved.status_code == 303 and f"organisation={orgs['B']}" in saved.headers["Location"]


def test_an_admin_of_one_organisation_sees_no_switcher(admin):
    html = admin.get("/clinic/schedules").get_data(as_text=True)
    assert "Ваши организации" not in html and "?organisation=" not in html


def test_a_listed_clinician_s_staff_page_leads_to_a_new_rule(app, demo, admin, orgs):
    """The staff page of a clinician of the organisation listed in the directory links to the
    new-rule page with them chosen."""
    with app.app_context():
        listed = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["doctor"].id))
        doctor, organisation = listed.id, listed.organisation_id
    html = admin.get(f"/org/{organisation}/members/{demo['doctor'].id}").get_data(as_text=True)
    assert f'href="{NEW}?practitioner={doctor}"' in html
    assert admin.get(f"{NEW}?practitioner={doctor}").status_code == 200
