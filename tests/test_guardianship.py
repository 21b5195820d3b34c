"""A parent asks to open a child's card; a registrar checks the document and decides."""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from PIL import Image

from portal import clock
from portal.access.policy import birthday
from portal.audit.models import AuditEvent
from portal.database import db
from portal.formatting import format_date
from portal.identifiers import make_snils
from portal.sharing.models import Guardianship, GuardianshipRequest
from tests.conftest import csrf_token, outbox


def scan() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (250, 250, 250)).save(out, format="PNG")
    return out.getvalue()


def ask(client, born: date, snils: str, **changes):
    data = {
        "csrf_token": csrf_token(client, "/children"),
        "surname": "Павлов",
        "name": "Илья",
        "patronymic": "",
        "birth_date": born.strftime("%d.%m.%Y"),
        "sex": "M",
        "snils": snils,
        "basis": "Свидетельство о рождении II-МЮ № 654321",
        "document": (io.BytesIO(scan()), "birth.png"),
    }
    data.update(changes)
    return client.post("/children", data=data, content_type="multipart/form-data")


def registrar_decision(login, demo, request_id, decision, reason=""):
    registrar = login(demo["registrar"])
    page = f"/clinic/guardianships/{request_id}"
    data = {"csrf_token": csrf_token(registrar, page)}
    if decision == "reject":
        data["reason"] = reason
    return registrar.post(f"{page}/{decision}", data=data)


def latest_request(app, guardian_id):
    with app.app_context():
        return db.session.scalar(
            sa.select(GuardianshipRequest)
            .where(GuardianshipRequest.guardian_id == guardian_id)
            .order_by(GuardianshipRequest.id.desc())
            .limit(1)
        )


def test_request_approve_and_open_the_childs_card(app, demo, login):
    parent = login(demo["trusted"])
    snils = make_snils("004000001")
    born = clock.today() - timedelta(days=4 * 365)
    assert ask(parent, born, snils).status_code == 303
    request = latest_request(app, demo["trusted"].id)
    registrar = login(demo["registrar"])
    queue = registrar.get("/clinic/guardianships").get_data(as_text=True)
    assert f"/clinic/guardianships/{request.id}" in queue
    document = registrar.get(f"/clinic/guardianships/{request.id}/document")
    assert document.status_code == 200 and document.headers["Content-Type"] == "image/png"
    assert registrar_decision(login, demo, request.id, "approve").status_code == 303
    with app.app_context():
        link = db.session.scalar(sa.select(Guardianship).where(Guardianship.guardian_id == demo["trusted"].id))
        events = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("guardianship.%"))))
    assert link.verified_at is not None and link.verified_by_id == demo["registrar"].id
    assert events == ["guardianship.requested", "guardianship.document_viewed", "guardianship.approved"]
    assert parent.get(f"/card/{link.child_id}").status_code == 200
    assert "Павлов Илья" in parent.get("/cards").get_data(as_text=True)
    assert outbox(app, demo["trusted"].email)[-1].kind == "security_alert"


def test_a_refusal_needs_a_reason_the_parent_sees(app, demo, login):
    parent = login(demo["trusted"])
    ask(parent, clock.today() - timedelta(days=3 * 365), make_snils("004000002"))
    request = latest_request(app, demo["trusted"].id)
    assert registrar_decision(login, demo, request.id, "reject", "").status_code == 400
    assert registrar_decision(login, demo, request.id, "reject", "Скан нечитаем").status_code == 303
    parent.set_cookie("lang", "en")
    assert "refused: Скан нечитаем" in parent.get("/children").get_data(as_text=True)


def test_a_child_of_15_or_older_is_refused_at_once(app, demo, login):
    parent = login(demo["trusted"])
    parent.set_cookie("lang", "en")
    response = ask(parent, clock.today() - timedelta(days=16 * 365), make_snils("004000003"), surname="Старший")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "A child of 15 or older manages their own card" in html and 'value="Старший"' in html
    assert latest_request(app, demo["trusted"].id) is None


def test_a_bad_document_is_refused_and_nothing_is_kept(app, demo, login):
    parent = login(demo["trusted"])
    parent.set_cookie("lang", "en")
    response = ask(
        parent,
        clock.today() - timedelta(days=2 * 365),
        make_snils("004000004"),
        document=(io.BytesIO(b"<html>not a scan</html>"), "scan.png"),
    )
    assert response.status_code == 400 and "must be a PDF, JPG or PNG" in response.get_data(as_text=True)
    assert latest_request(app, demo["trusted"].id) is None


def test_a_card_with_another_birth_date_is_not_linked(app, demo, login):
    parent = login(demo["trusted"])
    # Дарья's SNILS with a wrong date of birth: the registrar cannot approve it.
    snils = demo["child_9"].snils
    ask(parent, clock.today() - timedelta(days=2 * 365), snils)
    request = latest_request(app, demo["trusted"].id)
    assert registrar_decision(login, demo, request.id, "approve").status_code == 400
    assert parent.get(f"/card/{demo['child_9'].id}").status_code == 404


def test_a_registrar_never_decides_their_own_request(app, demo, login):
    registrar = login(demo["registrar"])
    ask(registrar, clock.today() - timedelta(days=6 * 365), make_snils("004000005"))
    request = latest_request(app, demo["registrar"].id)
    page = registrar.get(f"/clinic/guardianships/{request.id}").get_data(as_text=True)
    assert "another registrar must decide it" in page or "другой регистратор" in page
    assert registrar_decision(login, demo, request.id, "approve").status_code == 404
    assert registrar.get(f"/clinic/guardianships/{request.id}/document").status_code == 404


def test_the_demo_queue_has_a_waiting_request(app, demo, login):
    html = login(demo["registrar"]).get("/clinic/guardianships").get_data(as_text=True)
    assert re.search(r"Смирнов Артём", html)


# -- trusted persons: the owner ends a grant ---------------------------------------------------


def test_the_owner_sees_and_ends_a_grant_and_both_are_told(app, demo, login):
    owner, trusted = login(demo["patient"]), login(demo["trusted"])
    patient_id = demo["patient"].patient_id
    owner.set_cookie("lang", "en")
    page = owner.get("/sharing").get_data(as_text=True)
    assert "Павлова Ольга Сергеевна" in page and "Test results, Vaccinations, Prescriptions" in page
    grant_id = re.search(r"/sharing/(\d+)/revoke", page).group(1)
    assert trusted.get(f"/card/{patient_id}").status_code == 200
    response = owner.post(f"/sharing/{grant_id}/revoke", data={"csrf_token": csrf_token(owner, "/sharing")})
    assert response.status_code == 303
    assert trusted.get(f"/card/{patient_id}").status_code == 404
    assert "Nobody else sees your card" in owner.get("/sharing").get_data(as_text=True)
    assert outbox(app, demo["trusted"].email)[-1].kind == "grant"
    assert outbox(app, demo["patient"].email)[-1].kind == "security_alert"
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "grant.revoked"))
    assert event.patient_id == patient_id and event.actor_id == demo["patient"].id
    owner.set_cookie("lang", "en")
    log = owner.get(f"/card/{patient_id}/access-log").get_data(as_text=True)
    assert "Павлова Ольга Сергеевна, trusted person" in log  # her earlier read stays in the log


def test_nobody_else_ends_a_grant(app, demo, login):
    page = login(demo["patient"]).get("/sharing").get_data(as_text=True)
    grant_id = re.search(r"/sharing/(\d+)/revoke", page).group(1)
    for key in ("trusted", "guardian", "doctor"):
        client = login(demo[key])
        token = csrf_token(client, "/sharing")
        assert client.post(f"/sharing/{grant_id}/revoke", data={"csrf_token": token}).status_code == 404


def test_at_most_five_active_grants_and_each_is_audited_and_told(app, demo, login):
    from datetime import date as day

    import pytest

    from portal.auth.models import Account
    from portal.sharing import service

    later = day.today() + timedelta(days=30)
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        owner = db.session.get(Account, demo["patient"].id)
        grantees = [demo[k].id for k in ("guardian", "doctor", "nurse", "doctor_b")]  # the demo grant makes 5
        for grantee_id in grantees:
            service.grant(owner, grantee_id, {"results"}, "view", later)
        with pytest.raises(service.Refused, match="at most 5 people"):
            service.grant(owner, demo["registrar"].id, {"results"}, "view", later)
        with pytest.raises(service.Refused, match="confirmed account"):
            service.grant(owner, demo["applicant"].id, {"results"}, "view", later)
        with pytest.raises(service.Refused, match="future"):
            service.grant(owner, demo["registrar"].id, {"results"}, "view", day.today())
        with pytest.raises(service.Refused, match="at least one section"):
            service.grant(owner, demo["registrar"].id, {"access_log"}, "view", later)
        events = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action == "grant.created")))
    assert len(events) == 4
    assert outbox(app, demo["nurse"].email)[-1].kind == "notify_grant_received"
    nurse = login(demo["nurse"])
    assert nurse.get(f"/card/{demo['patient'].patient_id}").status_code == 200  # as a trusted person now


HREF = re.compile(r'href="(/[^"#]*)')


def test_every_link_a_guardian_is_shown_opens(app, demo, login):
    """Максим (16) is past the age limit: «Мои дети» still lists him, says since when the card is
    his own, and gives no link to it. No page the guardian reaches (the dashboard, «Мои карты» the
    card switcher leads to, «Мои дети», a child's card) shows a link that answers 404."""
    guardian = login(demo["guardian"])
    pages = ["/", "/cards", "/children", f"/card/{demo['child_9'].id}"]
    shown: dict[str, str] = {}
    for page in pages:
        response = guardian.get(page)
        assert response.status_code == 200, page
        for href in HREF.findall(response.get_data(as_text=True)):
            if not href.startswith("/assets/"):
                shown.setdefault(html.unescape(href), page)
    assert f"/card/{demo['child_9'].id}" in shown
    broken = {href: page for href, page in shown.items() if guardian.get(href).status_code == 404}
    assert broken == {}

    children = guardian.get("/children").get_data(as_text=True)
    maxim = demo["child_16"]
    assert f"/card/{maxim.id}" not in children
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        since = format_date(birthday(maxim.birth_date, app.config["GUARDIAN_AGE_LIMIT"]))
    line = next(li for li in re.findall(r"<li>(.*?)</li>", children, re.S) if maxim.name in li)
    assert f"{since} ему исполнилось 15" in html.unescape(line)
    assert "карта принадлежит ему" in line


def test_a_child_past_the_age_limit_is_told_in_english_too(app, demo, login):
    guardian = login(demo["guardian"])
    guardian.post("/settings/language", data={"csrf_token": csrf_token(guardian), "language": "en"})
    children = guardian.get("/children").get_data(as_text=True)
    assert "turned 15" in children and "the card is his own" in children


def test_the_document_of_a_decided_request_is_no_longer_opened(app, demo, login):
    parent = login(demo["trusted"])
    ask(parent, clock.today() - timedelta(days=3 * 365), make_snils("004000004"))
    request = latest_request(app, demo["trusted"].id)
    registrar = login(demo["registrar"])
    document = f"/clinic/guardianships/{request.id}/document"
    assert registrar.get(document).status_code == 200
    assert registrar_decision(login, demo, request.id, "reject", "Скан нечитаем").status_code == 303
    assert registrar.get(document).status_code == 404
    assert document not in registrar.get(f"/clinic/guardianships/{request.id}").get_data(as_text=True)
    with app.app_context():
        outcomes = list(
            db.session.scalars(
                sa.select(AuditEvent.outcome)
                .where(AuditEvent.action == "guardianship.document_viewed")
                .order_by(AuditEvent.id)
            )
        )
    assert outcomes == ["success", "denied"]
