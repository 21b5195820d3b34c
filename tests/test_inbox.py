"""Notifications: the inbox (nothing changes on GET), the header count, delivery by e-mail over a
real SMTP server in the owner's language, preferences, and reminders that repeat until done or
dismissed and are never created twice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import clock
from portal.database import db, write_transaction
from portal.notify import inbox, reminders
from portal.notify.models import Notification
from tests.conftest import csrf_token, outbox
from tests.test_notify import smtp, wait_for  # noqa: F401 - the real SMTP server fixture

BLOOD = {"title": "Общий анализ крови", "out_of_range": 2}


def tell(app, account_id: int, event: str = "result_new", **kwargs) -> int:
    """Post a notification as a feature would, inside its write transaction."""
    kwargs.setdefault("params", BLOOD if event == "result_new" else {})
    with app.test_request_context(), write_transaction():
        return inbox.post(account_id, event, **kwargs).id


def note_of(app, note_id: int) -> Notification:
    with app.app_context():
        note = db.session.get(Notification, note_id)
        db.session.expunge_all()
    return note


def unread(app, account_id: int) -> int:
    with app.app_context():
        return inbox.unread_count(account_id)


def post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client, "/notifications"), **(data or {})}, **kwargs)


def set_locale(app, account_id: int, locale: str | None) -> None:
    from portal.auth.models import Account

    with app.app_context(), write_transaction():
        db.session.get(Account, account_id).locale = locale


@pytest.fixture
def patient(app, demo, login):
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    return client


# -- the inbox -------------------------------------------------------------------------------------


def test_the_inbox_shows_newest_first_with_unread_marked_in_words(app, demo, patient):
    tell(app, demo["patient"].id, "certificate_ready", params={"title": "Справка 086/у"}, url="/cards")
    tell(app, demo["patient"].id, url="/cards")
    html = patient.get("/notifications").get_data(as_text=True)
    first = html.index("New result: Общий анализ крови, 2 values out of range")
    assert first < html.index("Certificate ready: Справка 086/у")
    assert html.count(">Unread</strong>") == 2
    assert 'Notifications <span aria-hidden="true">(2)</span>' in html
    assert '<span class="visually-hidden">: 2 unread</span>' in html


def test_looking_at_the_inbox_marks_nothing_read(app, demo, patient):
    tell(app, demo["patient"].id)
    for _ in range(2):
        assert patient.get("/notifications").status_code == 200
    assert unread(app, demo["patient"].id) == 1


def test_the_empty_inbox_says_so(patient):
    html = patient.get("/notifications").get_data(as_text=True)
    assert "You have no notifications yet" in html
    assert 'id="unread-link" href="/notifications">Notifications</a>' in html  # no count when none


def test_marking_one_read_without_javascript_returns_to_the_list(app, demo, patient):
    note = tell(app, demo["patient"].id)
    response = post(patient, f"/notifications/{note}/read")
    assert response.status_code == 303 and response.headers["Location"] == "/notifications?done=read"
    assert note_of(app, note).read_at is not None
    page = patient.get(response.headers["Location"]).get_data(as_text=True)
    assert "Marked as read." in page and ">Unread</strong>" not in page


def test_with_htmx_the_list_is_swapped_the_count_updated_and_the_change_announced(app, demo, patient):
    first, _second = tell(app, demo["patient"].id), tell(app, demo["patient"].id)
    response = post(patient, f"/notifications/{first}/read", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and not html.lstrip().startswith("<!doctype")
    assert re.search(r"<p data-announce>Marked as read.\s+1 unread notification.</p>", html)
    assert re.search(r'<a id="unread-link" href="/notifications" hx-swap-oob="true">.*\(1\)', html)
    assert f'id="note-{first}-title" tabindex="-1" data-focus' in html


def test_mark_all_read(app, demo, patient):
    for _ in range(3):
        tell(app, demo["patient"].id)
    assert post(patient, "/notifications/read-all").status_code == 303
    assert unread(app, demo["patient"].id) == 0


def test_opening_marks_read_and_leads_to_the_notifications_address(app, demo, patient):
    note = tell(app, demo["patient"].id, url="/cards")
    response = post(patient, f"/notifications/{note}/open")
    assert response.status_code == 303 and response.headers["Location"] == "/cards"
    assert note_of(app, note).read_at is not None


def test_opening_never_leads_off_the_site(app, demo, patient):
    note = tell(app, demo["patient"].id, url="https://evil.example/")
    assert post(patient, f"/notifications/{note}/open").headers["Location"] == "/notifications"


def test_someone_elses_notification_cannot_be_touched(app, demo, login):
    note = tell(app, demo["patient"].id)
    other = login(demo["guardian"])
    for action in ("read", "open", "dismissed"):
        assert post(other, f"/notifications/{note}/{action}").status_code == 404
    assert note_of(app, note).read_at is None
    assert "Общий анализ крови" not in other.get("/notifications").get_data(as_text=True)


def test_changes_need_the_csrf_token(app, demo, patient):
    note = tell(app, demo["patient"].id)
    assert patient.post(f"/notifications/{note}/read").status_code == 400
    assert note_of(app, note).read_at is None


def test_pages_of_twenty_by_key(app, demo, patient):
    ids = [tell(app, demo["patient"].id, params={"title": f"Анализ {n}"}) for n in range(25)]
    html = patient.get("/notifications").get_data(as_text=True)
    assert "Анализ 24" in html and "Анализ 5," not in html and "Анализ 4," not in html
    older = re.search(r'href="(/notifications\?before=\d+)">Older notifications', html).group(1)
    assert older.endswith(str(ids[5]))
    second = patient.get(older).get_data(as_text=True)
    assert all(f"Анализ {n}" in second for n in range(5)) and "Анализ 5" not in second
    assert "Older notifications" not in second and "Newest notifications" in second


def test_the_count_is_in_the_header_of_other_signed_in_pages(app, demo, patient):
    tell(app, demo["patient"].id)
    assert "(1)</span>" in patient.get("/cards").get_data(as_text=True)


# -- e-mail over SMTP, in the owner's language, as the owner chose -----------------------------------


def test_an_email_arrives_in_the_owners_language_without_medical_details(app_factory, demo_factory, smtp):  # noqa: F811
    controller, mailbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, BASE_URL="https://medkarta.example")
    people = demo_factory(app)
    set_locale(app, people["patient"].id, "en")
    tell(app, people["patient"].id, url="/cards")  # the request is Russian; the owner reads English
    wait_for(mailbox, 1)
    [message] = mailbox.messages
    assert message["To"] == people["patient"].email
    assert message["Subject"] == "Medkarta: A new test result is in your card"
    body = message.get_content()
    assert "Hello, Елена." in body and "https://medkarta.example/notifications" in body
    assert "Общий анализ крови" not in body and "range" not in body  # the details stay behind sign-in


def test_a_russian_owner_gets_russian(app_factory, demo_factory, smtp):  # noqa: F811
    controller, mailbox = smtp
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    people = demo_factory(app)
    with app.test_request_context(headers={"Cookie": "lang=en"}), write_transaction():
        inbox.post(people["patient"].id, "certificate_ready", params={"title": "086/у"})
    wait_for(mailbox, 1)
    assert "Здравствуйте, Елена!" in mailbox.messages[0].get_content()


def test_email_turned_off_sends_nothing_and_the_inbox_still_has_it(app, demo, patient):
    form = {f"{e}-{c}": "1" for e in inbox.EVENTS for c in ("portal", "email")}
    del form["result_new-email"]
    assert post(patient, "/notifications/settings", form).status_code == 303
    tell(app, demo["patient"].id)
    tell(app, demo["patient"].id, "certificate_ready", params={"title": "086/у"})
    assert [m.kind for m in outbox(app, demo["patient"].email)] == ["notify_certificate_ready"]
    assert unread(app, demo["patient"].id) == 2


def test_portal_turned_off_keeps_the_message_as_read(app, demo, patient):
    form = {f"{e}-{c}": "1" for e in inbox.EVENTS for c in ("portal", "email") if (e, c) != ("result_new", "portal")}
    post(patient, "/notifications/settings", form)
    note = tell(app, demo["patient"].id)
    assert note_of(app, note).read_at is not None and unread(app, demo["patient"].id) == 0


def test_defaults_are_portal_and_email_not_sms(app, demo):
    with app.app_context():
        assert inbox.preferences(demo["patient"].id, "result_new") == {"portal": True, "email": True, "sms": False}


def test_settings_page_labels_every_choice_and_explains_why_sms_is_off(app_factory, demo_factory):
    from tests.conftest import session_for

    app = app_factory(TESTING_PLUGINS=[])  # no SMS channel of any kind
    people = demo_factory(app)
    patient = app.test_client()
    session_for(app, patient, people["patient"].id)
    patient.set_cookie("lang", "en")
    html = patient.get("/notifications/settings").get_data(as_text=True)
    assert html.count("<fieldset") == len(inbox.EVENTS) and '<legend class="legend">New test results</legend>' in html
    assert '<label class="radio-label" for="result_new-email">By e-mail</label>' in html
    sms = re.search(r'<input[^>]*id="result_new-sms"[^>]*>', html).group(0)
    assert "disabled" in sms and 'aria-describedby="sms-hint"' in sms
    assert "SMS is not available" in html


def test_sms_goes_through_the_outbox_when_a_gateway_is_connected(app_factory, demo_factory, login):
    from tests.fixture_plugins import sms_gateway

    sms_gateway.SENT.clear()
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.sms_gateway"])
    people = demo_factory(app)
    client = app.test_client()
    from tests.conftest import session_for

    session_for(app, client, people["patient"].id)
    assert "disabled" not in re.search(
        r'<input[^>]*id="result_new-sms"[^>]*>', client.get("/notifications/settings").get_data(as_text=True)
    ).group(0)
    form = {"result_new-portal": "1", "result_new-sms": "1"}
    assert post(client, "/notifications/settings", form).status_code == 303
    tell(app, people["patient"].id)
    assert [m.recipient for m in sms_gateway.SENT] == [people["patient"].phone]
    assert "/notifications" in sms_gateway.SENT[0].body and "крови" not in sms_gateway.SENT[0].body


def test_the_settings_form_sets_only_declared_choices(app, demo, patient):
    post(patient, "/notifications/settings", {"result_new-portal": "1", "bogus-email": "1", "result_new-fax": "1"})
    with app.app_context():
        chosen = inbox.preferences(demo["patient"].id)
    assert chosen[("result_new", "portal")] and not chosen[("result_new", "email")]
    assert not chosen[("checkup_due", "email")] and ("bogus", "email") not in chosen


# -- reminders -------------------------------------------------------------------------------------


def run_job(app, when: datetime | None = None):
    with app.test_request_context():
        return reminders.run(when)


def open_keys(app, account_id: int, prefix: str) -> dict[str, Notification]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(Notification).where(
                Notification.account_id == account_id, Notification.subject_key.like(prefix + "%")
            )
        )
        found = {n.subject_key: n for n in rows}
        db.session.expunge_all()
    return found


def test_the_cli_runs_the_job_and_twice_creates_nothing_new(app, demo):
    first = app.test_cli_runner().invoke(args=["send-reminders"])
    assert first.exit_code == 0, first.output
    created = int(re.search(r"(\d+) created", first.output).group(1))
    assert created > 0
    second = app.test_cli_runner().invoke(args=["send-reminders"])
    assert "0 reminders repeated, 0 created" in second.output
    with app.app_context():
        keys = list(db.session.scalars(sa.select(Notification.account_id.concat(Notification.subject_key))))
    assert len(keys) == len(set(keys)) == created


def test_the_job_reads_in_batches_with_a_fixed_number_of_queries_and_is_audited(app, demo):
    """A second run (nothing new to create) costs the same number of queries for 10 accounts with
    cards as for 40: each batch reads every section once, not once per account. Its reads are
    audited once per batch, naming the cards, as a system reading."""
    from portal.audit.models import AuditEvent
    from tests import record_data
    from tests.test_htmx import recorded_statements

    def add_people(n: int, start: int) -> None:
        with app.app_context():
            for i in range(start, start + n):
                record_data.fresh_card(f"0070{i:05d}")

    def queries_of_a_second_run() -> int:
        run_job(app)
        with recorded_statements(app) as statements:
            outcome = run_job(app)
        assert outcome.created == 0
        return len(statements)

    add_people(10, 0)
    few = queries_of_a_second_run()
    add_people(30, 10)
    many = queries_of_a_second_run()
    assert many == few, f"{few} queries with 10 more accounts, {many} with 40 more"
    with app.app_context():
        reads = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "reminders.read").order_by(AuditEvent.id.desc())
        ).all()
        child = demo["child_9"].id
    assert reads and all(e.actor_role == "system" and e.actor_id is None for e in reads)
    assert f" {child}," in reads[0].reason or reads[0].reason.endswith(f" {child}")


def test_vaccinations_due_remind_the_guardian_and_end_when_recorded(app, demo):
    from portal.record import calendar
    from portal.record.models import Immunization

    child = demo["child_9"]
    run_job(app)
    with app.app_context():
        given = [
            tuple(r)
            for r in db.session.execute(
                sa.select(Immunization.target, Immunization.dose_label, Immunization.given_on).where(
                    Immunization.patient_id == child.id
                )
            )
        ]
    due = [
        i
        for i in calendar.due(child.birth_date, given, clock.today())
        if i.status in ("due", "overdue") and not i.by_indication
    ]
    assert due, "the demo child should have a vaccination due"
    found = open_keys(app, demo["guardian"].id, f"vaccination:{child.id}:")
    assert {k.split(":")[2] for k in found} == {i.code for i in due}
    assert not open_keys(app, demo["patient"].id, f"vaccination:{child.id}:")  # not her child
    item = due[0]
    key = f"vaccination:{child.id}:{item.code}:{item.due_from.isoformat()}"
    assert found[key].url == f"/card/{child.id}/vaccinations" and found[key].done_at is None
    with app.app_context(), write_transaction():
        db.session.add(
            Immunization(
                patient_id=child.id,
                vaccine="Вакцина",
                target=item.target,
                dose_label=item.dose_label,
                given_on=clock.today(),
            )
        )
    outcome = run_job(app)
    assert outcome.ended >= 1 and outcome.created == 0
    assert open_keys(app, demo["guardian"].id, key)[key].done_at is not None


def test_reminders_about_a_child_end_when_the_guardianship_ends(app, demo):
    """A parent whose guardianship ended (a court decision, the child came of age) is not told
    about that child's vaccinations again: the open reminders end and are not repeated."""
    from portal.sharing.models import Guardianship

    child, guardian = demo["child_9"], demo["guardian"]
    run_job(app)
    held = open_keys(app, guardian.id, f"vaccination:{child.id}:")
    assert held and all(n.done_at is None for n in held.values())
    with app.app_context(), write_transaction():
        db.session.execute(
            sa.update(Guardianship)
            .where(Guardianship.guardian_id == guardian.id, Guardianship.child_id == child.id)
            .values(ended_at=datetime.now(UTC))
        )
    outcome = run_job(app, datetime.now(UTC) + timedelta(days=30))  # every one of them would be due
    after = open_keys(app, guardian.id, f"vaccination:{child.id}:")
    assert outcome.ended >= len(held) and after.keys() == held.keys()
    assert all(n.done_at is not None and n.reminded_times == 0 for n in after.values())
    with app.app_context():
        repeated = set(
            db.session.scalars(
                sa.select(Notification.patient_id).where(
                    Notification.account_id == guardian.id, Notification.reminded_times > 0
                )
            )
        )
    assert outcome.repeated and child.id not in repeated  # the other children's still come


def test_a_reminder_repeats_until_dismissed(app, demo, login):
    note = tell(
        app,
        demo["patient"].id,
        "checkup_due",
        params={"patient": "Елена", "due_on": "2026-01-10"},
        subject_key="checkup:test",
        remind_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    client = login(demo["patient"])
    assert post(client, f"/notifications/{note}/read").status_code == 303
    run_job(app)
    again = note_of(app, note)
    assert again.reminded_times == 1 and again.read_at is None  # unread again
    assert [m.kind for m in outbox(app, demo["patient"].email)].count("notify_checkup_due") == 2
    run_job(app)  # not due again yet
    assert note_of(app, note).reminded_times == 1
    assert post(client, f"/notifications/{note}/dismissed").status_code == 303
    run_job(app, datetime.now(UTC) + timedelta(days=60))
    assert note_of(app, note).reminded_times == 1 and note_of(app, note).dismissed_at is not None


def test_a_reminder_marked_done_stops(app, demo, login):
    note = tell(app, demo["patient"].id, "checkup_due", params={}, subject_key="checkup:x", remind_at=datetime.now(UTC))
    client = login(demo["patient"])
    client.set_cookie("lang", "en")
    response = post(client, f"/notifications/{note}/done", headers={"HX-Request": "true"})
    assert "Marked as done. We will not remind you again." in response.get_data(as_text=True)
    run_job(app, datetime.now(UTC) + timedelta(days=60))
    assert note_of(app, note).reminded_times == 0


def test_posting_the_same_subject_again_while_open_adds_nothing(app, demo):
    first = tell(app, demo["patient"].id, "vaccination_due", subject_key="vaccination:1:x", remind_at=datetime.now(UTC))
    assert tell(app, demo["patient"].id, "vaccination_due", subject_key="vaccination:1:x") == first
    assert len(outbox(app, demo["patient"].email)) == 1


def test_checkups_due_and_prescriptions_expiring(app, demo):
    from portal.record.models import Checkup, Practitioner, Prescription

    patient_id = demo["patient"].patient_id
    today = clock.today()
    with app.app_context(), write_transaction():
        db.session.execute(sa.delete(Checkup).where(Checkup.patient_id == patient_id))  # a known history
        doctor = db.session.scalar(sa.select(Practitioner).order_by(Practitioner.id))
        org = doctor.organisation_id
        db.session.add(
            Checkup(
                patient_id=patient_id,
                year=today.year - 3,
                stage=1,
                started_on=today - timedelta(days=1100),
                organisation_id=org,
                practitioner_id=doctor.id,
                next_due_on=today - timedelta(days=5),
            )
        )
        soon = Prescription(
            patient_id=patient_id,
            number="77-1",
            issued_on=today,
            drug="Метформин",
            form="таблетки",
            dose="1",
            quantity="60",
            valid_until=today + timedelta(days=3),
            organisation_id=org,
            practitioner_id=doctor.id,
        )
        later = Prescription(
            patient_id=patient_id,
            number="77-2",
            issued_on=today,
            drug="Лозартан",
            form="таблетки",
            dose="1",
            quantity="30",
            valid_until=today + timedelta(days=30),
            organisation_id=org,
            practitioner_id=doctor.id,
        )
        db.session.add_all([soon, later])
        db.session.flush()
        soon_id, later_id = soon.id, later.id
    run_job(app)
    account = demo["patient"].id
    assert list(open_keys(app, account, "checkup:")) == [
        f"checkup:{patient_id}:{(today - timedelta(days=5)).isoformat()}"
    ]
    assert f"prescription:{soon_id}:expiring" in open_keys(app, account, "prescription:")
    assert not open_keys(app, account, f"prescription:{later_id}")
    # the check-up is done: a new one moves the next date; the old reminder ends
    with app.app_context(), write_transaction():
        db.session.add(
            Checkup(
                patient_id=patient_id,
                year=today.year,
                stage=1,
                started_on=today,
                organisation_id=org,
                practitioner_id=doctor.id,
                next_due_on=today + timedelta(days=1000),
            )
        )
    run_job(app)
    [old] = open_keys(app, account, "checkup:").values()
    assert old.done_at is not None


def test_the_inbox_shows_reminders_first_with_done_and_dismiss(app, demo, patient):
    tell(app, demo["patient"].id)
    note = tell(
        app,
        demo["patient"].id,
        "vaccination_due",
        params={"vaccine": "Корь", "vaccine_en": "Measles", "patient": "Елена", "due_on": "2026-01-01"},
        subject_key="vaccination:t",
        remind_at=datetime.now(UTC) + timedelta(days=7),
    )
    html = patient.get("/notifications").get_data(as_text=True)
    assert (
        html.index("<h2>Reminders</h2>")
        < html.index("Vaccination due: Measles")
        < html.index("<h2>All notifications</h2>")
    )
    assert f'action="/notifications/{note}/done"' in html and f'action="/notifications/{note}/dismissed"' in html
    assert "For Елена, due from January 1, 2026." in html


def test_each_event_reads_in_the_readers_language(app, demo, patient):
    who = demo["patient"].id
    tell(
        app, who, "request_status", params={"number": "С-12", "status": "ready", "note": "Готово", "note_en": "Signed"}
    )
    tell(app, who, "grant_received", params={"patient": "Елена С.", "until": "2027-01-31"})
    tell(app, who, "prescription_expiring", params={"drug": "Метформин", "valid_until": "2026-12-01"})
    tell(app, who, "certificate_ready", params={"number": "С-13"})
    html = patient.get("/notifications").get_data(as_text=True)
    assert "Request No. С-12: status ready" in html and "<p>Signed</p>" in html and "Готово" not in html
    assert "Access to a card: Елена С." in html and "You may see this card until January 31, 2027." in html
    assert "Prescription expires soon: Метформин" in html and "valid until December 1, 2026" in html
    assert "Certificate ready: request No. С-13" in html
