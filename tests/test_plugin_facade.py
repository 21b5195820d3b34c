"""The plugin facade for personal pages: guards, the account, reading and writing the card through
the policy and the intake, messages and audit events; and the portal's protections on a plugin's
routes. The fixture plugin ``tests/fixture_plugins/personal.py`` uses ``portal.plugin_api`` only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.config import ROOT
from tests.conftest import csrf_token, outbox

PERSONAL = "tests.fixture_plugins.personal"
PLUGINS = ["tests.fixture_plugins.sms_gateway", PERSONAL]


@pytest.fixture
def app(app_factory):
    return app_factory(TESTING_PLUGINS=PLUGINS)


def events(app, action: str, **where) -> list:
    from portal.audit.models import AuditEvent
    from portal.database import db

    with app.app_context():
        query = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
    return rows


def own_card(demo) -> int:
    return demo["patient"].patient_id


def post(client, path: str, data: dict | None = None):
    """A POST with the session's CSRF token, read from a plugin page as a browser would."""
    return client.post(path, data={"csrf_token": csrf_token(client, "/personal/me"), **(data or {})})


# -- guards and the account -----------------------------------------------------------------------


def test_a_personal_page_shows_the_signed_in_account_as_a_read_only_view(app, demo, login):
    client = login(demo["patient"])
    response = client.get("/personal/me")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<dd>Смирнова Елена Викторовна</dd>" in html and "<dd>ru</dd>" in html
    with app.test_request_context("/"):
        from flask import g

        from portal.auth.models import Account
        from portal.database import db
        from portal.plugin_api import AccountView, current_account

        assert current_account() is None  # a public page: nobody signed in
        g.account = db.session.get(Account, demo["doctor"].id)
        view = current_account()
        assert isinstance(view, AccountView) and view.roles == frozenset({"doctor"}) and view.is_staff
        with pytest.raises(AttributeError):
            view.id = 1  # frozen: a plugin cannot change the account through it
        assert not hasattr(view, "password_hash") and not hasattr(view, "email")


@pytest.mark.parametrize("path", ["/personal/me", "/personal/card/{card}/results"])
def test_anonymous_and_half_signed_in_visitors_are_sent_to_sign_in(app, demo, login, path):
    path = path.format(card=own_card(demo))
    for client in (app.test_client(), login(demo["patient"], stage="password")):
        response = client.get(path)
        assert response.status_code == 303 and response.location.startswith("/auth/sign-in")
    assert login(demo["patient"], stage="enrol").get(path).location == "/auth/enrol"


def test_an_idle_session_is_sent_to_sign_in(app, demo, login):
    from portal.auth.models import ServerSession
    from portal.database import db, write_transaction

    client = login(demo["patient"])
    assert client.get("/personal/me").status_code == 200
    with app.app_context(), write_transaction():
        for row in db.session.scalars(sa.select(ServerSession).where(ServerSession.ended_at.is_(None))):
            row.last_seen_at -= timedelta(days=1)
    response = client.get("/personal/me")
    assert response.status_code == 303 and response.location.startswith("/auth/sign-in")


def test_a_staff_guard_admits_its_roles_only(app, demo, login):
    assert login(demo["doctor"]).get("/personal/staff").status_code == 200
    for key in ("patient", "nurse", "registrar"):
        assert login(demo[key]).get("/personal/staff").status_code == 404, key


def test_a_plugin_page_carries_the_security_headers_of_a_core_page_and_is_not_cached(app, demo, login):
    from portal.security import HEADERS

    client = login(demo["patient"])
    plugin = client.get(f"/personal/card/{own_card(demo)}/results")
    core = client.get(f"/card/{own_card(demo)}/results")
    assert plugin.status_code == core.status_code == 200
    for name in HEADERS:
        assert plugin.headers[name] == core.headers[name], name
    assert plugin.headers["Cache-Control"] == core.headers["Cache-Control"] == "no-store"
    assert "'unsafe-inline'" not in plugin.headers["Content-Security-Policy"]


def test_a_plugin_post_without_the_csrf_token_is_refused_like_a_core_one(app, demo, login):
    doctor = login(demo["doctor"])
    card = own_card(demo)
    refused = doctor.post(f"/personal/card/{card}/consultation", data={"conclusion": "Здоров."})
    assert refused.status_code == 400
    core = doctor.post("/settings/language", data={"language": "en"})
    assert core.status_code == 400
    assert events(app, "card.write", patient_id=card) == []


def test_a_rate_limited_plugin_route_answers_429_over_its_limit(app_factory, demo_factory):
    from tests.conftest import session_for

    app = app_factory(TESTING_PLUGINS=PLUGINS, RATELIMIT_ENABLED=True)
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    statuses = [post(client, "/personal/me/ping").status_code for _ in range(3)]
    assert statuses == [303, 303, 429]


# -- reading the card through the policy ----------------------------------------------------------


def read(client, card: int, section: str):
    return client.get(f"/personal/card/{card}/read/{section}")


SECTION_TYPES = {
    "visits": "VisitEntry",
    "diagnoses": "DiagnosisEntry",
    "results": "ResultEntry",
    "vaccinations": "VaccinationEntry",
    "prescriptions": "PrescriptionEntry",
}


def test_the_patient_reads_every_section_of_their_card_as_frozen_views(app, demo, login):
    card = own_card(demo)
    client = login(demo["patient"])
    for section, kind in SECTION_TYPES.items():
        found = read(client, card, section).json
        assert found["entries"], section
        assert {e["type"] for e in found["entries"]} == {kind}
        assert found["summary"]["full_name"] == "Смирнова Елена Викторовна"
        assert found["summary"]["basis"] == "self" and found["summary"]["age"] == 38
    with app.test_request_context("/"):
        from dataclasses import FrozenInstanceError

        from portal.plugin_api import VisitEntry

        entry = VisitEntry(1, None, "clinic", "A", "B", "C")
        with pytest.raises(FrozenInstanceError):
            entry.kind = "home"


def test_a_page_of_a_section_is_paginated_by_key_as_the_core_lists_it(app, demo, login):
    card = own_card(demo)
    client = login(demo["patient"])
    first = client.get(f"/personal/card/{card}/read/visits?limit=2").json
    assert len(first["entries"]) == 2 and first["next_after"]
    core = client.get(f"/card/{card}/visits").get_data(as_text=True)
    assert f"/card/{card}/visits/{first['entries'][0]['id']}" in core


def test_each_plugin_read_is_audited_as_the_core_page_read_is(app, demo, login):
    card = own_card(demo)
    client = login(demo["patient"])
    before = len(events(app, "card.read", patient_id=card, section="results"))
    assert client.get(f"/card/{card}/results").status_code == 200
    core = events(app, "card.read", patient_id=card, section="results")[before:]
    assert client.get(f"/personal/card/{card}/results").status_code == 200
    plugin = events(app, "card.read", patient_id=card, section="results")[before + len(core) :]
    # One event each: the guard's decision and the plugin's read of the same section are one access.
    assert len(core) == len(plugin) == 1
    assert (plugin[0].actor_id, plugin[0].actor_role, plugin[0].outcome) == (demo["patient"].id, "self", "success")
    assert "Тиреотропный гормон" in client.get(f"/personal/card/{card}/results").get_data(as_text=True)


@pytest.mark.parametrize(
    ("reader", "basis"),
    [("patient", "self"), ("guardian", "guardian"), ("trusted", "trusted"), ("doctor", "clinician")],
)
def test_the_policy_decides_who_reads_through_a_plugin(app, demo, login, reader, basis):
    card = demo["child_9"].id if reader == "guardian" else own_card(demo)
    client = login(demo[reader])
    found = read(client, card, "results")
    assert found.status_code == 200 and found.json["summary"]["basis"] == basis
    assert events(app, "card.read", patient_id=card, section="results", actor_id=demo[reader].id)[-1].outcome == (
        "success"
    )


def test_a_trusted_person_reads_only_the_sections_the_grant_names(app, demo, login):
    card = own_card(demo)
    trusted = login(demo["trusted"])
    assert read(trusted, card, "prescriptions").status_code == 200
    refused = read(trusted, card, "visits")
    assert refused.status_code == 404 and "Соколов" not in refused.get_data(as_text=True)
    [denial] = events(app, "card.read", patient_id=card, section="visits", actor_id=demo["trusted"].id)
    assert denial.outcome == "denied" and "grant does not include visits" in denial.reason


@pytest.mark.parametrize("path", ["/personal/card/{card}/results", "/personal/card/{card}/read/results"])
def test_an_unrelated_citizen_gets_the_core_404_and_the_denial_is_audited(app, demo, login, path):
    card = own_card(demo)
    stranger = login(demo["guardian"])  # a citizen with cards of his own, not this one
    refused = stranger.get(path.format(card=card))
    core = stranger.get(f"/card/{card}/results")
    assert refused.status_code == core.status_code == 404
    # Nothing tells them apart but the address the page's «stay signed in» form returns to.
    assert without_return_address(refused) == without_return_address(core)
    denials = events(app, "card.read", patient_id=card, actor_id=demo["guardian"].id)
    assert [e.outcome for e in denials] == ["denied", "denied"]
    assert denials[0].reason == denials[1].reason == "no relationship with this patient"


def without_return_address(response) -> str:
    return re.sub(r'name="next" value="[^"]*"', "", response.get_data(as_text=True))


def test_a_card_that_does_not_exist_answers_as_a_refused_one(app, demo, login):
    client = login(demo["patient"])
    assert client.get("/personal/card/999999/read/results").status_code == 404


def test_an_entry_is_read_with_its_details(app, demo, login):
    card = own_card(demo)
    client = login(demo["patient"])
    visit = read(client, card, "visits").json["entries"][0]
    protocol = client.get(f"/personal/card/{card}/entry/visits/{visit['id']}").json
    assert protocol["type"] == "VisitProtocol" and protocol["id"] == visit["id"] and "conclusion" in protocol
    [event] = events(app, "card.read", patient_id=card, section="visits", object_id=str(visit["id"]))
    assert event.object_type == "visits"
    result = read(client, card, "results").json["entries"][0]
    report = client.get(f"/personal/card/{card}/entry/results/{result['id']}").json
    assert report["type"] == "ResultReport" and report["observations"]
    assert report["observations"][0]["name"] and "value" in report["observations"][0]
    child_visit = read(login(demo["guardian"]), demo["child_9"].id, "visits").json["entries"][0]["id"]
    assert client.get(f"/personal/card/{card}/entry/visits/{child_visit}").status_code == 404  # another card's


def test_measurements_are_read_as_the_core_trend_reads_them(app, demo, login):
    card = own_card(demo)
    doctor = login(demo["doctor"])
    assert post(doctor, f"/personal/card/{card}/vitals", {"systolic": "150", "diastolic": "95"}).status_code == 200
    listed = read(doctor, card, "measurements").json["entries"]
    assert [e["kind"] for e in listed] == ["vitals"] and listed[0]["flagged"] == 2
    series = doctor.get(f"/personal/card/{card}/trend/8480-6").json
    last = series["points"][-1]
    assert series["unit"] == "mm[Hg]" and (last["value"], last["flag"]) == (150, "high")
    assert events(app, "card.read", patient_id=card, object_type="trend", object_id="8480-6")
    assert doctor.get(f"/personal/card/{card}/trend/0000-0").json is None


def test_a_failing_decision_hook_denies_a_plugins_read(app_factory, demo_factory):
    from tests.conftest import session_for

    app = app_factory(TESTING_PLUGINS=[*PLUGINS, "tests.fixture_plugins.deny_rules:Broken"])
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    assert client.get(f"/personal/card/{people['patient'].patient_id}/read/results").status_code == 404
    [denial] = events(app, "card.read", patient_id=people["patient"].patient_id)
    assert denial.outcome == "denied" and "deny_rules:Broken failed" in denial.reason


def test_a_deny_rule_applies_to_plugin_reads_as_to_core_ones(app_factory, demo_factory):
    from tests.conftest import session_for

    app = app_factory(TESTING_PLUGINS=[*PLUGINS, "tests.fixture_plugins.deny_rules:NoAccessLog"])
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    assert client.get(f"/personal/card/{people['patient'].patient_id}/read/results").status_code == 200


# -- writing through the intake -------------------------------------------------------------------


def test_a_doctor_writes_a_consultations_conclusion_and_the_card_holders_are_told(app, demo, login):
    card = own_card(demo)
    patient = demo["patient"]
    sent_before = len(outbox(app, patient.email))
    doctor = login(demo["doctor"])
    written = post(
        doctor, f"/personal/card/{card}/consultation", {"conclusion": "Давление под контролем.", "diagnosis": "1"}
    )
    assert written.status_code == 200
    visit = written.json
    assert visit["kind"] == "telemedicine" and visit["conclusion"] == "Давление под контролем."
    # In the card, as the core shows it, with its diagnosis.
    page = login(patient).get(f"/card/{card}/visits/{visit['id']}").get_data(as_text=True)
    assert "Давление под контролем." in page and "I10" in page
    [write] = events(app, "card.write", patient_id=card, section="visits", object_id=str(visit["id"]))
    assert (write.actor_id, write.actor_role) == (demo["doctor"].id, "clinician")
    assert events(app, "card.write", patient_id=card, section="diagnoses")
    [own] = events(app, "plugin.personal.consulted", patient_id=card)
    assert own.object_id == str(visit["id"]) and own.actor_role == "clinician"
    # Told as the core's protocols are: the inbox, and e-mail by default.
    inbox = login(patient).get("/notifications").get_data(as_text=True)
    assert "Протокол приёма" in inbox
    mail = outbox(app, patient.email)[sent_before:]
    assert [m.kind for m in mail] == ["notify_visit_protocol"] and "Давление" not in mail[0].body


@pytest.mark.parametrize("writer", ["patient", "trusted", "nurse", "doctor_b"])
def test_nobody_else_writes_into_the_card_through_a_plugin(app, demo, login, writer):
    card = own_card(demo)
    client = login(demo[writer])
    refused = post(client, f"/personal/card/{card}/consultation", {"conclusion": "Подделка."})
    assert refused.status_code == 404
    assert post(client, f"/personal/card/{card}/vitals", {"systolic": "120", "diastolic": "80"}).status_code == 404
    assert "Подделка." not in login(demo["patient"]).get(f"/card/{card}/visits").get_data(as_text=True)
    denials = events(app, "card.write", patient_id=card, actor_id=demo[writer].id)
    assert denials and {e.outcome for e in denials} == {"denied"}
    assert events(app, "plugin.personal.consulted") == []


def test_measurements_written_by_a_plugin_are_flagged_and_told_as_results(app, demo, login):
    card = own_card(demo)
    patient = demo["patient"]
    sent_before = len(outbox(app, patient.email))
    doctor = login(demo["doctor"])
    report = post(doctor, f"/personal/card/{card}/vitals", {"systolic": "120", "diastolic": "95"}).json
    assert report["kind"] == "vitals" and report["flagged"] == 1
    [write] = events(app, "card.write", patient_id=card, section="results", object_id=str(report["id"]))
    assert write.actor_role == "clinician"
    assert [m.kind for m in outbox(app, patient.email)[sent_before:]] == ["notify_result_new"]
    assert report["id"] in {e["id"] for e in read(login(patient), card, "results").json["entries"]}


# -- messages and audit events --------------------------------------------------------------------


def test_a_plugin_tells_a_person_by_the_channels_they_chose(app, demo, login):
    from portal.database import write_transaction
    from portal.notify import inbox

    patient = demo["patient"]
    client = login(patient)
    sent_before = len(outbox(app, patient.email))
    assert post(client, "/personal/me/ping").status_code == 303
    [mail] = outbox(app, patient.email)[sent_before:]
    assert mail.kind == "notify_service_message" and "Tomorrow" not in mail.body  # no details outside
    page = client.get("/notifications").get_data(as_text=True)
    assert "Your consultation is booked" in page and "Tomorrow at 10:00." in page
    [event] = events(app, "plugin.personal.pinged")
    assert (event.actor_id, event.actor_role, event.reason) == (patient.id, "self", "a test message")
    # Off by e-mail: the inbox still gets it, the outbox does not.
    with app.app_context(), write_transaction():
        chosen = {(e, c) for (e, c), on in inbox.preferences(patient.id).items() if on}
        inbox.save_preferences(patient.id, chosen - {("service_message", "email")}, ("portal", "email"))
    assert post(client, "/personal/me/ping").status_code == 303
    assert len(outbox(app, patient.email)) == sent_before + 1
    assert client.get("/notifications").get_data(as_text=True).count("Your consultation is booked") == 2


def test_a_plugins_events_are_named_for_the_auditor(app):
    from flask_babel import force_locale

    from portal.auditor.kinds import action_label

    with app.test_request_context("/"), force_locale("en"):
        assert action_label("plugin.personal.pinged") == "Plugins: events of the regional services"


def test_notify_stores_lazy_text_in_every_language(app, demo):
    import json

    from flask_babel import lazy_gettext

    from portal.database import db
    from portal.notify.models import Notification
    from portal.plugin_api import notify

    with app.test_request_context("/"):
        title = lazy_gettext("Messages from the portal's regional services")
        notify(demo["patient"].id, plugin="personal", title=title, body="")
        note = db.session.scalar(sa.select(Notification).order_by(Notification.id.desc()).limit(1))
        assert json.loads(note.params)["title"] == {
            "ru": "Сообщения региональных сервисов портала",
            "en": "Messages from the portal's regional services",
        }
        with pytest.raises(ValueError, match="plugin name"):
            notify(demo["patient"].id, plugin="Not A Name", title="x")


# -- the contract ---------------------------------------------------------------------------------


def test_every_facade_name_is_exported():
    import portal.plugin_api as api
    from portal.plugin_api import card, personal

    public = {
        name
        for module in (card, personal)
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) in (module.__name__, "portal.record.intake", "portal.access")
        and name not in ("F", "open_for_plugin")
    }
    assert public - set(api.__all__) == set()
    assert all(hasattr(api, name) for name in api.__all__)


def test_the_personal_fixture_plugin_imports_only_the_facade():
    from tests.test_plugins import _portal_imports

    assert _portal_imports(ROOT / "tests" / "fixture_plugins" / "personal.py") == {"portal.plugin_api"}


def test_notify_card_holders_tells_a_childs_guardian(app, demo, login):
    from portal.plugin_api import notify_card_holders

    child = demo["child_9"].id
    with app.test_request_context("/"):
        holders = notify_card_holders(child, plugin="personal", title="The school nurse's note is ready")
    assert holders == [demo["guardian"].id]
    assert "The school nurse&#39;s note is ready" in login(demo["guardian"]).get("/notifications").get_data(
        as_text=True
    )


def test_a_guard_naming_an_unknown_section_or_role_fails_at_import():
    from portal.plugin_api import card_guard, staff_guard

    with pytest.raises(ValueError, match="unknown section or action"):
        card_guard(section="secrets")
    with pytest.raises(ValueError, match="unknown section or action"):
        card_guard(section="results", action="delete")
    with pytest.raises(ValueError, match="at least one role"):
        staff_guard()
