"""The slots plugins fill: a section of the card (governed, shared, audited, exported), the card's
actions, the profile's fields and the kinds of appointment. Each with the fixture plugin
``tests.fixture_plugins.slots_plugin`` against the demo portal."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.conftest import session_for

SLOTS = "tests.fixture_plugins.slots_plugin"
BROKEN = "tests.fixture_plugins.slots_plugin:Broken"


@pytest.fixture
def slots(app_factory, demo_factory):
    """The demo portal with the fixture plugin: (app, people, sign_in)."""
    app = app_factory(TESTING_PLUGINS=[SLOTS])
    people = demo_factory(app)

    def sign_in(key):
        client = app.test_client()
        session_for(app, client, people[key].id)
        return client

    return app, people, sign_in


def last_event(app):
    from portal.audit.models import AuditEvent
    from portal.database import db

    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        db.session.expunge_all()
    return event


def test_hook_record_sections(slots):
    app, people, sign_in = slots
    own = people["patient"].patient_id
    patient = sign_in("patient")
    card = patient.get(f"/card/{own}").get_data(as_text=True)
    sections = card.split('id="sections-heading"')[1].split("</nav>")[0]
    assert f'<a href="/card/{own}/more/growth">Growth chart</a>' in sections

    html = patient.get(f"/card/{own}/more/growth").get_data(as_text=True)
    assert "<h1>Growth chart</h1>" in html
    assert "<p>Height and weight.</p>" in html
    assert re.search(r'<th scope="row">Height</th>\s*<td>128 cm</td>', html)
    assert f"26 kg (card {own})" in html
    assert '<li aria-current="page">Growth chart</li>' in html  # the breadcrumbs end at the section
    event = last_event(app)
    assert (event.action, event.section, event.patient_id, event.outcome) == ("card.read", "growth", own, "success")

    from tests.fixture_plugins import slots_plugin

    view = slots_plugin.SEEN[-1]
    assert (view.patient_id, view.basis) == (own, "self")


def test_a_plugin_section_opens_to_the_guardian(slots):
    app, people, sign_in = slots
    child = people["child_9"].id
    html = sign_in("guardian").get(f"/card/{child}/more/growth").get_data(as_text=True)
    assert f"26 kg (card {child})" in html
    assert last_event(app).actor_role == "guardian"


def test_a_plugin_section_is_404_and_audited_for_someone_unrelated(slots):
    app, people, sign_in = slots
    own = people["patient"].patient_id
    response = sign_in("doctor_b").get(f"/card/{own}/more/growth")
    assert response.status_code == 404
    assert "128 cm" not in response.get_data(as_text=True)
    event = last_event(app)
    assert (event.section, event.outcome) == ("growth", "denied")
    assert sign_in("patient").get(f"/card/{own}/more/no_such_section").status_code == 404


def test_a_trusted_person_sees_a_plugin_section_only_when_the_grant_names_it(slots):
    app, people, sign_in = slots
    own = people["patient"].patient_id
    trusted = sign_in("trusted")
    assert trusted.get(f"/card/{own}/more/growth").status_code == 404
    event = last_event(app)
    assert (event.section, event.outcome, event.reason) == ("growth", "denied", "the grant does not include growth")
    assert "/more/growth" not in trusted.get(f"/card/{own}").get_data(as_text=True)

    from portal.database import db
    from portal.sharing.models import AccessGrant

    with app.app_context():
        grant = db.session.scalar(sa.select(AccessGrant).where(AccessGrant.patient_id == own))
        grant.sections += ",growth"
        db.session.commit()
    response = trusted.get(f"/card/{own}/more/growth")
    assert response.status_code == 200 and "128 cm" in response.get_data(as_text=True)
    assert last_event(app).actor_role == "trusted"


def test_the_sharing_form_offers_a_plugin_section(slots):
    _app, _people, sign_in = slots
    html = sign_in("patient").get("/sharing/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*value="growth"[^>]*>\s*<label[^>]*>Growth chart</label>', html)


def test_the_access_log_names_a_plugin_section_by_its_title(slots):
    _app, people, sign_in = slots
    own = people["patient"].patient_id
    clinician = sign_in("doctor")  # treats the patient: a clinician's read shows in the log
    assert clinician.get(f"/card/{own}/more/growth").status_code == 200
    log = sign_in("patient").get(f"/card/{own}/access-log").get_data(as_text=True)
    assert "«Growth chart»" in log


def test_a_deny_rule_can_name_a_plugin_section(app_factory, demo_factory):
    app = app_factory(TESTING_PLUGINS=[SLOTS, "tests.fixture_plugins.slots_plugin:NoGrowth"])
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    own = people["patient"].patient_id
    assert client.get(f"/card/{own}/more/growth").status_code == 404
    assert "/more/growth" not in client.get(f"/card/{own}").get_data(as_text=True)


def test_a_plugin_section_with_an_export_is_in_the_ips_document_and_the_pdf(slots, tmp_path):
    import json
    import subprocess

    from tests.pdf_jobs import fetch_pdf

    app, people, sign_in = slots
    own = people["patient"].patient_id
    patient = sign_in("patient")
    page = patient.get(f"/card/{own}/export").get_data(as_text=True)
    assert "Growth chart: " in page

    document = json.loads(patient.get(f"/card/{own}/export/ips.json").get_data())
    composition = document["entry"][0]["resource"]
    added = next(s for s in composition["section"] if s["title"] == "Growth chart")
    assert added["code"]["coding"][0]["code"] == "growth"
    assert "Height at the last measurement" in added["text"]["div"] and "128 cm" in added["text"]["div"]
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(document)  # still a valid FHIR Bundle with the plugin's section in it

    pdf = fetch_pdf(app, patient, f"/card/{own}/export/summary.pdf").data
    path = tmp_path / "summary.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout  # noqa: S603, S607
    words = " ".join(text.split())  # the table's cells wrap
    assert "Growth chart" in words and "Height at the last measurement" in words and "128 cm" in words


def test_a_trusted_person_exports_a_plugin_section_only_when_shared(slots):
    import json

    _app, people, sign_in = slots
    own = people["patient"].patient_id
    document = json.loads(sign_in("trusted").get(f"/card/{own}/export/ips.json").get_data())
    titles = [s["title"] for s in document["entry"][0]["resource"]["section"]]
    assert "Growth chart" not in titles


def actions_of(html: str) -> list[tuple[str, str]]:
    """The card's actions, in their order: (url, label)."""
    found = html.split('id="card-actions-heading"')[1].split("</nav>")[0]
    return re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', found)


def test_hook_card_actions(slots):
    _app, people, sign_in = slots
    own = people["patient"].patient_id
    html = sign_in("patient").get(f"/card/{own}").get_data(as_text=True)
    assert '<nav aria-labelledby="card-actions-heading" class="card-actions">' in html
    assert [url for url, _label in actions_of(html)] == [
        f"/card/{own}/export",
        f"/card/{own}/certificates",
        "/slots-fixture/diary",
    ]
    assert ("/slots-fixture/diary", "Keep a growth diary") in actions_of(html)


def test_hook_profile_fields(slots):
    _app, _people, sign_in = slots
    html = sign_in("patient").get("/profile").get_data(as_text=True)
    more = html.split('<h2 id="more">')[1].split("</dl>")[0]
    assert re.search(r'<dt>School</dt><dd>No\. 7<p class="meta">Shown to the school nurse\.</p></dd>', more)


def test_a_raising_slot_hook_drops_only_its_contribution(app_factory, demo_factory):
    app = app_factory(TESTING_PLUGINS=[BROKEN, SLOTS], PLUGINS_RAISE_ERRORS=False)
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    own = people["patient"].patient_id
    card = client.get(f"/card/{own}")
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    assert f'href="/card/{own}/more/growth"' in html
    assert ("/slots-fixture/diary", "Keep a growth diary") in actions_of(html)
    assert client.get(f"/card/{own}/more/growth").status_code == 200
    assert "<dt>School</dt>" in client.get("/profile").get_data(as_text=True)
    admin = app.test_client()
    session_for(app, admin, people["org_admin"].id)
    assert 'value="video"' in admin.get("/clinic/schedules/rules/new").get_data(as_text=True)


def test_hook_appointment_kinds(slots):
    from datetime import time

    from portal import clock
    from portal.appointments import admin, booking
    from portal.appointments.models import Slot
    from portal.auth.models import Account
    from portal.database import db
    from portal.directory.models import Practitioner

    app, people, sign_in = slots
    form = sign_in("org_admin").get("/clinic/schedules/rules/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*value="video"[^>]*>\s*<label[^>]*>Video call</label>', form)

    own = people["guardian"].patient_id  # her own card: no appointment with a therapist yet
    with app.test_request_context():
        org_admin = db.session.get(Account, people["org_admin"].id)
        doctor = db.session.scalar(sa.select(Practitioner).where(Practitioner.account_id == people["doctor"].id))
        rule = admin.NewRule(doctor.id, "1234567", time(21, 0), time(22, 0), 30, None, "video", clock.today(), None)
        _rule, made = admin.add_rule(org_admin, rule)
        assert made > 0
        with pytest.raises(admin.AdminRefused):
            admin.add_rule(org_admin, admin.NewRule(**{**rule.__dict__, "kind": "teleport"}))
        slot_id = db.session.scalar(
            sa.select(Slot.id).where(Slot.kind == "video", Slot.status == "free").order_by(Slot.starts_at).limit(1)
        )
        booked = booking.book(db.session.get(Account, people["guardian"].id), own, slot_id)
        appointment_id = booked.appointment.id
        assert booked.appointment.kind == "video"

    html = sign_in("guardian").get(f"/card/{own}/appointments/{appointment_id}").get_data(as_text=True)
    assert "<dt>Вид</dt><dd>Video call</dd>" in html
    link = f'<a href="https://video.example.org/room/{appointment_id}">Join the video call</a>'
    assert f"<dt>Как подключиться</dt><dd>{link}</dd>" in html


def test_the_database_takes_any_kind_key_but_not_an_empty_or_capitalised_one(slots):
    from datetime import timedelta

    from sqlalchemy.exc import IntegrityError

    from portal import clock
    from portal.appointments.models import Slot
    from portal.database import db
    from portal.directory.models import Practitioner

    app, _people, _sign_in = slots
    with app.app_context():
        doctor = db.session.scalar(sa.select(Practitioner).limit(1))
        start = clock.now() + timedelta(days=400)
        for number, kind in enumerate(("video", "", "Video")):
            moment = start + timedelta(hours=number)
            db.session.add(
                Slot(
                    practitioner_id=doctor.id,
                    organisation_id=doctor.organisation_id,
                    starts_at=moment,
                    ends_at=moment + timedelta(minutes=30),
                    kind=kind,
                )
            )
            if kind == "video":
                db.session.commit()
                continue
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()


def test_a_section_whose_rows_fail_says_so_and_stays_out_of_the_export(app_factory, demo_factory):
    import json

    app = app_factory(TESTING_PLUGINS=[SLOTS, "tests.fixture_plugins.slots_plugin:Flaky"], PLUGINS_RAISE_ERRORS=False)
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    own = people["patient"].patient_id
    response = client.get(f"/card/{own}/more/flaky")
    assert response.status_code == 503
    assert "<h1>Flaky section</h1>" in response.get_data(as_text=True)
    document = json.loads(client.get(f"/card/{own}/export/ips.json").get_data())
    titles = [s["title"] for s in document["entry"][0]["resource"]["section"]]
    assert "Growth chart" in titles and "Flaky section" not in titles


def test_a_section_and_a_field_drawn_by_the_plugins_templates(app_factory, demo_factory):
    app = app_factory(TESTING_PLUGINS=[SLOTS, "tests.fixture_plugins.slots_plugin:Templated"])
    people = demo_factory(app)
    client = app.test_client()
    session_for(app, client, people["patient"].id)
    own = people["patient"].patient_id
    html = client.get(f"/card/{own}/more/diary").get_data(as_text=True)
    assert "<h1>Growth diary</h1>" in html  # the core's frame
    assert "<h2>Latest measurement</h2>\n<p>Height: 128 cm (self, diary)</p>" in html
    profile = client.get("/profile").get_data(as_text=True)
    link = '<a href="/slots-fixture/diary">Change the school<span class="visually-hidden"> (School)</span></a>'
    assert link in profile
