"""Changing one's clinic («прикрепление»): the citizen applies with a reason; the rule of at most
once a year unless they moved; one application at a time; the registrar of the NEW clinic
decides, nobody else (another clinic's registrar gets 404, nothing changes); the citizen and both
clinics are told; every step audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.audit.models import AuditEvent
from portal.auth.models import Account
from portal.clinic.service import assign_role
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory import attachment
from portal.directory.models import AttachmentApplication
from portal.notify.models import Notification, OutboxMessage
from portal.record.models import ClinicAttachment
from tests.conftest import csrf_token


@pytest.fixture
def orgs(app):
    with app.app_context():
        found = demo_organisations()
        return {key: (org.id, org.name) for key, org in found.items()}


@pytest.fixture
def registrar_b(app, demo, orgs):
    """Волков (a doctor of clinic B) is also its registrar."""
    with app.app_context():
        assign_role(None, demo["doctor_b"].id, orgs["B"][0], "registrar")
    return demo["doctor_b"]


def apply(client, organisation: int | str, reason: str = "Ближе к дому", moved: bool = False):
    data = {"csrf_token": csrf_token(client, "/attachment"), "organisation": str(organisation), "reason": reason}
    if moved:
        data["moved"] = "y"
    return client.post("/attachment", data=data)


def applications(app) -> list[AttachmentApplication]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AttachmentApplication).order_by(AttachmentApplication.id)))
        db.session.expunge_all()
    return rows


def current_clinic(app, patient_id: int) -> list[int]:
    from portal.access.policy import attached_now

    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(ClinicAttachment.organisation_id).where(attached_now(patient_id, clock.today()))
            )
        )


def test_the_page_shows_the_clinic_and_bad_input_changes_nothing(app, demo, login, orgs):
    client = login(demo["patient"])
    page = client.get("/attachment").get_data(as_text=True)
    assert orgs["A"][1] in page and "Сменить поликлинику" in page
    empty = apply(client, orgs["B"][0], reason="")
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400 and "Напишите, почему вы хотите сменить поликлинику" in html
    assert f'<option selected value="{orgs["B"][0]}">' in html  # what she chose stays chosen
    same = apply(client, orgs["A"][0])
    assert same.status_code == 400 and "Вы уже прикреплены к этой поликлинике" in same.get_data(as_text=True)
    forged = apply(client, "999999")
    assert forged.status_code == 400 and "Выберите поликлинику из списка" in forged.get_data(as_text=True)
    assert applications(app) == []


def test_apply_then_the_new_clinics_registrar_approves(app, demo, login, orgs, registrar_b):
    citizen = login(demo["patient"])
    sent = apply(citizen, orgs["B"][0], reason="Переехала ближе к больнице", moved=False)
    assert sent.status_code == 303
    page = citizen.get("/attachment").get_data(as_text=True)
    assert "ожидает решения регистратора" in page and 'name="reason"' not in page
    again = apply(citizen, orgs["B"][0])
    assert again.status_code == 400 and len(applications(app)) == 1

    (application,) = applications(app)
    # Clinic A's registrar (the old clinic) neither sees nor decides it.
    old = login(demo["registrar"])
    assert "Переехала ближе" not in old.get("/clinic/attachments").get_data(as_text=True)
    assert old.get(f"/clinic/attachments/{application.id}").status_code == 404
    token = csrf_token(old, "/clinic/attachments")
    assert old.post(f"/clinic/attachments/{application.id}/approve", data={"csrf_token": token}).status_code == 404
    assert applications(app)[0].status == "pending"

    new = login(registrar_b)
    queue = new.get("/clinic/attachments").get_data(as_text=True)
    assert "Смирнова Елена Викторовна" in queue
    detail = new.get(f"/clinic/attachments/{application.id}").get_data(as_text=True)
    assert "Переехала ближе к больнице" in detail and orgs["A"][1] in detail
    token = csrf_token(new, "/clinic/attachments")
    done = new.post(f"/clinic/attachments/{application.id}/approve", data={"csrf_token": token})
    assert done.status_code == 303

    assert applications(app)[0].status == "approved"
    assert current_clinic(app, demo["patient"].patient_id) == [orgs["B"][0]]
    with app.app_context():
        note = db.session.scalar(
            sa.select(Notification)
            .where(Notification.account_id == demo["patient"].id)
            .order_by(Notification.id.desc())
        )
        mails = set(
            db.session.scalars(sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == "attachment_decided"))
        )
        actions = list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.object_type == "attachment_application")
                .order_by(AuditEvent.id)
            )
        )
    assert note.event == "request_status" and "approved" in note.params
    # Both clinics' registrars are told: the old one (Лебедева) and the new one (Волков).
    assert mails == {"registrar@example.ru", "doctor-b@example.ru"}
    assert actions == ["attachment.applied", "attachment.viewed", "attachment.decided"]
    inbox = citizen.get("/notifications").get_data(as_text=True)
    assert "одобрено" in inbox.casefold() or "одобрен" in inbox.casefold()

    # Less than a year later, without a move: refused, with the date it becomes possible.
    back = apply(citizen, orgs["A"][0])
    assert back.status_code == 400
    assert "Вы меняли поликлинику меньше года назад" in back.get_data(as_text=True)
    assert len(applications(app)) == 1
    # A move lifts the limit.
    assert apply(citizen, orgs["A"][0], reason="Переехала обратно", moved=True).status_code == 303
    assert [a.status for a in applications(app)] == ["approved", "pending"]


def test_a_year_after_the_last_change_applying_is_allowed(app, demo, login, orgs):
    with app.app_context(), write_transaction():
        db.session.add(
            AttachmentApplication(
                patient_id=demo["patient"].patient_id,
                applicant_id=demo["patient"].id,
                to_organisation_id=orgs["A"][0],
                reason="Раньше",
                moved=False,
                status="approved",
                decided_at=clock.now() - timedelta(days=366),
                created_at=clock.now() - timedelta(days=370),
            )
        )
    assert apply(login(demo["patient"]), orgs["B"][0]).status_code == 303


def test_a_refusal_needs_a_reason_and_tells_the_citizen(app, demo, login, orgs, registrar_b):
    apply(login(demo["patient"]), orgs["B"][0])
    (application,) = applications(app)
    new = login(registrar_b)
    token = csrf_token(new, "/clinic/attachments")
    empty = new.post(f"/clinic/attachments/{application.id}/reject", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 400 and applications(app)[0].status == "pending"
    refused = new.post(
        f"/clinic/attachments/{application.id}/reject",
        data={"csrf_token": token, "reason": "Адрес вне зоны обслуживания"},
    )
    assert refused.status_code == 303
    assert applications(app)[0].status == "refused"
    assert current_clinic(app, demo["patient"].patient_id) == [orgs["A"][0]]
    page = login(demo["patient"]).get("/attachment").get_data(as_text=True)
    assert "Адрес вне зоны обслуживания" in page and 'name="reason"' in page  # she may apply again


def test_a_registrar_never_decides_their_own_application(app, demo, login, orgs):
    """Лебедева, registrar of clinic A, applies to clinic A herself: she sees her application with
    a notice, and approving it is refused."""
    with app.app_context():
        made = attachment.apply(db.session.get(Account, demo["registrar"].id), orgs["A"][0], "Ближе к работе", False)
    registrar = login(demo["registrar"])
    page = registrar.get(f"/clinic/attachments/{made.id}").get_data(as_text=True)
    assert "решение должен принять другой регистратор" in page and "Прикрепить" not in page
    token = csrf_token(registrar, "/clinic/attachments")
    assert registrar.post(f"/clinic/attachments/{made.id}/approve", data={"csrf_token": token}).status_code == 404
    assert applications(app)[0].status == "pending"


# -- a guardian applies for a child's card ---------------------------------------------------------


def apply_for(client, patient_id: int, organisation: int | str, reason: str = "Ближе к школе", moved=False):
    page = f"/card/{patient_id}/attachment"
    data = {"csrf_token": csrf_token(client, "/attachment"), "organisation": str(organisation), "reason": reason}
    if moved:
        data["moved"] = "y"
    return client.post(page, data=data)


def child_account(app, demo) -> int:
    """Дарья's own account (a child may have one; her card opens to it only at 15)."""
    from portal.identifiers import make_snils

    with app.app_context(), write_transaction():
        child = demo["child_9"]
        account = Account(
            email="darya@example.ru", phone="+79000000099", password_hash="x", surname=child.surname,
            name=child.name, birth_date=child.birth_date, sex=child.sex, snils=make_snils("002000099"),
            patient_id=child.id, verification_status="verified",
        )  # fmt: skip
        db.session.add(account)
        db.session.flush()
        return account.id


def test_a_guardian_changes_a_childs_clinic_and_everyone_is_told(app, demo, login, orgs, registrar_b):
    child = demo["child_9"].id
    darya = child_account(app, demo)
    guardian = login(demo["guardian"])
    [now] = current_clinic(app, child)
    to, registrar = (
        (orgs["B"][0], login(registrar_b)) if now == orgs["A"][0] else (orgs["A"][0], login(demo["registrar"]))
    )
    own = guardian.get("/attachment").get_data(as_text=True)
    assert f"/card/{child}/attachment" in own and "Дарья" in own
    page = guardian.get(f"/card/{child}/attachment")
    assert page.status_code == 200 and "Поликлиника: " in page.get_data(as_text=True)
    empty = apply_for(guardian, child, to, reason="")
    assert empty.status_code == 400 and "Напишите, почему" in empty.get_data(as_text=True)
    assert applications(app) == []
    assert apply_for(guardian, child, to).status_code == 303
    (application,) = applications(app)
    assert (application.patient_id, application.applicant_id) == (child, demo["guardian"].id)
    token = csrf_token(registrar, "/clinic/attachments")
    assert (
        registrar.post(f"/clinic/attachments/{application.id}/approve", data={"csrf_token": token}).status_code == 303
    )
    assert current_clinic(app, child) == [to]
    with app.app_context():
        told = set(
            db.session.scalars(
                sa.select(Notification.account_id).where(
                    Notification.event == "request_status", Notification.patient_id == child
                )
            )
        )
        mails = set(
            db.session.scalars(sa.select(OutboxMessage.recipient).where(OutboxMessage.kind == "attachment_decided"))
        )
        applied = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "attachment.applied"))
    assert told == {demo["guardian"].id, darya}
    assert "registrar@example.ru" in mails and "doctor-b@example.ru" in mails  # both clinics' registrars
    assert (applied.actor_id, applied.actor_role, applied.patient_id) == (demo["guardian"].id, "guardian", child)
    # Once a year unless the family moved.
    back = apply_for(guardian, child, now)
    assert back.status_code == 400 and "меньше года назад" in back.get_data(as_text=True)
    assert apply_for(guardian, child, now, moved=True).status_code == 303


def test_another_persons_child_a_trusted_person_and_an_older_child_get_404(app, demo, login, orgs):
    child, older = demo["child_9"].id, demo["child_16"].id
    for who in ("patient", "trusted", "doctor", "registrar"):
        client = login(demo[who])
        assert client.get(f"/card/{child}/attachment").status_code == 404, who
        assert apply_for(client, child, orgs["B"][0]).status_code == 404, who
    guardian = login(demo["guardian"])
    assert guardian.get(f"/card/{older}/attachment").status_code == 404  # 16: the card is his own now
    assert apply_for(guardian, older, orgs["B"][0]).status_code == 404
    assert guardian.get(f"/card/{demo['patient'].patient_id}/attachment").status_code == 404
    assert applications(app) == []
    with app.app_context():
        denied = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == child, AuditEvent.outcome == "denied")
        )
    assert denied >= 4
