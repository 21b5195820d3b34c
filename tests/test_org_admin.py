"""The organisation admin's workspace (/org): the staff list, invitations by e-mail and the link
that accepts them, roles under the separation of duties, suspension; another organisation's
staff, members and invitations are 404, and no page shows anything of a card."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEvent
from portal.auth.models import Account, ServerSession, StaffMembership
from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.orgadmin.models import StaffInvitation
from tests.conftest import csrf_token, last_code, outbox, session_for
from tests.test_auth import secret_on, totp_now
from tests.test_notify import smtp, wait_for  # noqa: F401 - the real SMTP server fixture

PASSWORD = "Утренний кофе на балконе 2026!"
NEWCOMER = {"surname": "Белова", "name": "Анна", "patronymic": "Сергеевна", "email": "Anna.Belova@Example.ru"}
DETAILS = {
    "birth_date": "03.02.1988",
    "sex": "F",
    "snils": "112-233-445 95",
    "phone": "+7 916 555-12-34",
    "password": PASSWORD,
    "password_again": PASSWORD,
}


def post(client, path, data=None, page=None, **kwargs):
    body = {"csrf_token": csrf_token(client, page or path), **(data or {})}
    return client.post(path, data=body, **kwargs)


@pytest.fixture
def orgs(app, demo):
    with app.app_context():
        found = {key: org.id for key, org in demo_organisations().items()}
        db.session.remove()
    return found


@pytest.fixture
def admin(login, demo):
    return login(demo["org_admin"])


def invite(admin, org: int, roles=("registrar",), **changes):
    data = {**NEWCOMER, "roles": list(roles), **changes}
    return post(admin, f"/org/{org}/invitations/new", data)


def link_of(app, email: str = "anna.belova@example.ru") -> str:
    body = outbox(app, email)[-1].body
    return re.search(r"https?://\S+(/invitation/\S+)", body).group(1)


def invitation_row(app, email: str = "anna.belova@example.ru") -> StaffInvitation:
    with app.app_context():
        found = db.session.scalar(
            sa.select(StaffInvitation).where(StaffInvitation.email == email).order_by(StaffInvitation.id.desc())
        )
        db.session.expunge_all()
    return found


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def actions(app, prefix: str = "staff.") -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.reason)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        )
        return [tuple(r) for r in rows]


def accept_new(client, link: str, **changes):
    assert client.get(link).headers["Location"] == "/invitation"
    return post(client, "/invitation", {**DETAILS, **changes})


# -- the staff list --------------------------------------------------------------------------------


def test_the_staff_page_lists_the_organisation_with_roles_and_no_medical_data(app, admin, demo, orgs):
    page = admin.get("/org")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for key in ("doctor", "nurse", "registrar", "org_admin", "auditor"):
        assert f"{key.replace('_', '-')}@example.ru" in html
    assert "doctor-b@example.ru" not in html  # clinic B's doctor
    assert "Работает" in html and "врач" in html and "аудитор" in html
    # the demo's pending invitation
    assert "Приглашения, ожидающие ответа" in html and "kravtsova@example.ru" in html
    assert "/clinic/schedules" in html and "/clinic/schedules/exceptions/new" in html
    # nothing of a card: no link to one, no SNILS, no date of birth, no patient
    assert "/card/" not in html and "СНИЛС" not in html and "Смирнова" not in html
    assert admin.get(f"/org/{orgs['A']}").get_data(as_text=True).count("doctor@example.ru") == 1


# -- inviting ----------------------------------------------------------------------------------------


def test_an_invitation_arrives_by_email_and_the_invitee_must_set_up_an_app_before_a_staff_page(
    app_factory,
    demo_factory,
    smtp,  # noqa: F811 - the fixture
):
    controller, inbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, BASE_URL="https://medkarta.example")
    demo = demo_factory(app)
    org = _org_a(app)
    admin = app.test_client()
    session_for(app, admin, demo["org_admin"].id)
    assert invite(admin, org).headers["Location"] == f"/org/{org}?done=invited"
    wait_for(inbox, 1)
    [message] = [m for m in inbox.messages if m["To"] == "anna.belova@example.ru"]
    assert message["Subject"] == "Приглашение к работе в Медкарте"
    body = message.get_content()
    link = re.search(r"https://medkarta\.example(/invitation/\S+)", body).group(1)
    assert "Новиков Павел Олегович" in body and "регистратор" in body and "72" in body
    # the token is kept as a hash only
    token = link.rsplit("/", 1)[1]
    assert token not in {invitation_row(app).token_hash}

    invitee = app.test_client()
    opened = invitee.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/invitation"  # the token leaves the URL
    page = invitee.get("/invitation").get_data(as_text=True)
    assert "Белова Анна Сергеевна" in page and "регистратор" in page
    created = post(invitee, "/invitation", DETAILS)
    assert created.headers["Location"] == "/auth/enrol"
    # an account with its membership, the e-mail confirmed by the link, the invitation spent
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.email == "anna.belova@example.ru"))
        assert account.roles == {"registrar"} and account.email_confirmed_at is not None
        assert account.second_factor is None and account.surname == "Белова"
    assert invitation_row(app).status == "accepted"
    # no staff page before an authenticator app is set up
    assert invitee.get("/desk").headers["Location"] == "/auth/enrol"
    assert post(invitee, "/auth/enrol/phone/send", {}, page="/auth/enrol").status_code == 303
    code = last_code(app, "+79165551234")
    assert (
        post(invitee, "/auth/enrol/phone", {"code": code}, page="/auth/enrol")
        .headers["Location"]
        .endswith("/auth/enrol/factor")
    )
    factor_page = invitee.get("/auth/enrol/factor").get_data(as_text=True)
    assert 'value="totp"' in factor_page and 'value="sms"' not in factor_page  # staff: an app only
    assert post(invitee, "/auth/enrol/factor", {"method": "sms"}).status_code == 400
    assert invitee.get("/desk").headers["Location"] == "/auth/enrol"
    assert post(invitee, "/auth/enrol/factor", {"method": "totp"}).headers["Location"] == "/auth/enrol/totp"
    secret = secret_on(invitee.get("/auth/enrol/totp").get_data(as_text=True))
    done = post(invitee, "/auth/enrol/totp", {"code": totp_now(app, "anna.belova@example.ru", secret=secret)})
    assert done.headers["Location"] == "/auth/recovery-codes"
    assert invitee.get("/desk").status_code == 200
    assert [a[0] for a in actions(app)] == ["staff.invited", "staff.role_assigned", "staff.invitation_accepted"]


def _org_a(app) -> int:
    with app.app_context():
        found = demo_organisations()["A"].id
        db.session.remove()
    return found


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"email": "not-an-email"}, "email", "в формате name@example.ru"),
        ({"roles": []}, "roles", "Выберите хотя бы одну роль"),
        ({"roles": ["auditor", "doctor"]}, "roles", "Аудитор не совмещает других ролей"),
        ({"roles": ["surgeon"]}, "roles", "Выберите роли из списка"),
        ({"email": "registrar@example.ru", "roles": ["registrar"]}, "roles", "уже выполняет эту роль"),
        ({"email": "auditor@example.ru", "roles": ["doctor"]}, "roles", "Аудитор не выполняет других ролей"),
        ({"email": "org-admin@example.ru", "roles": ["doctor"]}, "email", "Нельзя дать роль самому себе"),
        ({"surname": ""}, "surname", "Введите фамилию"),
    ],
)
def test_a_bad_invitation_comes_back_with_what_was_typed_and_sends_nothing(app, admin, orgs, changes, field, message):
    sent = len(outbox(app))
    response = invite(admin, orgs["A"], **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="error-summary"' in html and message in html
    assert f'href="#{field}"' in html
    if field != "surname":
        assert 'value="Белова"' in html
    assert len(outbox(app)) == sent and count(app, StaffInvitation, StaffInvitation.email.like("%belova%")) == 0


def test_a_second_invitation_to_a_waiting_address_is_refused(app, admin, orgs):
    assert invite(admin, orgs["A"]).status_code == 303
    again = invite(admin, orgs["A"], roles=["nurse"])
    assert again.status_code == 400 and "уже ждёт ответа" in again.get_data(as_text=True)
    assert count(app, StaffInvitation, StaffInvitation.email == "anna.belova@example.ru") == 1


# -- the link: used twice, expired, withdrawn, replaced ---------------------------------------------


def test_a_link_used_twice_says_it_was_used_and_changes_nothing(app, admin, orgs):
    invite(admin, orgs["A"])
    link = link_of(app)
    assert accept_new(app.test_client(), link).headers["Location"] == "/auth/enrol"
    accounts = count(app, Account)
    second = app.test_client()
    second.get(link)
    page = second.get("/invitation")
    assert page.status_code == 410 and "Это приглашение уже использовано" in page.get_data(as_text=True)
    again = post(second, "/invitation", {**DETAILS, "snils": "112-233-445 95"}, page="/")
    assert again.status_code == 410 and count(app, Account) == accounts


def test_two_tabs_accepting_at_once_make_one_account(app, admin, orgs):
    invite(admin, orgs["A"])
    link = link_of(app)
    first, second = app.test_client(), app.test_client()
    for tab in (first, second):
        tab.get(link)
    tokens = [csrf_token(tab, "/invitation") for tab in (first, second)]
    assert first.post("/invitation", data={**DETAILS, "csrf_token": tokens[0]}).status_code == 303
    late = second.post("/invitation", data={**DETAILS, "csrf_token": tokens[1]})
    assert late.status_code == 410 and "уже использовано" in late.get_data(as_text=True)
    assert count(app, Account, Account.email == "anna.belova@example.ru") == 1


def _expire(app) -> None:
    with app.app_context(), write_transaction():
        row = db.session.scalar(sa.select(StaffInvitation).where(StaffInvitation.email == "anna.belova@example.ru"))
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)


def test_an_expired_link_says_so_and_asks_for_a_new_one(app, admin, orgs):
    invite(admin, orgs["A"])
    link = link_of(app)
    _expire(app)
    client = app.test_client()
    client.get(link)
    page = client.get("/invitation")
    html = page.get_data(as_text=True)
    assert page.status_code == 410 and "Срок этого приглашения истёк" in html and "администратор" in html
    accounts = count(app, Account)
    assert post(client, "/invitation", DETAILS, page="/").status_code == 410
    assert count(app, Account) == accounts and invitation_row(app).status == "pending"
    # the admin sees it expired and sends a new link, which works
    staff = admin.get(f"/org/{orgs['A']}").get_data(as_text=True)
    assert "Срок истёк" in staff
    invitation = invitation_row(app)
    assert post(admin, f"/org/{orgs['A']}/invitations/{invitation.id}/resend").status_code == 303
    assert accept_new(app.test_client(), link_of(app)).headers["Location"] == "/auth/enrol"


def test_a_withdrawn_link_says_so(app, admin, orgs):
    invite(admin, orgs["A"])
    link = link_of(app)
    invitation = invitation_row(app)
    path = f"/org/{orgs['A']}/invitations/{invitation.id}"
    assert "Отозвать приглашение" in admin.get(path).get_data(as_text=True)
    assert post(admin, f"{path}/revoke", page=path).headers["Location"] == f"/org/{orgs['A']}?done=revoked"
    client = app.test_client()
    client.get(link)
    page = client.get("/invitation")
    assert page.status_code == 410 and "Это приглашение отозвано" in page.get_data(as_text=True)
    assert "администратор" in page.get_data(as_text=True)
    # withdrawn twice: said in words, nothing changes
    again = post(admin, f"{path}/revoke", page=path)
    assert again.status_code == 409 and "Ничего не изменилось" in again.get_data(as_text=True)
    assert [a[0] for a in actions(app)] == ["staff.invited", "staff.invitation_revoked"]


def test_sending_again_kills_the_old_link(app, admin, orgs):
    invite(admin, orgs["A"])
    old_link = link_of(app)
    invitation = invitation_row(app)
    path = f"/org/{orgs['A']}/invitations/{invitation.id}"
    assert post(admin, f"{path}/resend", page=path).headers["Location"] == f"/org/{orgs['A']}?done=resent"
    new_link = link_of(app)
    assert new_link != old_link
    client = app.test_client()
    client.get(old_link)
    page = client.get("/invitation")
    assert page.status_code == 410 and "Отправлено новое приглашение" in page.get_data(as_text=True)
    assert accept_new(app.test_client(), new_link).headers["Location"] == "/auth/enrol"
    assert [a[0] for a in actions(app, "staff.invit")] == [
        "staff.invited",
        "staff.invitation_resent",
        "staff.invitation_accepted",
    ]


def test_an_unknown_link_and_no_link_say_so(app):
    client = app.test_client()
    assert client.get("/invitation").status_code == 400
    client.get("/invitation/made-up-token")
    page = client.get("/invitation")
    assert page.status_code == 400 and "Ссылка из приглашения не работает" in page.get_data(as_text=True)


# -- accepting: the new account's form, an existing account ----------------------------------------


def test_the_account_form_comes_back_with_errors_and_writes_nothing(app, admin, orgs, demo):
    invite(admin, orgs["A"])
    client = app.test_client()
    client.get(link_of(app))
    accounts, memberships = count(app, Account), count(app, StaffMembership)
    weak = post(client, "/invitation", {**DETAILS, "password": "belova", "password_again": "belova"})
    html = weak.get_data(as_text=True)
    assert weak.status_code == 400 and 'id="error-summary"' in html and 'value="03.02.1988"' in html
    assert "belova" not in re.sub(r"anna\.belova@example\.ru", "", html)  # the password is not echoed
    # a SNILS another account has: said on the field, nothing written
    with app.app_context():
        taken = db.session.get(Account, demo["patient"].id).snils
    clash = post(client, "/invitation", {**DETAILS, "snils": taken})
    assert clash.status_code == 400 and "принадлежит другой учётной записи" in clash.get_data(as_text=True)
    assert count(app, Account) == accounts and invitation_row(app).status == "pending"
    assert count(app, StaffMembership) == memberships


def test_an_existing_account_signs_in_and_accepts_then_sets_up_an_app(app, admin, orgs, demo):
    invite(admin, orgs["A"], roles=["nurse"], email="patient@example.ru", surname="Смирнова", name="Елена")
    link = link_of(app, "patient@example.ru")
    client = app.test_client()
    client.get(link)
    page = client.get("/invitation").get_data(as_text=True)
    assert "Войдите в неё" in page and 'name="snils"' not in page
    # the form of a new account is refused for an e-mail that has one
    assert post(client, "/invitation", DETAILS).status_code == 400
    # signing in (password and SMS code) comes back to the invitation
    with app.app_context():
        phone = db.session.get(Account, demo["patient"].id).phone
    signed = post(client, "/auth/sign-in?next=/invitation", {"login": "patient@example.ru", "password": _demo_pw()})
    assert signed.headers["Location"] == "/auth/second-factor"
    done = post(client, "/auth/second-factor", {"f-code": last_code(app, phone), "use": "code"})
    assert done.headers["Location"] == "/invitation"
    assert "Принять приглашение" in client.get("/invitation").get_data(as_text=True)
    accepted = post(client, "/invitation/accept", page="/invitation")
    assert accepted.headers["Location"] == "/auth/enrol"  # an SMS factor: staff need an app
    with app.app_context():
        assert db.session.get(Account, demo["patient"].id).roles == {"nurse"}
    assert client.get("/clinic/emergency").headers["Location"] == "/auth/enrol"
    assert invitation_row(app, "patient@example.ru").status == "accepted"


def _demo_pw() -> str:
    from portal.demodata.people import DEMO_PASSWORD

    return DEMO_PASSWORD


def test_another_signed_in_account_cannot_accept(app, admin, orgs, demo, login):
    invite(admin, orgs["A"])
    stranger = login(demo["trusted"])
    stranger.get(link_of(app))
    page = stranger.get("/invitation").get_data(as_text=True)
    assert "trusted@example.ru" in page and "Принять приглашение" not in page
    response = post(stranger, "/invitation/accept", page="/invitation")
    assert response.headers["Location"] == "/invitation"
    assert invitation_row(app).status == "pending"
    with app.app_context():
        assert db.session.get(Account, demo["trusted"].id).roles == set()


def test_an_invitation_from_an_admin_who_left_cannot_be_accepted_and_writes_nothing(app, admin, orgs, demo):
    invite(admin, orgs["A"])
    link = link_of(app)
    with app.app_context(), write_transaction():
        row = db.session.scalar(
            sa.select(StaffMembership).where(
                StaffMembership.account_id == demo["org_admin"].id, StaffMembership.role == "org_admin"
            )
        )
        row.ended_at = datetime.now(UTC)
    accounts = count(app, Account)
    response = accept_new(app.test_client(), link)
    assert response.status_code == 409 and "Ничего не сохранено" in response.get_data(as_text=True)
    assert count(app, Account) == accounts and invitation_row(app).status == "pending"


# -- roles ---------------------------------------------------------------------------------------------


def member_path(orgs, demo, key: str) -> str:
    return f"/org/{orgs['A']}/members/{demo[key].id}"


def test_roles_are_given_and_removed_audited_and_told(app, admin, orgs, demo):
    path = member_path(orgs, demo, "registrar")
    page = admin.get(path).get_data(as_text=True)
    assert "registrar@example.ru" in page and "/card/" not in page
    given = post(admin, f"{path}/roles", {"role": "nurse"}, page=path)
    assert given.headers["Location"] == f"{path}?done=role_given"
    with app.app_context():
        assert db.session.get(Account, demo["registrar"].id).roles == {"registrar", "nurse"}
    told = outbox(app, "registrar@example.ru")[-1]
    assert "медицинская сестра" in told.body and told.kind == "staff_role_given"
    removed = post(admin, f"{path}/roles/nurse/remove", page=path)
    assert removed.headers["Location"] == f"{path}?done=role_removed"
    # given again: a new row, the old one stays as history
    assert post(admin, f"{path}/roles", {"role": "nurse"}, page=path).status_code == 303
    with app.app_context():
        rows = db.session.scalars(
            sa.select(StaffMembership).where(
                StaffMembership.account_id == demo["registrar"].id, StaffMembership.role == "nurse"
            )
        ).all()
        assert [r.ended_at is None for r in rows] == [False, True]
    assert [(a[0], a[3]) for a in actions(app)] == [
        ("staff.role_assigned", "nurse"),
        ("staff.role_removed", "nurse"),
        ("staff.role_assigned", "nurse"),
    ]


@pytest.mark.parametrize(
    "who,role,message",
    [
        ("registrar", "auditor", "Аудитор не выполняет других ролей"),
        ("auditor", "doctor", "Аудитор не выполняет других ролей"),
        ("registrar", "registrar", "уже выполняет эту роль"),
        ("org_admin", "doctor", "Нельзя дать роль самому себе"),
    ],
)
def test_the_separation_of_duties_is_said_in_words(app, admin, orgs, demo, who, role, message):
    path = member_path(orgs, demo, who)
    response = post(admin, f"{path}/roles", {"role": role}, page=path)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Ничего не изменилось" in html and message in html


def test_the_last_admin_keeps_the_role(app, admin, orgs, demo):
    path = member_path(orgs, demo, "org_admin")
    response = post(admin, f"{path}/roles/org_admin/remove", page=path)
    assert response.status_code == 409 and "единственный администратор" in response.get_data(as_text=True)
    with app.app_context():
        assert "org_admin" in db.session.get(Account, demo["org_admin"].id).roles


def test_removing_the_last_role_leads_back_to_the_list(app, admin, orgs, demo):
    path = member_path(orgs, demo, "nurse")
    assert post(admin, f"{path}/roles/nurse/remove", page=path).headers["Location"] == (
        f"/org/{orgs['A']}?done=role_removed"
    )
    assert admin.get(path).status_code == 404


# -- suspension ----------------------------------------------------------------------------------------


def test_suspension_closes_the_staff_pages_and_ends_the_sessions_until_resumed(app, admin, orgs, demo, login):
    registrar = login(demo["registrar"])
    assert registrar.get("/desk").status_code == 200
    path = member_path(orgs, demo, "registrar")
    assert post(admin, f"{path}/suspend", page=path).headers["Location"] == f"{path}?done=suspended"
    assert registrar.get("/desk").status_code == 303  # the session is over
    with app.app_context():
        live = db.session.scalar(
            sa.select(sa.func.count()).where(
                ServerSession.account_id == demo["registrar"].id, ServerSession.ended_at.is_(None)
            )
        )
        assert live == 0
    again = login(demo["registrar"])
    assert again.get("/desk").status_code == 404 and again.get("/clinic/verifications").status_code == 404
    staff = admin.get(f"/org/{orgs['A']}").get_data(as_text=True)
    assert "Работа приостановлена" in staff
    page = admin.get(path).get_data(as_text=True)
    assert "Возобновить работу" in page
    # no role changes meanwhile
    refused = post(admin, f"{path}/roles", {"role": "nurse"}, page=path)
    assert refused.status_code == 409 and "приостановлена" in refused.get_data(as_text=True)
    assert outbox(app, "registrar@example.ru")[-1].kind == "staff_suspended"
    assert post(admin, f"{path}/reactivate", page=path).headers["Location"] == f"{path}?done=reactivated"
    assert again.get("/desk").status_code == 200
    assert [a[0] for a in actions(app)] == ["staff.suspended", "staff.reactivated"]


def test_nobody_suspends_themselves(app, admin, orgs, demo):
    path = member_path(orgs, demo, "org_admin")
    response = post(admin, f"{path}/suspend", page=path)
    assert response.status_code == 409 and "Нельзя приостановить свою собственную работу" in response.get_data(
        as_text=True
    )


def test_suspension_is_per_organisation(app, admin, orgs, demo, login):
    """A doctor of clinic A who also works in clinic B: suspended in A, still a doctor in B."""
    with app.app_context(), write_transaction():
        db.session.add(StaffMembership(account_id=demo["doctor"].id, organisation_id=orgs["B"], role="doctor"))
    path = member_path(orgs, demo, "doctor")
    assert post(admin, f"{path}/suspend", page=path).status_code == 303
    with app.app_context():
        doctor = db.session.get(Account, demo["doctor"].id)
        assert {(m.organisation_id, m.role) for m in doctor.memberships if m.ended_at is None} == {
            (orgs["B"], "doctor")
        }
    assert login(demo["doctor"]).get("/clinic/emergency").status_code == 200


# -- isolation -------------------------------------------------------------------------------------------


@pytest.fixture
def clinic_b(app, orgs, demo):
    """Clinic B with an admin of its own and a pending invitation."""
    from portal.clinic.service import assign_role
    from portal.orgadmin import service

    with app.test_request_context():
        assign_role(None, demo["guardian"].id, orgs["B"], "org_admin")
        admin_b = db.session.get(Account, demo["guardian"].id)
        invitation = service.invite(
            admin_b, orgs["B"], service.NewInvitation("Орлова", "Вера", None, "vera@example.ru", ["nurse"])
        )
        found = {"invitation": invitation.id, "member": demo["doctor_b"].id}
        db.session.remove()
    return found


def test_another_organisations_staff_members_and_invitations_are_404(app, admin, orgs, demo, clinic_b):
    a, b = orgs["A"], orgs["B"]
    for path in (
        f"/org/{b}",
        f"/org/{b}/invitations/new",
        f"/org/{b}/invitations/{clinic_b['invitation']}",
        f"/org/{a}/invitations/{clinic_b['invitation']}",
        f"/org/{b}/members/{clinic_b['member']}",
        f"/org/{a}/members/{clinic_b['member']}",
        f"/org/{a}/members/{demo['patient'].id}",
    ):
        assert admin.get(path).status_code == 404, path
    page = f"/org/{a}"
    for path, data in (
        (f"/org/{b}/invitations/{clinic_b['invitation']}/revoke", {}),
        (f"/org/{a}/invitations/{clinic_b['invitation']}/resend", {}),
        (f"/org/{b}/members/{clinic_b['member']}/suspend", {}),
        (f"/org/{a}/members/{clinic_b['member']}/suspend", {}),
        (f"/org/{b}/members/{clinic_b['member']}/roles", {"role": "nurse"}),
        (f"/org/{b}/members/{clinic_b['member']}/roles/doctor/remove", {}),
        (f"/org/{b}/invitations/new", {**NEWCOMER, "roles": ["nurse"]}),
    ):
        assert post(admin, path, data, page=page).status_code == 404, path
    assert invitation_row(app, "vera@example.ru").status == "pending"
    with app.app_context():
        assert db.session.get(Account, demo["doctor_b"].id).roles == {"doctor"}
    assert count(app, StaffInvitation, StaffInvitation.email == "anna.belova@example.ru") == 0


@pytest.mark.parametrize("who", ["doctor", "registrar", "auditor", "patient"])
def test_other_roles_get_404(app, orgs, demo, login, who):
    client = login(demo[who])
    assert client.get("/org").status_code == 404
    assert client.get(f"/org/{orgs['A']}").status_code == 404


def test_an_admin_of_several_organisations_chooses_one(app, admin, orgs, demo, clinic_b):
    from portal.clinic.service import assign_role

    with app.test_request_context():
        assign_role(db.session.get(Account, demo["guardian"].id), demo["org_admin"].id, orgs["B"], "org_admin")
    html = admin.get("/org").get_data(as_text=True)
    assert f'href="/org/{orgs["A"]}"' in html and f'href="/org/{orgs["B"]}"' in html
    assert "vera@example.ru" in admin.get(f"/org/{orgs['B']}").get_data(as_text=True)


# -- the demo --------------------------------------------------------------------------------------------


def test_the_demo_admin_has_a_pending_invitation(app, demo, orgs):
    with app.app_context():
        pending = db.session.scalars(
            sa.select(StaffInvitation).where(
                StaffInvitation.organisation_id == orgs["A"], StaffInvitation.status == "pending"
            )
        ).all()
        assert len(pending) == 1 and pending[0].expires_at is not None


def test_a_staff_member_with_an_app_accepts_another_role_and_goes_on(app, admin, orgs, demo, login):
    invite(admin, orgs["A"], roles=["registrar"], email="doctor@example.ru", surname="Соколов", name="Дмитрий")
    doctor = login(demo["doctor"])
    doctor.get(link_of(app, "doctor@example.ru"))
    # signed in, the page offers to accept: a crafted form for a second account is refused
    assert post(doctor, "/invitation", DETAILS, page="/invitation").status_code == 400
    accepted = post(doctor, "/invitation/accept", page="/invitation")
    html = accepted.get_data(as_text=True)
    assert accepted.status_code == 200 and "Приглашение принято" in html and "регистратор" in html
    with app.app_context():
        assert db.session.get(Account, demo["doctor"].id).roles == {"doctor", "registrar"}
    assert doctor.get("/desk").status_code == 200


def test_an_admin_who_gives_up_their_admin_role_goes_home(app, admin, orgs, demo):
    from portal.clinic.service import assign_role

    with app.app_context():
        assign_role(db.session.get(Account, demo["org_admin"].id), demo["registrar"].id, orgs["A"], "org_admin")
    path = member_path(orgs, demo, "org_admin")
    assert post(admin, f"{path}/roles/org_admin/remove", page=path).headers["Location"] == "/"
    assert admin.get("/org").status_code == 404


def test_a_link_is_kept_short_in_the_session(app):
    client = app.test_client()
    client.get("/invitation/" + "x" * 3000)
    with client.session_transaction() as cookie:
        assert len(cookie["invitation_token"]) == 128


# -- the directory: a clinician invited is listed so schedules and the record can name them --------


def test_an_invited_doctor_is_listed_in_the_directory_with_what_was_typed_kept_on_errors(app, admin, orgs, demo):
    from portal.directory.models import Practitioner

    assert invite(admin, orgs["A"], roles=("doctor",)).status_code == 303
    invitee = app.test_client()
    assert accept_new(invitee, link_of(app)).status_code == 303
    with app.app_context():
        newcomer = db.session.scalar(sa.select(Account).where(Account.email == "anna.belova@example.ru"))
    path = f"/org/{orgs['A']}/members/{newcomer.id}"
    page = admin.get(path).get_data(as_text=True)
    assert "не внесён в справочник" in page and "Внести в справочник" in page
    assert page.count('value="nurse"') == 1  # the role to give; a doctor gets the doctors' specialties only

    bad = post(
        admin,
        f"{path}/directory",
        {"specialty_code": "", "position": "врач-терапевт", "registration_number": "!"},
        page=path,
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "<title>Ошибка:" in html
    assert "Выберите специальность" in html and "от 3 до 32 букв и цифр" in html
    assert 'value="врач-терапевт"' in html  # what was typed comes back
    assert count(app, Practitioner, Practitioner.account_id == newcomer.id) == 0

    mismatch = post(
        admin,
        f"{path}/directory",
        {"specialty_code": "nurse", "position": "медсестра", "registration_number": "77-7654321"},
        page=path,
    )
    assert mismatch.status_code == 400 and "Выберите специальность" in mismatch.get_data(as_text=True)

    listed = post(
        admin,
        f"{path}/directory",
        {"specialty_code": "72", "position": "врач-терапевт участковый", "registration_number": "77-7654321"},
        page=path,
    )
    assert listed.headers["Location"] == f"{path}?done=listed"
    with app.app_context():
        row = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == newcomer.id))
        assert (row.surname, row.specialty, row.specialty_code, row.organisation_id) == (
            "Белова",
            "терапевт",
            "72",
            orgs["A"],
        )
        assert row.position == "врач-терапевт участковый" and row.registration_number == "77-7654321"
    assert ("staff.directory_entry", demo["org_admin"].id, str(row.id), "терапевт") in actions(app)
    page = admin.get(listed.headers["Location"]).get_data(as_text=True)
    assert "внесён в справочник" in page and "77-7654321" in page and "Внести в справочник" not in page
    again = post(
        admin,
        f"{path}/directory",
        {"specialty_code": "72", "position": "врач", "registration_number": "77-1111111"},
        page=path,
    )
    assert again.status_code == 409 and "уже внесён в справочник" in again.get_data(as_text=True)
    assert count(app, Practitioner, Practitioner.account_id == newcomer.id) == 1


def test_only_a_doctor_or_nurse_is_listed_and_a_nurse_as_a_nurse(app, admin, orgs, demo):
    from portal.directory.models import Practitioner

    registrar = member_path(orgs, demo, "registrar")
    assert "Внести в справочник" not in admin.get(registrar).get_data(as_text=True)
    data = {"specialty_code": "nurse", "position": "медсестра", "registration_number": "77-2222222"}
    refused = post(admin, f"{registrar}/directory", data, page=registrar)
    assert refused.status_code == 400  # no specialty to choose: not a clinician here
    assert post(admin, f"{registrar}/roles", {"role": "nurse"}, page=registrar).status_code == 303
    page = admin.get(registrar).get_data(as_text=True)
    assert page.count('value="nurse"') == 1 and 'value="72"' not in page  # the nurse's title only
    assert post(admin, f"{registrar}/directory", data, page=registrar).status_code == 303
    with app.app_context():
        row = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == demo["registrar"].id))
        assert (row.specialty, row.specialty_code) == ("медицинская сестра", None)
    # another organisation's member, or a department of another organisation: 404
    assert post(admin, f"/org/{orgs['B']}/members/{demo['doctor_b'].id}/directory", data).status_code == 404
