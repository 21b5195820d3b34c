"""The auditor's workspace (issue 11, point 7): the organisation's audit events searched by person,
patient (SNILS), kind and period, in pages whose statement count does not grow with the rows; the
review of its emergency accesses (reviewed, or escalated with a note; final, audited, pending
first); the check of the log from the page (a tampered log is named in words); CSV and JSON
exports of a search, streamed and audited. Metadata only: no title, value or diagnosis of a card
appears anywhere. Isolation: the auditor of clinic A gets 404 for clinic B's pages, events,
reviews and exports; every other role gets 404."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.access.models import EmergencyAccess
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.auditor.models import EmergencyReview
from portal.auth.models import StaffMembership
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.identifiers import format_snils
from tests.conftest import csrf_token


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def shown(response) -> set[int]:
    """The ids of the events a search page lists."""
    return {int(n) for n in re.findall(r'<tr id="event-(\d+)"', response.get_data(as_text=True))}


@pytest.fixture
def orgs(app):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


@pytest.fixture
def auditor(demo, login):
    return login(demo["auditor"])


def record(app, action: str, ago: timedelta | None = None, **fields) -> int:
    """An audit event as a feature would write it; ``ago`` backdates it."""
    with app.app_context(), write_transaction():
        values = audit.event(action, **fields)
        if ago is not None:
            values["created_at"] = clock.now() - ago
        return db.session.execute(sa.insert(AuditEvent).values(values)).inserted_primary_key[0]


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


@pytest.fixture
def events(app, demo, orgs):
    """Events of every kind that is and is not clinic A's."""
    smirnova = demo["patient"].patient_id
    made = {
        # clinic A's: a card read through its care relationship, a registrar's sign-in (no organisation),
        # an old one
        "doctor_read": record(
            app, "card.read", actor_id=demo["doctor"].id, actor_role="clinician", patient_id=smirnova,
            section="results", organisation_id=orgs["A"], object_type="lab_report", object_id=77,
        ),
        "registrar_sign_in": record(app, "auth.sign_in", actor_id=demo["registrar"].id, actor_role="self"),
        "old_read": record(
            app, "card.read", timedelta(days=40), actor_id=demo["nurse"].id, actor_role="clinician",
            patient_id=smirnova, section="summary", organisation_id=orgs["A"],
        ),
        # not clinic A's: clinic B's doctor, his sign-in, the patient reading her own card
        "doctor_b_read": record(
            app, "card.read", actor_id=demo["doctor_b"].id, actor_role="clinician", patient_id=smirnova,
            section="results", organisation_id=orgs["B"],
        ),
        "doctor_b_sign_in": record(app, "auth.sign_in", actor_id=demo["doctor_b"].id, actor_role="self"),
        "own_read": record(
            app, "card.read", actor_id=demo["patient"].id, actor_role="self", patient_id=smirnova, section="results"
        ),
    }  # fmt: skip
    return made


def test_the_auditor_sees_the_organisations_events_only(app, demo, orgs, auditor, events):
    page = auditor.get(f"/audit/{orgs['A']}")
    assert page.status_code == 200
    found = shown(page)
    assert {events["doctor_read"], events["registrar_sign_in"], events["old_read"]} <= found
    assert not {events["doctor_b_read"], events["doctor_b_sign_in"], events["own_read"]} & found
    words = text(page)
    assert "Соколов Дмитрий Александрович" in words and "Смирнова Е. В." in words
    assert "Смирнова Елена" not in words  # the patient by surname and initials only


def test_the_search_filters_by_person_patient_kind_and_period(app, demo, orgs, auditor, events):
    base = f"/audit/{orgs['A']}"
    by_name = shown(auditor.get(f"{base}?person=соколов"))
    assert events["doctor_read"] in by_name and events["registrar_sign_in"] not in by_name
    by_login = shown(auditor.get(f"{base}?person=REGISTRAR@example.ru"))
    assert by_login == {events["registrar_sign_in"]}
    snils = format_snils(demo["patient"].snils)  # typed with its dashes and space
    by_patient = shown(auditor.get(f"{base}?snils={snils}"))
    assert {events["doctor_read"], events["old_read"]} <= by_patient and events["registrar_sign_in"] not in by_patient
    assert shown(auditor.get(f"{base}?action=auth.*")) >= {events["registrar_sign_in"]}
    assert events["doctor_read"] not in shown(auditor.get(f"{base}?action=auth.*"))
    assert events["doctor_read"] in shown(auditor.get(f"{base}?action=card.read"))
    today = clock.today().strftime("%d.%m.%Y")
    recent = shown(auditor.get(f"{base}?since={today}&until={today}"))
    assert events["doctor_read"] in recent and events["old_read"] not in recent
    month_ago = (clock.today() - timedelta(days=41)).strftime("%d.%m.%Y")
    old = (clock.today() - timedelta(days=39)).strftime("%d.%m.%Y")
    assert shown(auditor.get(f"{base}?since={month_ago}&until={old}")) == {events["old_read"]}


def test_a_search_naming_a_patient_is_audited(app, demo, orgs, auditor, events):
    assert auditor.get(f"/audit/{orgs['A']}?snils={demo['patient'].snils}&action=card.*").status_code == 200
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.actor_id, event.organisation_id) == ("audit.searched", demo["auditor"].id, orgs["A"])
    assert event.patient_id == demo["patient"].patient_id and event.reason == "action=card.*"


@pytest.mark.parametrize(
    "query,field,message",
    [
        ("snils=112-233-445 96", "snils", "Проверьте СНИЛС: нужно 11 цифр с верным контрольным числом"),
        ("since=05.12.2026&until=01.12.2026", "until", "Конец периода не может быть раньше его начала"),
        ("since=31.02.2026", "since", "Введите дату"),
        ("person=Никтоев", "person", "Никого с таким именем или логином"),
        ("action=card.delete", "action", "Выберите значение из списка"),
    ],
)
def test_bad_input_comes_back_with_what_was_typed_and_the_error(app, orgs, auditor, query, field, message):
    response = auditor.get(f"/audit/{orgs['A']}?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-summary"' in html and f'href="#{field}"' in html
    assert message in text(response)
    if field != "action":
        typed = dict(part.split("=") for part in query.split("&"))[field]
        assert re.search(rf'id="{field}"[^>]*value="{re.escape(typed)}"', html) or f'value="{typed}"' in html
    assert "<table" not in html  # no results under a bad search


def test_the_search_pages_by_key_and_keeps_the_filters(app, demo, orgs, auditor):
    from portal.auditor import service

    ids = [
        record(app, "auth.sign_in", actor_id=demo["registrar"].id, actor_role="self")
        for _ in range(service.PAGE_SIZE + 3)
    ]
    first = auditor.get(f"/audit/{orgs['A']}?person=Лебедева&action=auth.*")
    assert shown(first) == set(ids[-service.PAGE_SIZE :])
    link = re.search(r'<a href="([^"]+)">Более ранние события', first.get_data(as_text=True)).group(1)
    assert "person=" in link and "action=auth." in link
    second = auditor.get(link.replace("&amp;", "&"))
    assert shown(second) == set(ids[:3])


def test_the_search_page_sends_as_many_statements_with_four_times_the_rows(app, demo, orgs, auditor):
    from tests.test_htmx import recorded_statements

    def add(n: int) -> None:
        for i in range(n):
            record(
                app, "card.read", actor_id=demo["doctor"].id if i % 2 else demo["nurse"].id, actor_role="clinician",
                patient_id=demo["patient"].patient_id, section="results", organisation_id=orgs["A"],
            )  # fmt: skip

    paths = [f"/audit/{orgs['A']}", f"/audit/{orgs['A']}?person=Соколов", f"/audit/{orgs['A']}/emergencies"]

    def counts() -> list[int]:
        found = []
        for path in paths:
            assert auditor.get(path).status_code == 200
            with recorded_statements(app) as statements:
                assert auditor.get(path).status_code == 200
            found.append(len(statements))
        return found

    add(6)
    before = counts()
    add(30)
    _more_emergencies(app, demo, orgs, 6)
    assert counts() == before


def _more_emergencies(app, demo, orgs, n: int) -> None:
    with app.app_context(), write_transaction():
        for i in range(n):
            started = clock.now() - timedelta(days=3, hours=i)
            db.session.add(
                EmergencyAccess(
                    practitioner_id=demo["doctor"].id, patient_id=demo["child_9"].id, organisation_id=orgs["A"],
                    reason="Тест", started_at=started, expires_at=started + timedelta(hours=1),
                )
            )  # fmt: skip


# -- emergency accesses -----------------------------------------------------------------------------


def demo_accesses(app, orgs) -> dict[str, EmergencyAccess]:
    """The demo's two accesses in clinic A: the nurse's (reviewed) and the doctor's (waiting)."""
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(EmergencyAccess)
                .where(EmergencyAccess.organisation_id == orgs["A"])
                .order_by(EmergencyAccess.id)
            )
        )
        db.session.expunge_all()
    return {"reviewed": rows[0], "waiting": rows[1]}


def test_the_queue_shows_waiting_accesses_first_with_reason_time_and_what_was_opened(app, demo, orgs, auditor):
    page = auditor.get(f"/audit/{orgs['A']}/emergencies")
    words = text(page)
    assert page.status_code == 200
    waiting, decided = words.index("Ожидают решения"), words.index("Решённые")
    assert waiting < words.index("Доставлен скорой без сознания") < decided
    assert decided < words.index("Пациентке стало плохо в холле")
    assert "60 минут" in words and "Аллергии" in words and "Рецепты" in words
    assert "Проверено: Федорова Светлана Игоревна" in words


def test_marking_reviewed_and_escalating(app, demo, orgs, auditor):
    waiting = demo_accesses(app, orgs)["waiting"]
    path = f"/audit/{orgs['A']}/emergencies/{waiting.id}"
    # escalating without a note: the form again, the choice kept, nothing written
    refused = post(auditor, path, decision="escalated", note="  ")
    assert refused.status_code == 400
    assert "Напишите, почему вы передаёте" in text(refused) and 'href="#note"' in refused.get_data(as_text=True)
    assert re.search(r'<input[^>]*\bchecked\b[^>]*value="escalated"', refused.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmergencyReview)) == 1  # the demo's
    done = post(auditor, path, decision="escalated", note="Пациент не подтверждает доставку скорой")
    assert done.status_code == 303 and done.headers["Location"].endswith("done=escalated")
    page = text(auditor.get(path))
    assert re.search("Передано на разбор ?: Федорова Светлана Игоревна", page) and "Пациент не подтверждает" in page
    assert "Сохранить решение" not in page
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        review = db.session.scalar(sa.select(EmergencyReview).where(EmergencyReview.emergency_access_id == waiting.id))
    assert (event.action, event.actor_id, event.object_id) == (
        "audit.emergency_escalated",
        demo["auditor"].id,
        str(waiting.id),
    )
    assert event.patient_id == waiting.patient_id and event.organisation_id == orgs["A"]
    assert (review.decision, review.decided_by_id) == ("escalated", demo["auditor"].id)
    # a second decision (another tab, another auditor) is refused and changes nothing
    again = post(auditor, path, decision="reviewed")
    assert again.status_code == 409 and "Другой аудитор" in text(again)
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(EmergencyReview.decision).where(EmergencyReview.emergency_access_id == waiting.id)
            )
            == "escalated"
        )


def test_marking_reviewed_needs_no_note(app, demo, orgs, auditor):
    waiting = demo_accesses(app, orgs)["waiting"]
    done = post(auditor, f"/audit/{orgs['A']}/emergencies/{waiting.id}", decision="reviewed", note="")
    assert done.status_code == 303
    queue = text(auditor.get(done.headers["Location"]))
    assert "Доступ отмечен как проверенный" in queue and "Ожидающих решения нет" in queue
    with app.app_context():
        assert (
            db.session.scalar(sa.select(EmergencyReview.note).where(EmergencyReview.emergency_access_id == waiting.id))
            is None
        )


def test_a_decision_without_a_choice_or_token_changes_nothing(app, demo, orgs, auditor):
    waiting = demo_accesses(app, orgs)["waiting"]
    path = f"/audit/{orgs['A']}/emergencies/{waiting.id}"
    assert post(auditor, path, note="что-то").status_code == 400
    assert auditor.post(path, data={"decision": "reviewed"}).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmergencyReview)) == 1


# -- the check of the log ---------------------------------------------------------------------------


def test_the_check_runs_from_the_page_and_names_a_tampered_event(app, demo, orgs, auditor, events):
    from portal.audit.sealer import seal_pending
    from tests.test_audit import tamper

    with app.app_context():
        seal_pending()
    from portal import tasks

    path = f"/audit/{orgs['A']}/check"
    assert "Проверка для этой организации ещё не запускалась" in text(auditor.get(path))
    assert auditor.post(path).status_code == 400  # no CSRF token: nothing run
    ran = post(auditor, path)
    assert ran.status_code == 303 and ran.headers["Location"] == path
    # The check is a background job: the request only asks for it; the page polls until it is done.
    waiting = auditor.get(path).get_data(as_text=True)
    assert "Проверка идёт" in waiting and f'hx-get="{path}/status"' in waiting and "Запустить проверку" not in waiting
    assert auditor.get(f"{path}/status").status_code == 204
    assert post(auditor, path).status_code == 303  # asked again while it waits: still one job
    assert tasks.queue(app).pending_jobs() == 1
    assert tasks.queue(app).run_pending() == 1
    finished = auditor.get(f"{path}/status")
    assert finished.status_code == 200 and "Проверка закончилась" in text(finished)
    page = text(auditor.get(f"{path}?done=1"))
    assert "Журнал цел." in page and "Федорова Светлана Игоревна" in page and "Запустить проверку" in page
    tamper(app, f"UPDATE audit_event SET section = 'visits' WHERE id = {events['doctor_read']}")  # noqa: S608
    post(auditor, path)
    tasks.queue(app).run_pending()
    page = text(auditor.get(path))
    assert "Журнал повреждён." in page
    assert f"Событие № {events['doctor_read']}" in page and "изменено после того, как было запечатано" in page
    with app.app_context():
        runs = list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == "audit.chain_checked").order_by(AuditEvent.id)
            )
        )
    assert [(r.outcome, r.actor_id, r.organisation_id) for r in runs] == [
        ("success", demo["auditor"].id, orgs["A"]),
        ("failure", demo["auditor"].id, orgs["A"]),
    ]
    assert json.loads(runs[-1].reason)["kind"] == "edited"


# -- exports ---------------------------------------------------------------------------------------


def test_the_csv_export_opens_in_excel_with_cyrillic(app, demo, orgs, auditor, events):
    today = clock.today()
    since = (today - timedelta(days=7)).strftime("%d.%m.%Y")
    response = auditor.get(f"/audit/{orgs['A']}/events.csv?since={since}&action=card.*")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    with app.app_context():
        oid = demo_organisations()["A"].oid
    disposition = response.headers["Content-Disposition"]
    assert f"audit-{oid}-{(today - timedelta(days=7)).isoformat()}-{today.isoformat()}.csv" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["№ события", "Когда (Europe/Moscow)", "Кто"]
    ids = [int(row[0]) for row in rows[1:]]
    assert events["doctor_read"] in ids and events["old_read"] not in ids and events["doctor_b_read"] not in ids
    line = next(row for row in rows[1:] if int(row[0]) == events["doctor_read"])
    assert line[2] == "Соколов Дмитрий Александрович" and line[7] == "card.read" and line[12] == "Смирнова Е. В."
    assert line[13].startswith("***-***-")


def test_the_json_export_is_the_same_search(app, demo, orgs, auditor, events):
    response = auditor.get(f"/audit/{orgs['A']}/events.json?person=Соколов")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    document = json.loads(response.get_data(as_text=True))
    assert document["filters"] == {"person": "Соколов"}
    assert events["doctor_read"] in [e["id"] for e in document["events"]]
    assert {e["actor_id"] for e in document["events"]} == {demo["doctor"].id}
    first = next(e for e in document["events"] if e["id"] == events["doctor_read"])
    assert first["object_type"] == "lab_report" and first["object_id"] == "77" and first["time"].endswith("+00:00")


def test_exports_read_in_batches_and_are_audited(app, demo, orgs, auditor, events, monkeypatch):
    from portal.auditor import service

    monkeypatch.setattr(service, "EXPORT_BATCH", 2)
    everything = auditor.get(f"/audit/{orgs['A']}/events.json")
    ids = [e["id"] for e in json.loads(everything.get_data(as_text=True))["events"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) > 4
    assert {events["doctor_read"], events["old_read"], events["registrar_sign_in"]} <= set(ids)
    with app.app_context():
        exported = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "audit.exported"))
    assert (exported.actor_id, exported.organisation_id, exported.reason) == (
        demo["auditor"].id,
        orgs["A"],
        "json; everything",
    )


def test_a_name_that_looks_like_a_formula_is_exported_as_text(app, demo, orgs, auditor):
    from portal.auth.models import Account

    with app.app_context(), write_transaction():
        db.session.get(Account, demo["registrar"].id).surname = '=HYPERLINK("http://x")'
    record(app, "auth.sign_in", actor_id=demo["registrar"].id, actor_role="self")
    body = auditor.get(f"/audit/{orgs['A']}/events.csv?action=auth.sign_in").get_data().decode("utf-8-sig")
    assert "'=HYPERLINK" in body and ';"=HYPERLINK' not in body and ";=HYPERLINK" not in body


def test_a_bad_export_search_is_the_page_with_its_errors(app, orgs, auditor):
    response = auditor.get(f"/audit/{orgs['A']}/events.csv?snils=123")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Проверьте СНИЛС" in text(response)


# -- metadata only ---------------------------------------------------------------------------------


def test_no_medical_content_on_any_of_the_auditors_pages(app, demo, orgs, auditor):
    """The patients of the demo's emergency accesses had sections of their card opened: nothing of
    what those sections hold (diagnoses, results, prescriptions, allergies, visits) appears in the
    events, the queue, the reviews or the exports; and no page links to a card."""
    from portal.record.models import Allergy, Diagnosis, LabReport, Observation, Prescription, Visit

    accesses = demo_accesses(app, orgs)
    patients = [a.patient_id for a in accesses.values()]
    with app.app_context():
        secrets = set()
        secrets |= set(db.session.scalars(sa.select(Diagnosis.title).where(Diagnosis.patient_id.in_(patients))))
        secrets |= set(db.session.scalars(sa.select(Prescription.drug).where(Prescription.patient_id.in_(patients))))
        secrets |= set(db.session.scalars(sa.select(Allergy.substance).where(Allergy.patient_id.in_(patients))))
        secrets |= set(db.session.scalars(sa.select(Visit.complaints).where(Visit.patient_id.in_(patients))))
        secrets |= set(db.session.scalars(sa.select(LabReport.conclusion).where(LabReport.patient_id.in_(patients))))
        observed = db.session.scalar(
            sa.select(sa.func.count()).select_from(Observation).where(Observation.patient_id.in_(patients))
        )
        secrets |= set(
            db.session.scalars(sa.select(Observation.value_text).where(Observation.patient_id.in_(patients)))
        )
        visit = db.session.scalar(sa.select(Visit.id).where(Visit.patient_id == patients[1]).limit(1))
    secrets = {s for s in secrets if s and len(s) > 3}
    assert len(secrets) > 5 and observed, "the demo patients have a record to hide"
    # the doctor opened one of the visits during the access: the event names it by id only
    record(
        app, "card.read", actor_id=demo["doctor"].id, actor_role="emergency", patient_id=patients[1],
        section="visits", organisation_id=orgs["A"], object_type="visit", object_id=visit,
        reason="emergency access: Доставлен скорой",
    )  # fmt: skip
    base = f"/audit/{orgs['A']}"
    pages = [
        base,
        f"{base}?action=card.*",
        f"{base}/emergencies",
        f"{base}/emergencies/{accesses['waiting'].id}",
        f"{base}/emergencies/{accesses['reviewed'].id}",
        f"{base}/check",
        f"{base}/events.csv",
        f"{base}/events.json",
    ]
    for path in pages:
        response = auditor.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        for secret in secrets:
            assert secret not in body, f"{path} shows «{secret}»"
        assert "/card/" not in body, f"{path} links to a card"
    assert f"visit {visit}" in text(auditor.get(f"{base}?action=card.read"))


# -- who may ---------------------------------------------------------------------------------------


def test_clinic_bs_pages_and_writes_are_404_for_clinic_as_auditor(app, demo, orgs, auditor):
    with app.app_context(), write_transaction():
        started = clock.now() - timedelta(hours=3)
        foreign = EmergencyAccess(
            practitioner_id=demo["doctor_b"].id, patient_id=demo["patient"].patient_id, organisation_id=orgs["B"],
            reason="Клиника Б", started_at=started, expires_at=started + timedelta(hours=1),
        )  # fmt: skip
        db.session.add(foreign)
        db.session.flush()
        foreign_id = foreign.id
    a, b = orgs["A"], orgs["B"]
    for path in (
        f"/audit/{b}",
        f"/audit/{b}/emergencies",
        f"/audit/{b}/emergencies/{foreign_id}",
        f"/audit/{a}/emergencies/{foreign_id}",
        f"/audit/{b}/check",
        f"/audit/{b}/events.csv",
        f"/audit/{b}/events.json",
    ):
        assert auditor.get(path).status_code == 404, path
    token = csrf_token(auditor, f"/audit/{a}")
    for path in (f"/audit/{b}/emergencies/{foreign_id}", f"/audit/{a}/emergencies/{foreign_id}"):
        assert auditor.post(path, data={"csrf_token": token, "decision": "reviewed"}).status_code == 404
    assert auditor.post(f"/audit/{b}/check", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmergencyReview)) == 1
        assert not db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "audit.chain_checked"))
    # and the foreign clinic's access is not in clinic A's queue
    assert "Клиника Б" not in text(auditor.get(f"/audit/{a}/emergencies"))


@pytest.mark.parametrize("who", ["doctor", "registrar", "org_admin", "patient", "doctor_b"])
def test_every_other_role_gets_404_and_writes_nothing(app, demo, orgs, login, who):
    client = login(demo[who])
    waiting = demo_accesses(app, orgs)["waiting"]
    a = orgs["A"]
    for path in ("/audit", f"/audit/{a}", f"/audit/{a}/emergencies", f"/audit/{a}/emergencies/{waiting.id}",
                 f"/audit/{a}/check", f"/audit/{a}/events.csv"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    token = csrf_token(client)
    assert (
        client.post(
            f"/audit/{a}/emergencies/{waiting.id}", data={"csrf_token": token, "decision": "reviewed"}
        ).status_code
        == 404
    )
    assert client.post(f"/audit/{a}/check", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EmergencyReview)) == 1


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/audit/1/emergencies")
    assert response.status_code == 303 and "/auth/sign-in" in response.headers["Location"]


def test_an_auditor_of_two_organisations_chooses_one(app, demo, orgs, auditor):
    with app.app_context():
        assign_role(None, demo["auditor"].id, orgs["B"], "auditor")
        names = {key: org.name for key, org in demo_organisations().items()}
    page = auditor.get("/audit")
    assert page.status_code == 200
    assert names["A"] in text(page) and names["B"] in text(page)
    assert f'href="/audit/{orgs["B"]}"' in page.get_data(as_text=True)
    assert auditor.get(f"/audit/{orgs['B']}").status_code == 200


def test_one_organisation_goes_straight_to_its_events(app, orgs, auditor):
    response = auditor.get("/audit")
    assert response.status_code == 303 and response.headers["Location"] == f"/audit/{orgs['A']}"


def test_an_auditor_who_also_holds_another_role_there_is_refused(app, demo, orgs, auditor):
    """Separation of duties: the role service refuses it; an account given one anyway by hand (a
    database edit) is refused by the policy too."""
    with app.app_context(), write_transaction():
        db.session.add(StaffMembership(account_id=demo["auditor"].id, organisation_id=orgs["A"], role="registrar"))
    assert auditor.get(f"/audit/{orgs['A']}").status_code == 404


def test_a_staff_member_who_left_is_no_longer_followed(app, demo, orgs, auditor):
    """Events that name no organisation are the organisation's while their actor worked there."""
    before = record(app, "auth.sign_in", actor_id=demo["nurse"].id, actor_role="self")
    with app.app_context(), write_transaction():
        membership = db.session.scalar(sa.select(StaffMembership).where(StaffMembership.account_id == demo["nurse"].id))
        membership.ended_at = clock.now()
    after = record(app, "auth.sign_in", actor_id=demo["nurse"].id, actor_role="self", ago=-timedelta(seconds=1))
    found = shown(auditor.get(f"/audit/{orgs['A']}?action=auth.sign_in"))
    assert before in found and after not in found
