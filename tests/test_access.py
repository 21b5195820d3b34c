"""The access policy in the situations the matrix cannot show with fixed data: time (a child
turning 15, a grant expiring, emergency access running out), consent given and revoked, and
the patient's page «Кто смотрел мою карту»."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from portal import clock
from portal.access import policy
from portal.audit.models import AuditEvent
from portal.consent.models import ConsentEvent
from portal.database import db, write_transaction
from portal.sharing.models import AccessGrant
from tests.conftest import csrf_token, outbox


def card(client, patient_id: int, suffix: str = "") -> int:
    return client.get(f"/card/{patient_id}{suffix}").status_code


def post(client, path, data=None, page="/consent/"):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


# -- guardians and the 15th birthday ---------------------------------------------------------------


def test_guardian_access_ends_on_the_15th_birthday(app, demo, login):
    child = demo["child_9"]
    born = child.birth_date
    fifteenth = policy.birthday(born, 15)  # 1 March for a child born on 29 February
    guardian = login(demo["guardian"])
    eve = datetime.combine(fifteenth - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=12)
    with time_machine.travel(eve, tick=False):
        guardian = login(demo["guardian"])
        assert card(guardian, child.id) == 200
        assert card(guardian, child.id, "/access-log") == 200
    day = datetime.combine(fifteenth, datetime.min.time(), UTC) + timedelta(hours=12)
    with time_machine.travel(day, tick=False):
        guardian = login(demo["guardian"])
        assert card(guardian, child.id) == 404
        assert card(guardian, child.id, "/access-log") == 404
        assert "Дарья" not in guardian.get("/cards").get_data(as_text=True)


def test_the_age_limit_is_a_setting(app_factory, demo_factory):
    app = app_factory(GUARDIAN_AGE_LIMIT=18)
    people = demo_factory(app)
    from tests.conftest import session_for

    client = app.test_client()
    session_for(app, client, people["guardian"].id)
    assert card(client, people["child_16"].id) == 200  # 16 is under 18 here


def test_a_birthday_on_29_february(app):
    with app.app_context():
        assert policy.birthday(date(2012, 2, 29), 15) == date(2027, 3, 1)


# -- trusted persons -----------------------------------------------------------------------------------


def test_a_trusted_person_sees_only_the_named_sections_until_the_grant_expires(app, demo, login):
    patient_id = demo["patient"].patient_id
    with app.app_context():
        from portal.auth.models import Account
        from portal.record.models import Patient

        trusted = db.session.get(Account, demo["trusted"].id)
        patient = db.session.get(Patient, patient_id)
        assert policy.decide(trusted, "read", patient, "results").allowed
        assert not policy.decide(trusted, "read", patient, "diagnoses").allowed
        assert not policy.decide(trusted, "add", patient, "results").allowed  # a view-only grant
        grant = db.session.scalar(sa.select(AccessGrant))
        expires = grant.expires_on
    client = login(demo["trusted"])
    assert card(client, patient_id) == 200
    with time_machine.travel(datetime.combine(expires + timedelta(days=1), datetime.min.time(), UTC)):
        client = login(demo["trusted"])
        assert card(client, patient_id) == 404


def test_a_revoked_grant_stops_access_on_the_next_request(app, demo, login):
    client = login(demo["trusted"])
    patient_id = demo["patient"].patient_id
    assert card(client, patient_id) == 200
    with app.app_context(), write_transaction():
        db.session.scalar(sa.select(AccessGrant)).revoked_at = datetime.now(UTC)
    assert card(client, patient_id) == 404


# -- consent ---------------------------------------------------------------------------------------------


def test_revoking_consent_blocks_everyone_else_at_once_and_can_be_given_again(app, demo, login):
    patient_id = demo["patient"].patient_id
    owner, trusted, doctor = login(demo["patient"]), login(demo["trusted"]), login(demo["doctor"])
    assert card(trusted, patient_id) == 200 and card(doctor, patient_id) == 200
    assert post(owner, "/consent/revoke").status_code == 303
    assert card(trusted, patient_id) == 404 and card(doctor, patient_id) == 404
    # Without consent the patient reaches only consent, profile and sign-out pages.
    redirected = owner.get(f"/card/{patient_id}")
    assert redirected.status_code == 303 and redirected.headers["Location"] == "/consent/"
    assert owner.get("/cards").headers["Location"] == "/consent/"
    assert owner.get("/auth/security").status_code == 200
    assert post(owner, "/consent/give").status_code == 303
    assert card(trusted, patient_id) == 200 and card(owner, patient_id) == 200
    owner.set_cookie("lang", "en")
    page = owner.get("/consent/").get_data(as_text=True)
    assert page.count("<td>withdrawn</td>") == 1 and page.count("<td>given</td>") == 2
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("consent.%"))))
    assert actions == ["consent.revoked", "consent.given"]


def test_consent_is_an_explicit_action_never_pre_ticked(app, demo, login):
    owner = login(demo["patient"])
    post(owner, "/consent/revoke")
    html = owner.get("/consent/").get_data(as_text=True)
    assert "checked" not in html
    assert re.search(r'<form method="post" action="/consent/give">', html)


def test_a_repeated_click_records_nothing(app, demo, login):
    owner = login(demo["patient"])
    post(owner, "/consent/give")  # already given by the demo data
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action.like("consent.%"))
        )
    assert count == 0


def test_an_unverified_account_is_told_why_it_sees_no_medical_data(app, demo, login):
    client = login(demo["applicant"])
    client.set_cookie("lang", "en")
    assert client.get("/cards").headers["Location"] == "/consent/"  # consent first, as for every citizen
    consent = client.get("/consent/").get_data(as_text=True)
    assert "not linked to a medical card yet" in consent
    assert post(client, "/consent/give").status_code == 303
    cards = client.get("/cards").get_data(as_text=True)
    assert "once your identity is confirmed" in cards
    assert "A registrar is checking your details" in client.get("/auth/verification").get_data(as_text=True)


def test_consent_given_before_verification_carries_over_to_the_card(app, demo, login):
    client = login(demo["applicant"])
    post(client, "/consent/give")
    registrar = login(demo["registrar"])
    with app.app_context():
        from portal.auth.models import VerificationRequest

        request_id = db.session.scalar(
            sa.select(VerificationRequest.id).where(VerificationRequest.account_id == demo["applicant"].id)
        )
    token = csrf_token(registrar, f"/clinic/verifications/{request_id}")
    assert registrar.post(f"/clinic/verifications/{request_id}/approve", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        from portal.auth.models import Account
        from portal.consent.service import has_consent

        patient_id = db.session.get(Account, demo["applicant"].id).patient_id
        assert has_consent(patient_id)
    assert card(client, patient_id) == 200


# -- clinicians and emergency access -----------------------------------------------------------------------


def emergency(client, snils, reason="Пациент без сознания, доставлен бригадой СМП", password="Zelenyi-Sad-2026!"):  # noqa: S107
    return post(
        client, "/clinic/emergency", {"snils": snils, "reason": reason, "password": password}, page="/clinic/emergency"
    )


def test_emergency_access_needs_the_password_a_reason_is_time_boxed_audited_and_told(app, demo, login):
    doctor_b = login(demo["doctor_b"])
    patient_id = demo["patient"].patient_id
    snils = demo["patient"].snils
    assert card(doctor_b, patient_id) == 404
    assert emergency(doctor_b, snils, password="wrong").status_code == 400
    assert emergency(doctor_b, snils, reason="short").status_code == 400
    response = emergency(doctor_b, snils)
    assert response.status_code == 303 and response.headers["Location"] == f"/card/{patient_id}"
    page = doctor_b.get(f"/card/{patient_id}")
    assert page.status_code == 200
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "access.emergency",
                AuditEvent.outcome == "success",
                AuditEvent.actor_id == demo["doctor_b"].id,
            )
        )
        read = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.reason.startswith("Пациент без сознания") and read.actor_role == "emergency"
    told = [m for m in outbox(app, demo["patient"].email) if m.kind == "security_alert"]
    assert told and "Пациент без сознания" not in told[-1].body
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61)):
        doctor_b = login(demo["doctor_b"])
        assert card(doctor_b, patient_id) == 404


def test_a_patient_sees_the_emergency_access_and_its_reason(app, demo, login):
    emergency(login(demo["doctor_b"]), demo["patient"].snils)
    login(demo["doctor_b"]).get(f"/card/{demo['patient'].patient_id}")
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    html = owner.get(f"/card/{demo['patient'].patient_id}/access-log").get_data(as_text=True)
    assert "Волков Сергей Николаевич, emergency access" in html
    assert "Пациент без сознания" in html


def test_registrar_and_other_staff_roles_never_see_medical_data(app, demo):
    with app.app_context():
        from portal.auth.models import Account
        from portal.record.models import Patient

        patient = db.session.get(Patient, demo["patient"].patient_id)
        for key in ("registrar", "org_admin", "auditor"):
            decision = policy.decide(db.session.get(Account, demo[key].id), "read", patient, "summary")
            assert not decision.allowed and decision.reason == "this staff role does not see medical data"


def test_every_decision_has_a_reason(app, demo):
    with app.app_context():
        from portal.auth.models import Account
        from portal.record.models import Patient

        patients = list(db.session.scalars(sa.select(Patient)))
        accounts = list(db.session.scalars(sa.select(Account)))
        for account in accounts:
            for patient in patients[:5] + patients[-5:]:
                for section in ("summary", "results", "access_log"):
                    assert policy.decide(account, "read", patient, section).reason


def test_a_nurse_may_not_write(app, demo):
    with app.app_context():
        from portal.auth.models import Account
        from portal.record.models import Patient

        nurse = db.session.get(Account, demo["nurse"].id)
        patient = db.session.get(Patient, demo["patient"].patient_id)
        assert policy.decide(nurse, "add", patient, "vaccinations").allowed
        assert not policy.decide(nurse, "write", patient, "diagnoses").allowed


# -- «Кто смотрел мою карту» --------------------------------------------------------------------------------


def test_the_access_log_lists_who_opened_the_card_in_plain_language(app, demo, login):
    patient_id = demo["patient"].patient_id
    login(demo["doctor"]).get(f"/card/{patient_id}")
    login(demo["trusted"]).get(f"/card/{patient_id}")
    login(demo["doctor_b"]).get(f"/card/{patient_id}")  # refused, and shown as refused
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    html = owner.get(f"/card/{patient_id}/access-log").get_data(as_text=True)
    assert "Соколов Дмитрий Александрович, clinician" in html
    assert "Павлова Ольга Сергеевна, trusted person" in html
    assert "tried to open, refused" in html
    others = owner.get(f"/card/{patient_id}/access-log?who=others").get_data(as_text=True)
    assert "<td>You</td>" not in others and "<td>You</td>" in owner.get(f"/card/{patient_id}/access-log").get_data(
        as_text=True
    )


def test_the_access_log_pages_by_key_and_filters_by_period(app, demo, login):
    patient_id = demo["patient"].patient_id
    doctor = login(demo["doctor"])
    for _ in range(25):
        doctor.get(f"/card/{patient_id}/diagnoses")  # one read each (the dashboard audits its cards too)
    owner = login(demo["patient"])
    first = owner.get(f"/card/{patient_id}/access-log?who=others").get_data(as_text=True)
    assert first.count('<th scope="row">') == 20
    next_url = re.search(r'href="(/card/\d+/access-log\?[^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = owner.get(next_url).get_data(as_text=True)
    assert second.count('<th scope="row">') == 5
    tomorrow = (clock.today() + timedelta(days=1)).strftime("%d.%m.%Y")
    future = owner.get(f"/card/{patient_id}/access-log?since={tomorrow}").get_data(as_text=True)
    assert future.count('<th scope="row">') == 0
    bad = owner.get(f"/card/{patient_id}/access-log?since=31.31.2026")
    assert bad.status_code == 400


def test_the_access_log_fragment_for_htmx(app, demo, login):
    owner = login(demo["patient"])
    response = owner.get(f"/card/{demo['patient'].patient_id}/access-log", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="entries"') and "<form" not in html


def test_the_access_log_costs_the_same_queries_for_a_short_and_a_long_history(app, demo, login):
    from tests.test_htmx import count_queries

    patient_id = demo["patient"].patient_id
    owner = login(demo["patient"])
    doctor = login(demo["doctor"])
    doctor.get(f"/card/{patient_id}")
    small = count_queries(app, owner, f"/card/{patient_id}/access-log")
    for _ in range(60):
        doctor.get(f"/card/{patient_id}")
    assert count_queries(app, owner, f"/card/{patient_id}/access-log") == small


@pytest.mark.parametrize("who", ["guardian"])
def test_a_guardian_sees_the_childs_access_log(app, demo, login, who):
    child = demo["child_9"]
    login(demo["doctor"]).get(f"/card/{child.id}")
    guardian = login(demo[who])
    guardian.set_cookie("lang", "en")
    html = guardian.get(f"/card/{child.id}/access-log").get_data(as_text=True)
    assert "Соколов Дмитрий Александрович, clinician" in html
    # Whose log it is: the banner and the title name the child's card, the breadcrumbs lead to it.
    assert re.search(
        r'class="card-banner".*?<strong>' + child.surname + " " + child.name + r", \d+ years</strong>", html, re.S
    )
    assert f"<title>Who opened my card — {child.surname} {child.name} — Medkarta</title>" in html
    assert f'href="/card/{child.id}"' in html


def test_the_patient_is_told_in_their_own_language_whatever_the_clinicians(app, demo, login):
    doctor_b = login(demo["doctor_b"])
    doctor_b.set_cookie("lang", "en")
    emergency(doctor_b, demo["patient"].snils)
    told = [m for m in outbox(app, demo["patient"].email) if m.kind == "security_alert"][-1]
    assert told.subject == "Медкарта: уведомление о безопасности"
    assert "экстренного доступа" in told.body and "emergency" not in told.body


# -- a registrar, through a citizen's request only (policy.decide_request) -------------------------


REGISTRAR_CASES = [
    # (case, the card, who filed the request, action, section, allowed, reason)
    ("her clinic's patient", "patient", "patient", "read", "allergies", True, "registrar resolving"),
    ("corrects an entry", "patient", "patient", "write", "allergies", True, "registrar resolving"),
    ("a certificate from the card", "patient", "patient", "read", "certificates", True, "registrar resolving"),
    ("never exports", "patient", "patient", "export", "allergies", False, "may not export"),
    ("never the access log", "patient", "patient", "read", "access_log", False, "only the patient"),
    ("another clinic's patient", "trusted", "trusted", "read", "allergies", False, "attached to another clinic"),
    ("a patient attached nowhere", "unattached", "unattached", "read", "allergies", True, "registrar resolving"),
    ("her own card", "registrar", "registrar", "read", "allergies", False, "their own or their family's"),
    ("a request she filed", "patient", "registrar", "read", "allergies", False, "their own or their family's"),
    ("her child's card", "child_9", "guardian", "read", "allergies", False, "their own or their family's"),
    ("a closed card", "closed", "closed", "read", "allergies", False, "the card is closed"),
    ("a card without consent", "unconsented", "unconsented", "read", "allergies", False, "not given consent"),
    ("a decided request", "patient", "patient", "read", "allergies", False, "the request is decided"),
]


@pytest.mark.parametrize(
    ("card_key", "filer", "action", "section", "allowed", "reason"),
    [case[1:] for case in REGISTRAR_CASES],
    ids=[case[0] for case in REGISTRAR_CASES],
)
def test_a_registrar_reaches_a_card_only_through_a_request(
    app, demo, card_key, filer, action, section, allowed, reason
):
    from portal.auth.models import Account
    from portal.record.models import Patient
    from portal.sharing.models import Guardianship

    with app.app_context(), write_transaction():
        registrar = db.session.get(Account, demo["registrar"].id)
        if card_key in ("unattached", "closed", "unconsented"):
            patient = Patient(surname="Тестова", name="Вера", sex="F", birth_date=date(1980, 1, 1), snils="00500000101")
            patient.closed_at = datetime.now(UTC) if card_key == "closed" else None
            db.session.add(patient)
            db.session.flush()
            filed_by = None
            if card_key != "unconsented":  # her consent, as a card's owner gives it
                db.session.add(
                    ConsentEvent(
                        patient_id=patient.id,
                        account_id=registrar.id,
                        action="given",
                        text_version="v1",
                        created_at=datetime.now(UTC),
                    )
                )
                db.session.flush()
        else:
            patient = db.session.get(Patient, demo[card_key].id if card_key == "child_9" else demo[card_key].patient_id)
            filed_by = demo[filer].id
        if card_key == "child_9":  # the registrar is the mother of the child the request is about
            db.session.add(
                Guardianship(
                    guardian_id=registrar.id,
                    child_id=patient.id,
                    basis="Свидетельство о рождении",
                    started_on=clock.today(),
                    verified_at=datetime.now(UTC),
                )
            )
            db.session.flush()
            filed_by = demo["guardian"].id  # the father filed it
        decision = policy.decide_request(
            registrar, action, patient, section, filed_by, request_open="decided" not in reason
        )
        assert decision.allowed is allowed and reason in decision.reason
        assert decision.conflict is ("their own or their family's" in reason)
        if allowed:
            assert decision.basis == "registrar" and decision.organisation_id is not None
        if card_key not in ("registrar", "child_9"):
            # Outside a request she is staff without clinical work: the card stays closed to her.
            assert not policy.decide(registrar, "read", patient, "allergies").allowed
        # A doctor is not a registrar, whatever the request.
        doctor = db.session.get(Account, demo["doctor"].id)
        assert policy.decide_request(doctor, "read", patient, section, filed_by).reason in (
            "not a registrar",
            f"a registrar may not {action} {section}",
            "only the patient and their guardian see who opened the card",
        )


def test_a_registrar_of_another_clinic_gets_404_for_a_correction_and_nothing_is_read(app, demo, login):
    """The demo's error report is about Smirnova, attached to clinic A. Once she moves to another
    clinic, clinic A's registrar neither lists nor opens it: nothing is read, the refusal is audited."""
    from portal.corrections.models import CorrectionRequest
    from portal.directory.models import Organisation
    from portal.record.models import ClinicAttachment

    with app.app_context(), write_transaction():
        row = db.session.scalar(sa.select(CorrectionRequest).order_by(CorrectionRequest.id).limit(1))
        other = db.session.scalar(
            sa.select(Organisation.id).where(Organisation.kind != "pharmacy").order_by(Organisation.id.desc()).limit(1)
        )
        for attachment in db.session.scalars(
            sa.select(ClinicAttachment).where(ClinicAttachment.patient_id == row.patient_id)
        ):
            attachment.until = clock.today() - timedelta(days=1)
        db.session.add(ClinicAttachment(patient_id=row.patient_id, organisation_id=other, since=clock.today()))
        request_id, number = row.id, row.number
    registrar = login(demo["registrar"])
    assert number not in registrar.get("/clinic/corrections").get_data(as_text=True)
    assert registrar.get(f"/clinic/corrections/{request_id}").status_code == 404
    with app.app_context():
        reads = db.session.scalars(
            sa.select(AuditEvent.outcome).where(
                AuditEvent.actor_id == demo["registrar"].id, AuditEvent.action == "card.read"
            )
        ).all()
        assert reads == ["denied"]  # nothing is read, and the refusal is audited


@pytest.mark.parametrize(
    ("who", "card_key", "allowed", "reason"),
    [
        ("patient", "patient", True, "own card"),  # hers (she reopens it from the consent page)
        ("guardian", "child_9", True, "guardian of a child under 15"),
        ("guardian", "child_16", False, "15 or older"),  # the card is the child's own now
        ("trusted", "child_9", False, "no relationship"),
        ("doctor", "child_9", False, "no relationship"),  # a clinician never gives a family's consent
    ],
)
def test_who_may_reopen_a_card_closed_by_an_opt_out(app, demo, who, card_key, allowed, reason):
    from portal.auth.models import Account
    from portal.record.models import Patient

    with app.app_context(), write_transaction():
        patient_id = demo[card_key].patient_id if card_key == "patient" else demo[card_key].id
        patient = db.session.get(Patient, patient_id)
        account = db.session.get(Account, demo[who].id)
        assert not policy.decide_rejoin(account, patient).allowed  # an open card has nothing to reopen
        patient.closed_at = datetime.now(UTC)
        decision = policy.decide_rejoin(account, patient)
        assert decision.allowed is allowed and reason in decision.reason, decision.reason
