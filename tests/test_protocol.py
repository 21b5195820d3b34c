"""The doctor's visit protocol (/doctor/appointments/<id>/protocol): the draft kept on the server
(versioned: a stale tab's save is refused with both texts shown), signing into the record through
the intake (a visit and its diagnoses, the patient told), once only; never shown to the patient."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.appointments import care
from portal.appointments.models import Appointment
from portal.audit.models import AuditEvent
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Practitioner
from portal.notify.models import Notification
from portal.protocol.models import VisitProtocol
from portal.record.models import Diagnosis, Visit
from tests.conftest import audit_log_verifies, csrf_token
from tests.test_htmx import recorded_statements


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def orgs(app):
    with app.app_context():
        return {key: org.id for key, org in demo_organisations().items()}


def _appointment(app, demo, orgs, doctor_key="doctor", org="A", patient_key="patient") -> int:
    """An appointment of the demo patient (Smirnova, who has an account) with ``doctor_key``,
    arrived just now, the card opened to the doctor by the booking."""
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo[doctor_key].id))
        row = Appointment(
            patient_id=demo[patient_key].patient_id, organisation_id=orgs[org], practitioner_id=doctor.id,
            specialty_code=doctor.specialty_code, starts_at=clock.now() - timedelta(minutes=5), status="arrived",
        )  # fmt: skip
        db.session.add(row)
        db.session.flush()
        care.open_for(row, None, "system")
        return row.id


@pytest.fixture
def appointment(app, demo, orgs) -> int:
    return _appointment(app, demo, orgs)


def url(appointment_id: int, tail: str = "") -> str:
    return f"/doctor/appointments/{appointment_id}/protocol{tail}"


def fields(version: int = 0, **more) -> dict:
    data = {
        "complaints": "Кашель три дня, температура 37,8",
        "history": "Заболела остро после переохлаждения",
        "examination": "Зев гиперемирован, дыхание везикулярное",
        "conclusion": "ОРВИ",
        "recommendations": "Обильное питьё, парацетамол при температуре выше 38,5",
        "diagnoses-0-kind": "main",
        "diagnoses-0-status": "final",
        "diagnoses-0-code": "J06.9",
        "diagnoses-0-text": "J06.9 Острая инфекция верхних дыхательных путей неуточненная",
        "version": str(version),
    }
    data.update(more)
    return data


def post(client, path: str, data: dict, page: str = "/doctor", **headers):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data}, headers=headers)


def stored(app, appointment_id: int) -> VisitProtocol | None:
    with app.app_context():
        row = db.session.scalar(sa.select(VisitProtocol).where(VisitProtocol.appointment_id == appointment_id))
        if row is not None:
            db.session.expunge(row)
        return row


# -- the way in and the draft ---------------------------------------------------------------------


def test_the_doctors_day_links_each_appointment_to_its_protocol(app, demo, login, appointment):
    html = login(demo["doctor"]).get("/doctor").get_data(as_text=True)
    assert f'href="{url(appointment)}"' in html
    assert "Протокол приёма" in html


def test_the_empty_protocol_has_every_field_in_order(app, demo, login, appointment):
    response = login(demo["doctor"]).get(url(appointment))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    order = [html.index(f'id="{name}"') for name in ("complaints", "history", "examination", "diagnoses-0-kind",
                                                      "diagnoses-0-status", "diagnoses-0-text", "conclusion",
                                                      "recommendations")]  # fmt: skip
    assert order == sorted(order)
    assert 'hx-trigger="every 20s, change' in html and url(appointment, "/draft") in html
    assert "Сохранить черновик" in html and "Добавить диагноз" in html


def test_a_draft_is_saved_and_shown_again_after_the_tab_is_closed(app, demo, login, appointment):
    client = login(demo["doctor"])
    response = post(client, url(appointment), fields(action="save"))
    assert response.status_code == 303
    draft = stored(app, appointment)
    assert draft.version == 1 and draft.signed_at is None and "Кашель" in draft.complaints
    again = login(demo["doctor"]).get(url(appointment))  # a new tab, a new client
    page = again.get_data(as_text=True)
    assert "Кашель три дня" in page and "J06.9 Острая инфекция" in page
    assert 'name="version" type="hidden" value="1"' in page or 'value="1"' in page
    with app.app_context():
        actions = {
            (e.action, e.object_type)
            for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.actor_id == demo["doctor"].id))
        }
        assert ("card.write", "visit_protocol") in actions and ("card.read", "visit_protocol") in actions
        assert audit_log_verifies()


def test_the_autosave_answers_htmx_with_the_new_version(app, demo, login, appointment):
    client = login(demo["doctor"])
    response = post(client, url(appointment, "/draft"), fields(), **{"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Черновик сохранён" in html and 'hx-swap-oob="true"' in html and 'value="1"' in html
    # nothing changed: nothing written, nothing to swap
    same = post(client, url(appointment, "/draft"), fields(1), **{"HX-Request": "true"})
    assert same.status_code == 204
    assert stored(app, appointment).version == 1


def test_saving_a_draft_takes_two_statements_besides_session_and_audit(app, demo, login, appointment):
    client = login(demo["doctor"])
    assert post(client, url(appointment, "/draft"), fields(), **{"HX-Request": "true"}).status_code == 200
    token = csrf_token(client, "/doctor")
    data = {"csrf_token": token, **fields(1, complaints="Кашель четыре дня")}
    with recorded_statements(app) as statements:
        response = client.post(url(appointment, "/draft"), data=data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    session_and_audit = ("SELECT server_session", "UPDATE server_session", "SELECT account", "SELECT staff_membership",
                         "INSERT INTO audit_event")  # fmt: skip
    mine = [s for s in statements if not s.startswith(session_and_audit)]
    # the appointment with its draft (one SELECT), then the UPDATE: within the budget of three
    assert len(mine) <= 3, mine
    assert [s.split()[0] for s in mine] == ["SELECT", "UPDATE"], mine
    assert "visit_protocol" in mine[0] and mine[1].startswith("UPDATE visit_protocol")
    assert stored(app, appointment).version == 2


def test_a_stale_tab_is_refused_and_shown_both_texts(app, demo, login, appointment):
    first, second = login(demo["doctor"]), login(demo["doctor"])
    assert post(first, url(appointment), fields(action="save")).status_code == 303
    assert post(first, url(appointment), fields(1, complaints="Текст первой вкладки", action="save")).status_code == 303
    # the second tab opened at version 1 and saves over it: refused, both texts on the page
    response = post(second, url(appointment), fields(1, complaints="Текст второй вкладки", action="save"))
    assert response.status_code == 409
    page = text(response)
    assert "изменён в другой вкладке" in page
    html = response.get_data(as_text=True)
    assert "Текст первой вкладки" in html and "Текст второй вкладки" in html  # stored and typed
    assert stored(app, appointment).complaints == "Текст первой вкладки"  # nothing overwritten
    # the autosave of the stale tab: refused with the way to compare
    hx = post(second, url(appointment, "/draft"), fields(1, complaints="Ещё"), **{"HX-Request": "true"})
    assert (
        hx.status_code == 200 and "другой вкладке" in text(hx) and 'form="protocol-form"' in hx.get_data(as_text=True)
    )
    # saving again from the comparison (it carries the stored version now) keeps the second tab's text
    assert re.search(r'id="version"[^>]*value="2"|value="2"[^>]*id="version"', html)
    assert (
        post(second, url(appointment), fields(2, complaints="Текст второй вкладки", action="save")).status_code == 303
    )
    assert stored(app, appointment).complaints == "Текст второй вкладки"


# -- rows, codes, validation ----------------------------------------------------------------------


def test_a_diagnosis_row_is_added_without_javascript_and_with_htmx(app, demo, login, appointment):
    client = login(demo["doctor"])
    response = post(client, url(appointment), fields(action="add"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="diagnoses-1-kind"' in html and "Кашель три дня" in html
    assert re.search(r'id="diagnoses-1-kind"[^>]*autofocus', html)
    fragment = post(client, url(appointment), fields(action="add"), **{"HX-Request": "true"})
    assert 'id="diagnoses-1-kind"' in fragment.get_data(as_text=True)


def test_without_javascript_a_code_is_searched_and_chosen_in_its_row(app, demo, login, appointment):
    client = login(demo["doctor"])
    data = fields(**{"diagnoses-0-code": "", "diagnoses-0-text": "острый бронхит"})
    data["search-0"] = "1"
    found = post(client, url(appointment), data)
    assert found.status_code == 200
    assert 'name="pick-0" value="J20.9"' in found.get_data(as_text=True)
    del data["search-0"]
    data["pick-0"] = "J20.9"
    chosen = post(client, url(appointment), data)
    html = chosen.get_data(as_text=True)
    assert 'value="J20.9"' in html and "J20.9 Острый бронхит" in html


def test_an_unknown_code_is_an_error_on_its_row_with_everything_kept(app, demo, login, appointment):
    client = login(demo["doctor"])
    data = fields(**{"diagnoses-0-code": "", "diagnoses-0-text": "Z99.999"}, action="sign")
    response = post(client, url(appointment), data)
    assert response.status_code == 400
    page = text(response)
    assert "Нет кода Z99.999 в МКБ-10" in page
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "Кашель три дня" in html and "Z99.999" in html
    with app.app_context():
        assert db.session.get(Appointment, appointment).visit_id is None


def test_signing_needs_a_main_diagnosis_and_its_verification(app, demo, login, appointment):
    client = login(demo["doctor"])
    none = post(client, url(appointment), fields(**{"diagnoses-0-code": "", "diagnoses-0-text": ""}, action="sign"))
    assert none.status_code == 400 and "Укажите основной диагноз" in text(none)
    unverified = post(client, url(appointment), fields(**{"diagnoses-0-status": ""}, action="sign"))
    assert unverified.status_code == 400 and "предварительный или заключительный" in text(unverified)
    typed_code = post(
        client, url(appointment), fields(**{"diagnoses-0-code": "", "diagnoses-0-text": "j06,9"}, action="sign")
    )
    assert typed_code.status_code == 200  # typed in another spelling: the book's code, to confirm
    assert "Подписать протокол приёма?" in text(typed_code)


# -- signing --------------------------------------------------------------------------------------


def _sign(client, appointment_id: int, data: dict | None = None):
    confirm = post(client, url(appointment_id), data or fields(action="sign"))
    assert confirm.status_code == 200, text(confirm)
    version = re.search(r'name="version" value="(\d+)"', confirm.get_data(as_text=True)).group(1)
    return post(client, url(appointment_id, "/sign"), {"version": version}), version


def test_signing_writes_the_visit_and_diagnoses_and_tells_the_patient(app, demo, login, appointment):
    client = login(demo["doctor"])
    data = fields(action="sign", **{
        "diagnoses-1-kind": "concomitant", "diagnoses-1-status": "preliminary", "diagnoses-1-code": "I10",
        "diagnoses-1-text": "I10 Эссенциальная (первичная) гипертензия",
    })  # fmt: skip
    response, _version = _sign(client, appointment, data)
    assert response.status_code == 303
    with app.app_context():
        visit = db.session.scalar(sa.select(Visit).where(Visit.id == db.session.get(Appointment, appointment).visit_id))
        assert visit.complaints.startswith("Кашель") and visit.history.startswith("Заболела")
        found = {
            (d.code, d.kind, d.verification)
            for d in db.session.scalars(sa.select(Diagnosis).where(Diagnosis.visit_id == visit.id))
        }
        assert found == {("J06.9", "main", "final"), ("I10", "concomitant", "preliminary")}
        told = db.session.scalar(
            sa.select(Notification).where(
                Notification.account_id == demo["patient"].id, Notification.event == "visit_protocol"
            )
        )
        assert told is not None and told.url.endswith(f"/visits/{visit.id}")
        visit_id = visit.id
        assert audit_log_verifies()
    page = login(demo["doctor"]).get(url(appointment))
    assert "Протокол подписан" in text(page)
    # the patient sees the signed protocol in the visit's entry
    entry = login(demo["patient"]).get(f"/card/{demo['patient'].patient_id}/visits/{visit_id}")
    assert entry.status_code == 200
    assert "Заболела остро" in text(entry) and "Обильное питьё" in text(entry)


def test_signing_twice_is_refused_with_nothing_doubled(app, demo, login, appointment):
    one, two = login(demo["doctor"]), login(demo["doctor"])
    confirm = post(one, url(appointment), fields(action="sign"))
    version = re.search(r'name="version" value="(\d+)"', confirm.get_data(as_text=True)).group(1)
    assert post(one, url(appointment, "/sign"), {"version": version}).status_code == 303
    again = post(two, url(appointment, "/sign"), {"version": version})
    assert again.status_code == 409 and "уже подписан" in text(again)
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(Visit.complaints.like("Кашель три%")))
            == 1
        )
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Diagnosis)
                .where(
                    Diagnosis.verification == "final",
                    Diagnosis.code == "J06.9",
                    Diagnosis.patient_id == demo["patient"].patient_id,
                )
            )
            == 1
        )
    # a save after signing changes nothing
    post(two, url(appointment), fields(int(version), complaints="Поздно", action="save"))
    assert stored(app, appointment).complaints.startswith("Кашель")


# -- never the patient's, nor anyone else's -------------------------------------------------------


def test_the_draft_is_never_shown_to_the_patient(app, demo, login, appointment):
    doctor = login(demo["doctor"])
    post(doctor, url(appointment), fields(complaints="Секретный черновик приёма", action="save"))
    patient = login(demo["patient"])
    card = demo["patient"].patient_id
    for path in (f"/card/{card}", f"/card/{card}/visits", f"/card/{card}/diagnoses", "/notifications"):
        response = patient.get(path)
        assert response.status_code == 200, path
        assert "Секретный черновик" not in response.get_data(as_text=True), path
    for tail in ("", "/draft", "/sign"):
        assert patient.get(url(appointment, tail)).status_code in (404, 405)
        assert post(patient, url(appointment, tail), fields(1), page="/").status_code == 404
    # the FHIR/IPS export of the card, as the export page builds it
    from portal.auth.models import Account
    from portal.export import fhir
    from portal.export import service as export

    with app.test_request_context():
        data = export.export(db.session.get(Account, demo["patient"].id), card, "ips")
        bundle = json.dumps(fhir.build_bundle(data), ensure_ascii=False, default=str)
    assert "Smirnova" in bundle or demo["patient"].surname in bundle
    assert "Секретный черновик" not in bundle


@pytest.mark.parametrize("who", ["doctor_b", "nurse", "registrar", "patient", "auditor", "org_admin"])
def test_anyone_but_the_appointments_doctor_gets_404(app, demo, login, appointment, who):
    client = login(demo[who])
    assert client.get(url(appointment)).status_code == 404
    for tail in ("", "/draft", "/sign"):
        assert post(client, url(appointment, tail), fields(), page="/").status_code == 404
    assert stored(app, appointment) is None


def test_another_organisations_appointment_is_404_to_the_demo_doctor(app, demo, login, orgs):
    other = _appointment(app, demo, orgs, doctor_key="doctor_b", org="B", patient_key="guardian")
    client = login(demo["doctor"])
    assert client.get(url(other)).status_code == 404
    assert post(client, url(other, "/draft"), fields()).status_code == 404
    assert stored(app, other) is None


def test_the_demo_doctors_day_has_one_protocol_in_draft(app, demo, login):
    with app.app_context():
        drafts = list(db.session.scalars(sa.select(VisitProtocol).where(VisitProtocol.author_id == demo["doctor"].id)))
        assert len(drafts) == 1 and drafts[0].signed_at is None
        appointment_id = drafts[0].appointment_id
    page = login(demo["doctor"]).get(url(appointment_id))
    assert page.status_code == 200
    assert "Насморк, першение" in text(page) and "J06.9" in page.get_data(as_text=True)


def test_a_refused_look_is_audited_as_denied(app, demo, login, orgs):
    other = _appointment(app, demo, orgs, doctor_key="doctor_b", org="B", patient_key="guardian")
    assert login(demo["doctor"]).get(url(other)).status_code == 404
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert (event.action, event.outcome, event.actor_id) == ("protocol.read", "denied", demo["doctor"].id)
        assert event.object_id == str(other)


def test_another_organisations_draft_is_404_with_nothing_of_it_shown(app, demo, login, orgs):
    other = _appointment(app, demo, orgs, doctor_key="doctor_b", org="B", patient_key="guardian")
    volkov = login(demo["doctor_b"])
    assert post(volkov, url(other), fields(complaints="Черновик клиники Б", action="save")).status_code == 303
    for who in ("doctor", "nurse", "registrar", "org_admin", "auditor", "guardian"):
        client = login(demo[who])
        response = client.get(url(other))
        assert response.status_code == 404, who
        assert "Черновик клиники Б" not in response.get_data(as_text=True)
        assert post(client, url(other, "/draft"), fields(1, complaints="Чужой текст"), page="/").status_code == 404
        assert post(client, url(other, "/sign"), {"version": "1"}, page="/").status_code == 404
    assert stored(app, other).complaints == "Черновик клиники Б"
