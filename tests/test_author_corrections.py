"""Corrections by the author: a doctor corrects the entries they wrote after signing (each changed
field a new version the patient sees), and decides the citizens' error reports about them; the
registrars keep the reports about entries with no author at the clinic."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import StaffMembership
from portal.corrections.models import CorrectionRequest
from portal.database import db, write_transaction
from portal.notify.models import Notification
from portal.record import models as m
from portal.record.version import card_version
from tests.conftest import csrf_token


@pytest.fixture
def login(login):
    """Clients that read the pages in English, the language the messages are written in."""

    def make(account, stage: str = "complete", lang: str = "en"):
        client = login(account, stage)
        client.set_cookie("lang", lang)
        return client

    return make


def practitioner(app, account) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(m.Practitioner.id).where(m.Practitioner.account_id == account.id))


def authored(app, demo, key: str, model=m.Visit) -> int:
    """The first entry of Smirnova's card that ``key`` (a demo doctor) wrote."""
    who = practitioner(app, demo[key])
    with app.app_context():
        return db.session.scalar(
            sa.select(model.id)
            .where(model.practitioner_id == who, model.patient_id == demo["patient"].patient_id)
            .order_by(model.id)
            .limit(1)
        )


def stamp_of(html: str) -> str:
    found = re.search(r'<input[^>]*name="stamp"[^>]*>', html)
    assert found, "no stamp in the form"
    return re.search(r'value="([0-9a-f]*)"', found.group(0)).group(1)


def form_of(client, path: str) -> dict:
    """The correction form as the browser would send it back unchanged."""
    html = client.get(path).get_data(as_text=True)
    data = {"csrf_token": csrf_token(client, path), "stamp": stamp_of(html)}
    for name, value in re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', html):
        if name not in ("csrf_token", "stamp"):
            data[name] = value
    for name, value in re.findall(r'<textarea[^>]*name="([a-z_]+)"[^>]*>\s*([^<]*)</textarea>', html):
        data[name] = value.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    for name, value in re.findall(r'<select[^>]*name="([a-z_]+)".*?<option selected value="([^"]*)"', html, re.S):
        data[name] = value
    return data


def revisions(app, section: str, entry_id: int) -> list[m.EntryRevision]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(m.EntryRevision)
                .where(m.EntryRevision.section == section, m.EntryRevision.entry_id == entry_id)
                .order_by(m.EntryRevision.id)
            )
        )
        db.session.expunge_all()
    return rows


def correct_path(section: str, entry_id: int) -> str:
    return f"/doctor/entries/{section}/{entry_id}/correct"


# -- «Мои записи» -----------------------------------------------------------------------------------


def test_my_entries_lists_the_doctors_own_entries_newest_first_in_pages(app, demo, login):
    mine, theirs = authored(app, demo, "doctor"), authored(app, demo, "doctor_b")
    client = login(demo["doctor"])
    first = client.get("/doctor/entries")
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and "My entries" in html
    assert html.count(">Correct<") == 20 and 'rel="next"' in html and 'rel="prev"' not in html
    seen = set(re.findall(r"/doctor/entries/(\w+)/(\d+)/correct", html))
    page = 2
    while 'rel="next"' in html:
        html = client.get(f"/doctor/entries?page={page}").get_data(as_text=True)
        seen |= set(re.findall(r"/doctor/entries/(\w+)/(\d+)/correct", html))
        page += 1
    assert ("visits", str(mine)) in seen and ("visits", str(theirs)) not in seen
    with app.app_context():
        who = practitioner(app, demo["doctor"])
        total = sum(
            db.session.scalar(sa.select(sa.func.count()).where(model.practitioner_id == who))
            for model in (m.Visit, m.Diagnosis, m.Prescription, m.LabReport)
        )
    assert len(seen) == total  # every entry once, across the pages
    other = login(demo["doctor_b"]).get("/doctor/entries").get_data(as_text=True)
    assert f"/doctor/entries/visits/{theirs}/correct" in other and f"/visits/{mine}/correct" not in other
    assert client.get("/doctor/entries?page=abc").status_code == 400


def test_my_entries_takes_the_same_number_of_queries_whatever_their_number(app, demo, login):
    client = login(demo["doctor"])
    client.get("/doctor/entries")

    def queries(path: str) -> int:
        counted = []
        with app.app_context():
            engine = db.engine

            def count(*_args):
                counted.append(1)

            sa.event.listen(engine, "before_cursor_execute", count)
            try:
                assert client.get(path).status_code == 200
            finally:
                sa.event.remove(engine, "before_cursor_execute", count)
        return len(counted)

    before = queries("/doctor/entries")
    who = practitioner(app, demo["doctor"])
    with app.app_context(), write_transaction():
        visit = db.session.get(m.Visit, authored(app, demo, "doctor"))
        for _n in range(40):
            db.session.add(
                m.Diagnosis(
                    patient_id=visit.patient_id, code="J06.9", title="ОРВИ", onset_on=visit.started_at.date(),
                    status="resolved", organisation_id=visit.organisation_id, practitioner_id=who,
                )
            )  # fmt: skip
    # At most one query per section on the page, whatever the number of entries.
    assert queries("/doctor/entries") <= before
    assert queries("/doctor/entries?page=3") <= before


# -- the author's correction ------------------------------------------------------------------------


def test_the_author_corrects_a_visit_and_the_patient_sees_the_new_version(app, demo, login):
    visit = authored(app, demo, "doctor")
    patient = demo["patient"]
    client = login(demo["doctor"])
    path = correct_path("visits", visit)
    data = form_of(client, path)
    with app.app_context():
        old = db.session.get(m.Visit, visit).conclusion
    data.update(conclusion="Острый бронхит", note="Заключение записано не то")
    with app.app_context():
        version = card_version(patient.patient_id)
    response = client.post(path, data=data)
    assert response.status_code == 303 and response.headers["Location"].endswith("/doctor/entries?done=corrected")
    rows = revisions(app, "visits", visit)
    assert [(r.field, r.old_value, r.new_value, r.reason, r.changed_by_id) for r in rows] == [
        ("conclusion", old, "Острый бронхит", "Заключение записано не то", demo["doctor"].id)
    ]
    with app.app_context():
        assert db.session.get(m.Visit, visit).conclusion == "Острый бронхит"
        assert card_version(patient.patient_id) != version  # documents made before are not served again
        written = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "card.write", AuditEvent.object_id == str(visit))
        )
        corrected = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "entry.corrected"))
        note = db.session.scalar(
            sa.select(Notification).where(
                Notification.account_id == patient.id, Notification.event == "entry_corrected"
            )
        )
    assert written is not None and written.actor_id == demo["doctor"].id and written.patient_id == patient.patient_id
    assert corrected.reason == "Заключение записано не то"
    assert note is not None and note.url.endswith(f"/visits/{visit}")
    # The patient sees the version in the entry's history, in English and in Russian.
    entry = f"/card/{patient.patient_id}/visits/{visit}"
    page = login(patient).get(entry).get_data(as_text=True)
    assert "Change history" in page and "Who changed" in page and "Соколов Д.А., терапевт" in page
    assert "Острый бронхит" in page and "Заключение записано не то" in page and f"<del>{old}</del>" in page
    ru = login(patient, lang="ru").get(entry).get_data(as_text=True)
    assert "История изменений" in ru and "Кто изменил" in ru and "Заключение" in ru and "Острый бронхит" in ru
    inbox = login(patient).get("/notifications").get_data(as_text=True)
    assert "Entry corrected by the doctor" in inbox


def test_each_changed_field_is_a_version_of_its_own(app, demo, login):
    diagnosis = authored(app, demo, "doctor", m.Diagnosis)
    client = login(demo["doctor"])
    path = correct_path("diagnoses", diagnosis)
    data = form_of(client, path)
    data.update(code="J20.9", status="resolved" if data["status"] == "active" else "active", note="Уточнён диагноз")
    assert client.post(path, data=data).status_code == 303
    rows = revisions(app, "diagnoses", diagnosis)
    assert sorted(r.field for r in rows) == ["code", "status"] and {r.reason for r in rows} == {"Уточнён диагноз"}
    with app.app_context():
        entry = db.session.get(m.Diagnosis, diagnosis)
        assert entry.code == "J20.9" and "бронхит" in entry.title.lower()


def test_a_prescription_is_corrected_by_its_author(app, demo, login):
    prescription = authored(app, demo, "doctor", m.Prescription)
    client = login(demo["doctor"])
    path = correct_path("prescriptions", prescription)
    data = form_of(client, path)
    data.update(dose="1 таблетка 3 раза в день", note="Опечатка в дозировке")
    assert client.post(path, data=data).status_code == 303
    assert [r.new_value for r in revisions(app, "prescriptions", prescription)] == ["1 таблетка 3 раза в день"]


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"note": ""}, "note", "Write the reason: it is shown in the entry&#39;s history"),
        ({"onset_on": "31.02.2024"}, "onset_on", "Enter the date as day, month and year, for example 15.03.2026"),
        ({"onset_on": "01.01.2999"}, "onset_on", "The date must not be in the future"),
        ({"code": "XYZ"}, "code", "Enter an ICD-10 code: a letter and two digits, for example J06.9"),
        ({"status": "maybe"}, "status", "Choose one of the listed values"),
    ],
)
def test_bad_input_returns_the_form_with_what_was_typed_and_changes_nothing(app, demo, login, change, field, message):
    diagnosis = authored(app, demo, "doctor", m.Diagnosis)
    client = login(demo["doctor"])
    path = correct_path("diagnoses", diagnosis)
    data = form_of(client, path)
    data.update(note="Причина", code="J20.9")
    data.update(change)
    response = client.post(path, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "There is a problem" in html and message in html
    assert f'href="#{field}"' in html and f'id="{field}-error"' in html
    assert 'value="J20.9"' in html or change.get("code") and f'value="{change["code"]}"' in html  # kept as typed
    assert revisions(app, "diagnoses", diagnosis) == []


def test_nothing_changed_is_said_clearly(app, demo, login):
    visit = authored(app, demo, "doctor")
    client = login(demo["doctor"])
    path = correct_path("visits", visit)
    data = form_of(client, path)
    data["note"] = "Проверка"
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "Nothing is changed: the values are the same as in the entry" in response.get_data(as_text=True)
    assert revisions(app, "visits", visit) == []


def test_a_stale_form_is_refused_showing_the_current_value_and_keeping_what_was_typed(app, demo, login):
    visit = authored(app, demo, "doctor")
    client = login(demo["doctor"])
    path = correct_path("visits", visit)
    opened = form_of(client, path)
    # Meanwhile the entry changes (another tab of the same doctor saves first).
    other = dict(opened, conclusion="Версия из другой вкладки", note="Первая правка")
    assert client.post(path, data=other).status_code == 303
    mine = dict(opened, recommendations="Обильное питьё", note="Вторая правка")
    response = client.post(path, data=mine)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "The entry was changed after you opened this form" in html
    assert "Версия из другой вкладки" in html and "Обильное питьё" in html  # current value shown; typed kept
    assert [r.reason for r in revisions(app, "visits", visit)] == ["Первая правка"]
    # The refused form now carries the current stamp: sent again (after checking), it is applied.
    again = dict(mine, stamp=stamp_of(html), conclusion="Версия из другой вкладки")
    assert client.post(path, data=again).status_code == 303
    assert [r.reason for r in revisions(app, "visits", visit)] == ["Первая правка", "Вторая правка"]


def test_only_the_author_may_correct(app, demo, login):
    mine, theirs = authored(app, demo, "doctor"), authored(app, demo, "doctor_b")
    path = correct_path("visits", mine)
    for key in ("doctor_b", "registrar", "nurse", "patient", "org_admin"):
        assert login(demo[key]).get(path).status_code == 404, key
    doctor = login(demo["doctor"])
    assert doctor.get(correct_path("visits", theirs)).status_code == 404
    assert doctor.get(f"/doctor/entries/vaccinations/{mine}/correct").status_code == 404
    assert doctor.get(correct_path("visits", 999999)).status_code == 404
    data = form_of(login(demo["doctor_b"]), correct_path("visits", theirs))
    data["csrf_token"] = csrf_token(doctor, "/doctor/entries")
    data.update(conclusion="Чужая правка", note="Не моя запись")
    assert doctor.post(correct_path("visits", theirs), data=data).status_code == 404
    assert revisions(app, "visits", theirs) == []
    # An author who no longer works as a doctor at the clinic that wrote the entry: 404.
    with app.app_context(), write_transaction():
        for row in db.session.scalars(
            sa.select(StaffMembership).where(StaffMembership.account_id == demo["doctor"].id)
        ):
            row.ended_at = datetime.now(UTC)
    assert doctor.get(path).status_code == 404


# -- error reports: the author's and the registrar's ------------------------------------------------


def file_report(app, login, demo, section: str, entry_id: int) -> int:
    client = login(demo["patient"])
    path = f"/card/{demo['patient'].patient_id}/{section}/{entry_id}/report-error"
    data = {"csrf_token": csrf_token(client, path), "description": "Заключение записано неверно, проверьте"}
    assert client.post(path, data=data).status_code == 303
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(CorrectionRequest.id)))


def test_a_report_about_the_doctors_entry_goes_to_the_doctor_not_the_registrar(app, demo, login):
    visit = authored(app, demo, "doctor")
    number = file_report(app, login, demo, "visits", visit)
    registrar, doctor = login(demo["registrar"]), login(demo["doctor"])
    queue = registrar.get("/clinic/corrections").get_data(as_text=True)
    assert f"/clinic/corrections/{number}" not in queue
    assert registrar.get(f"/clinic/corrections/{number}").status_code == 404
    token = csrf_token(registrar, "/clinic/corrections")
    denied = registrar.post(
        f"/clinic/corrections/{number}/correct",
        data={"csrf_token": token, "field": "conclusion", "value": "Другое", "note": "Регистратор"},
    )
    assert denied.status_code == 404
    assert (
        registrar.post(f"/clinic/corrections/{number}/reject", data={"csrf_token": token, "reason": "Нет"}).status_code
        == 404
    )
    mine = doctor.get("/doctor/corrections").get_data(as_text=True)
    assert f"/doctor/corrections/{number}" in mine
    page = doctor.get(f"/doctor/corrections/{number}")
    assert page.status_code == 200 and "Заключение записано неверно" in page.get_data(as_text=True)
    assert login(demo["doctor_b"]).get(f"/doctor/corrections/{number}").status_code == 404
    token = csrf_token(doctor, "/doctor/corrections")
    assert doctor.post(f"/doctor/corrections/{number}/review", data={"csrf_token": token}).status_code == 303
    done = doctor.post(
        f"/doctor/corrections/{number}/correct",
        data={"csrf_token": token, "field": "conclusion", "value": "Острый трахеит", "note": "По сообщению пациента"},
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/doctor/corrections?done=corrected")
    with app.app_context():
        row = db.session.get(CorrectionRequest, number)
        assert (row.status, row.resolved_by_id) == ("corrected", demo["doctor"].id)
    rows = revisions(app, "visits", visit)
    assert [(r.new_value, r.correction_id, r.changed_by_id) for r in rows] == [
        ("Острый трахеит", number, demo["doctor"].id)
    ]


def test_the_doctor_rejects_a_report_and_never_decides_another_doctors(app, demo, login):
    mine, theirs = authored(app, demo, "doctor"), authored(app, demo, "doctor_b")
    ours = file_report(app, login, demo, "visits", mine)
    foreign = file_report(app, login, demo, "visits", theirs)
    doctor = login(demo["doctor"])
    token = csrf_token(doctor, "/doctor/corrections")
    listed = doctor.get("/doctor/corrections").get_data(as_text=True)
    assert f"/doctor/corrections/{ours}" in listed and f"/doctor/corrections/{foreign}" not in listed
    assert doctor.get(f"/doctor/corrections/{foreign}").status_code == 404
    for action, data in (("review", {}), ("correct", {"field": "conclusion", "value": "X", "note": "Y"}),
                         ("reject", {"reason": "Нет"})):  # fmt: skip
        assert (
            doctor.post(f"/doctor/corrections/{foreign}/{action}", data={"csrf_token": token, **data}).status_code
            == 404
        )
    # The registrar of clinic A does not decide clinic B's doctor's report either (it is the author's).
    assert login(demo["registrar"]).get(f"/clinic/corrections/{foreign}").status_code == 404
    empty = doctor.post(f"/doctor/corrections/{ours}/reject", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 400 and "Write the reason: the citizen will see it" in empty.get_data(as_text=True)
    done = doctor.post(f"/doctor/corrections/{ours}/reject", data={"csrf_token": token, "reason": "Запись верна"})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(CorrectionRequest, ours).status == "rejected"
    decided = doctor.get(f"/doctor/corrections/{ours}").get_data(as_text=True)
    assert "Запись верна" in decided and "Correct the entry" not in decided


def test_when_the_author_leaves_the_report_goes_back_to_the_registrar(app, demo, login):
    visit = authored(app, demo, "doctor")
    number = file_report(app, login, demo, "visits", visit)
    registrar = login(demo["registrar"])
    assert registrar.get(f"/clinic/corrections/{number}").status_code == 404
    with app.app_context(), write_transaction():
        for row in db.session.scalars(
            sa.select(StaffMembership).where(StaffMembership.account_id == demo["doctor"].id)
        ):
            row.ended_at = datetime.now(UTC)
    assert registrar.get(f"/clinic/corrections/{number}").status_code == 200
    assert f"/clinic/corrections/{number}" in registrar.get("/clinic/corrections").get_data(as_text=True)


def test_the_doctors_day_links_the_entries_and_the_reports(app, demo, login):
    html = login(demo["doctor"]).get("/doctor").get_data(as_text=True)
    assert 'href="/doctor/entries"' in html and 'href="/doctor/corrections"' in html


def test_a_report_the_author_is_a_party_to_stays_with_the_registrar(app, demo, login):
    """The author never decides a report about their own or their child's card: such a report is
    not routed to them (it would wait for nobody) but stays with the registrars."""
    from datetime import date

    from portal.sharing.models import Guardianship

    visit = authored(app, demo, "doctor")
    with app.app_context(), write_transaction():
        db.session.add(
            Guardianship(
                guardian_id=demo["doctor"].id,
                child_id=demo["patient"].patient_id,
                basis="Решение суда (тест)",
                verified_at=datetime.now(UTC),
                started_on=date(2020, 1, 1),
            )
        )
    number = file_report(app, login, demo, "visits", visit)
    doctor, registrar = login(demo["doctor"]), login(demo["registrar"])
    assert f"/doctor/corrections/{number}" not in doctor.get("/doctor/corrections").get_data(as_text=True)
    assert f"/clinic/corrections/{number}" in registrar.get("/clinic/corrections").get_data(as_text=True)
    assert registrar.get(f"/clinic/corrections/{number}").status_code == 200
