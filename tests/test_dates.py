"""One «today» for the whole portal: the calendar day in the portal's time zone (Moscow).

Between 21:00 and 24:00 UTC it is already the next day in Moscow. Every date rule (a guardian's
access ending on the child's 15th birthday, a grant's last day, reminders, the access log's
period) and every date shown or printed (a certificate's page, its PDF and the public check)
must agree with the clock on a Moscow wall at that hour. Russian dates must not end a sentence
with a doubled full stop («7 декабря 2026 г..»).
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from portal import clock
from portal.access import policy
from portal.certificates.models import CertificateRequest
from portal.database import db, write_transaction
from portal.record.models import Document
from portal.sharing.models import AccessGrant
from tests.pdf_jobs import fetch_pdf, run_jobs
from tests.test_certificates import ordered, record, registrar_step, requests_of  # noqa: F401 - the fixture

MOSCOW = ZoneInfo("Europe/Moscow")
MONTHS = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]


def msk(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment given as a Moscow wall clock shows it, in UTC: time_machine would also switch the
    process's own time zone for a ZoneInfo moment, and the server's zone must play no part."""
    return datetime.combine(day, time(hour, minute), MOSCOW).astimezone(UTC)


def moscow_today() -> date:
    return datetime.now(MOSCOW).date()


def in_words(day: date) -> str:
    """«8 декабря 2026»: the day as a Russian page or document writes it in full."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def card(client, patient_id: int, suffix: str = "") -> int:
    return client.get(f"/card/{patient_id}{suffix}").status_code


# -- the clock -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hour, minute", [(21, 0), (21, 30), (23, 59)])
def test_late_evening_utc_is_already_tomorrow_in_moscow(app, hour, minute):
    utc_day = date(2026, 12, 6)
    with (
        time_machine.travel(datetime(2026, 12, 6, hour, minute, tzinfo=UTC), tick=False),
        app.app_context(),
    ):
        assert clock.today() == utc_day + timedelta(days=1) == policy.today()
    with time_machine.travel(datetime(2026, 12, 6, 20, 59, tzinfo=UTC), tick=False), app.app_context():
        assert clock.today() == utc_day


def test_the_time_zone_is_a_setting(app_factory):
    app = app_factory(TIMEZONE="Asia/Vladivostok")
    with time_machine.travel(datetime(2026, 12, 6, 14, 30, tzinfo=UTC), tick=False), app.app_context():
        assert clock.today() == date(2026, 12, 7)  # 00:30 in Vladivostok
        assert clock.day_start(date(2026, 12, 7)) == datetime(2026, 12, 6, 14, 0, tzinfo=UTC)


# -- rules -----------------------------------------------------------------------------------------


def test_a_guardian_loses_access_at_midnight_moscow_time_on_the_15th_birthday(app, demo, login):
    child = demo["child_9"]
    fifteenth = policy.birthday(child.birth_date, 15)
    with time_machine.travel(msk(fifteenth - timedelta(days=1), 23, 30), tick=False):
        guardian = login(demo["guardian"])
        assert card(guardian, child.id) == 200
    with time_machine.travel(msk(fifteenth, 0, 30), tick=False):  # 21:30 UTC the evening before
        guardian = login(demo["guardian"])
        assert card(guardian, child.id) == 404
        assert card(guardian, child.id, "/access-log") == 404
        assert child.name not in guardian.get("/cards").get_data(as_text=True)


def test_a_child_born_on_29_february_turns_15_on_1_march(app, demo, login):
    from portal.record.models import Patient

    child_id = demo["child_9"].id
    with app.app_context(), write_transaction():
        db.session.get(Patient, child_id).birth_date = date(2016, 2, 29)
    with time_machine.travel(msk(date(2031, 2, 28), 23, 30), tick=False):
        assert card(login(demo["guardian"]), child_id) == 200
    with time_machine.travel(msk(date(2031, 3, 1), 0, 30), tick=False):
        assert card(login(demo["guardian"]), child_id) == 404


def test_a_grant_ends_at_midnight_moscow_time_after_its_last_day(app, demo, login):
    patient_id = demo["patient"].patient_id
    with app.app_context():
        last_day = db.session.scalar(sa.select(AccessGrant.expires_on))
    with time_machine.travel(msk(last_day, 23, 30), tick=False):
        assert card(login(demo["trusted"]), patient_id) == 200
    with time_machine.travel(msk(last_day + timedelta(days=1), 0, 30), tick=False):
        trusted = login(demo["trusted"])
        assert card(trusted, patient_id) == 404
        assert f"/card/{patient_id}" not in trusted.get("/cards").get_data(as_text=True)


def test_reminders_count_days_in_moscow(app, demo):
    from portal.notify import reminders
    from portal.notify.models import Notification
    from portal.record.models import Checkup, Practitioner, Prescription

    patient_id, account = demo["patient"].patient_id, demo["patient"].id
    day = moscow_today() + timedelta(days=3)
    with app.app_context(), write_transaction():
        db.session.execute(sa.delete(Checkup).where(Checkup.patient_id == patient_id))
        doctor = db.session.scalar(sa.select(Practitioner).order_by(Practitioner.id))
        common = {"patient_id": patient_id, "organisation_id": doctor.organisation_id, "practitioner_id": doctor.id}
        db.session.add(
            Checkup(**common, year=day.year - 3, stage=1, started_on=day - timedelta(days=1100), next_due_on=day)
        )
        rx = Prescription(
            **common,
            number="77-msk",
            issued_on=day - timedelta(days=20),
            drug="Метформин",
            form="таблетки",
            dose="1",
            quantity="60",
            valid_until=day - timedelta(days=1),
        )
        db.session.add(rx)
        db.session.flush()
        rx_id = rx.id
    with time_machine.travel(msk(day, 0, 30), tick=False), app.test_request_context():
        reminders.run()
    with app.app_context():
        keys = set(db.session.scalars(sa.select(Notification.subject_key).where(Notification.account_id == account)))
    assert f"checkup:{patient_id}:{day.isoformat()}" in keys  # due today in Moscow
    assert f"prescription:{rx_id}:expiring" not in keys  # it ran out yesterday in Moscow


def test_the_access_log_filters_by_the_day_in_moscow(app, demo, login):
    patient_id = demo["patient"].patient_id
    day = moscow_today() - timedelta(days=3)
    owner = login(demo["patient"])

    def rows(since: date, until: date) -> int:
        query = f"who=others&since={since:%d.%m.%Y}&until={until:%d.%m.%Y}"
        return owner.get(f"/card/{patient_id}/access-log?{query}").get_data(as_text=True).count('<th scope="row">')

    before = rows(day, day), rows(day - timedelta(days=1), day - timedelta(days=1))
    with time_machine.travel(msk(day, 0, 30), tick=False):  # 21:30 UTC the day before
        assert card(login(demo["doctor"]), patient_id) == 200
    assert rows(day, day) > before[0]
    assert rows(day - timedelta(days=1), day - timedelta(days=1)) == before[1]


# -- dates shown and printed -----------------------------------------------------------------------


@pytest.mark.parametrize("hour, minute", [(21, 0), (23, 59)])
def test_a_certificate_issued_late_in_the_evening_utc_has_one_date_everywhere(
    app,
    demo,
    login,
    record,  # noqa: F811 - the fixture imported above
    hour,
    minute,
):
    utc_day = datetime.now(UTC).date()
    moment = datetime.combine(utc_day, time(hour, minute), UTC)
    issued_on = moment.astimezone(MOSCOW).date()
    assert issued_on == utc_day + timedelta(days=1)
    patient_id = demo["patient"].patient_id
    with time_machine.travel(moment, tick=False):
        citizen = login(demo["patient"])
        row = ordered(app, citizen, patient_id, demo["patient"].phone, kind="086u", purpose="Для колледжа")
        registrar = login(demo["registrar"])
        assert registrar_step(registrar, row.id, "take").status_code == 303
        assert registrar_step(registrar, row.id, "issue").status_code == 303
        assert run_jobs(app) == 1  # the document is made by a background job
        (row,) = [r for r in requests_of(app, patient_id) if r.id == row.id]
        detail = citizen.get(f"/card/{patient_id}/certificates/{row.id}").get_data(as_text=True)
        pdf = citizen.get(f"/card/{patient_id}/certificates/{row.id}/document").data
        check = app.test_client().get(f"/verify/{row.verification_code}").get_data(as_text=True)
    text = " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode().split()
    )
    expected, wrong = in_words(issued_on), in_words(utc_day)
    assert f"Выдана {expected}" in detail
    assert f"от {expected}" in text and wrong not in text
    issue_line = re.search(r"<dt>Дата выдачи</dt><dd>([^<]*)</dd>", check).group(1)
    assert issue_line.startswith(expected), issue_line
    with app.app_context():
        document = db.session.get(Document, row.document_id)
        assert document.document_date == issued_on
        assert document.keep_until == issued_on + timedelta(days=365)


def test_the_card_summary_pdf_dates_a_late_evening_visit_by_its_moscow_day(app, demo, login):
    from portal.record.models import Practitioner, Visit

    patient_id = demo["patient"].patient_id
    day = moscow_today() - timedelta(days=2)
    with app.app_context(), write_transaction():
        doctor = db.session.scalar(sa.select(Practitioner).order_by(Practitioner.id))
        db.session.add(
            Visit(
                patient_id=patient_id,
                organisation_id=doctor.organisation_id,
                practitioner_id=doctor.id,
                started_at=msk(day, 0, 30),  # 21:30 UTC the day before
                kind="clinic",
                conclusion="Поздний визит",
            )
        )
    pdf = fetch_pdf(app, login(demo["patient"]), f"/card/{patient_id}/export/summary.pdf").data
    text = " ".join(
        subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode().split()
    )
    before = text[: text.index("Поздний визит")]
    assert re.findall(r"\d\d\.\d\d\.\d{4}", before)[-1] == f"{day:%d.%m.%Y}"


# -- «г..» -----------------------------------------------------------------------------------------


def test_no_russian_date_ends_a_sentence_with_a_doubled_full_stop(app, demo, login, record):  # noqa: F811
    from portal.notify import inbox

    patient_id = demo["patient"].patient_id
    citizen = login(demo["patient"])
    row = ordered(app, citizen, patient_id, demo["patient"].phone, kind="086u", purpose="Для колледжа")
    registrar = login(demo["registrar"])
    registrar_step(registrar, row.id, "take")
    registrar_step(registrar, row.id, "issue")
    run_jobs(app)
    pages = {"certificate": citizen.get(f"/card/{patient_id}/certificates/{row.id}").get_data(as_text=True)}
    with app.app_context(), write_transaction():
        row = db.session.get(CertificateRequest, row.id)
        row.issued_at = clock.now() - timedelta(days=400)  # expired: «он действовал до …»
        db.session.get(Document, row.document_id).keep_until = clock.today() - timedelta(days=35)
        code = row.verification_code
    pages["certificate, no longer kept"] = citizen.get(f"/card/{patient_id}/certificates/{row.id}").get_data(
        as_text=True
    )
    pages["verify, expired"] = app.test_client().get(f"/verify/{code}").get_data(as_text=True)
    pages["accessibility statement"] = app.test_client().get("/accessibility").get_data(as_text=True)
    day = clock.today().isoformat()
    who = demo["patient"].id
    with app.test_request_context(), write_transaction():
        for event, params in (
            ("grant_received", {"patient": "Елена С.", "until": day}),
            ("prescription_expiring", {"drug": "Метформин", "valid_until": day}),
            ("vaccination_due", {"vaccine": "Корь", "vaccine_en": "Measles", "patient": "Елена", "due_on": day}),
            ("checkup_due", {"patient": "Елена", "due_on": day}),
        ):
            inbox.post(who, event, params=params, subject_key=f"{event}:dates")
    pages["notifications"] = citizen.get("/notifications").get_data(as_text=True)
    for name, html in pages.items():
        assert "г.." not in html and not re.search(r"\d{4} г\.\s*\.", html), name
        assert re.search(r"\d{1,2} [а-я]+ \d{4}", html), name  # the page does show a date in full


@pytest.mark.parametrize("form", ["short", "medium", "long", "full"])
def test_russian_dates_never_end_in_a_full_stop(app, form):
    from portal.formatting import format_date

    with app.test_request_context(headers={"Accept-Language": "ru"}):
        shown = format_date(date(2026, 12, 7), form)
    assert not shown.endswith("."), shown
    assert "2026" in shown


# -- the server's own time zone plays no part ------------------------------------------------------


@pytest.fixture
def new_york_server():
    """The process runs in New York time, as a server configured that way would."""
    import os
    import time as process_time

    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    process_time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    process_time.tzset()


def test_the_audit_log_verifies_on_a_server_in_another_time_zone(app, demo, login, new_york_server):
    from tests.conftest import audit_log_verifies

    assert card(login(demo["doctor"]), demo["patient"].patient_id) == 200
    with app.app_context():
        verdict = audit_log_verifies()
    assert verdict.ok, verdict


def test_a_vaccination_given_today_in_moscow_is_not_in_the_future_on_a_server_in_new_york(
    app, demo, login, new_york_server
):
    """At 00:30 in Moscow it is still yesterday in New York; the form counts the portal's day."""
    from tests.test_vaccination_add import add, entries

    patient_id = demo["patient"].patient_id
    day = moscow_today() + timedelta(days=2)
    with time_machine.travel(msk(day, 0, 30), tick=False):
        assert date.today() == day - timedelta(days=1)  # the process's own idea of today
        response = add(login(demo["patient"]), patient_id, given_on=f"{day:%d.%m.%Y}")
        assert response.status_code == 303, response.get_data(as_text=True)
        tomorrow = add(login(demo["patient"]), patient_id, given_on=f"{day + timedelta(days=1):%d.%m.%Y}")
        assert tomorrow.status_code == 400
    assert [e.given_on for e in entries(app, patient_id)] == [day]


MOMENTS = [
    datetime(2026, 12, 31, 21, 0, tzinfo=UTC),  # midnight in Moscow: the next day and year there
    datetime(2026, 1, 1, 0, 5),  # naive: taken as UTC
    datetime(2027, 3, 8, 9, 7, 3, tzinfo=ZoneInfo("Asia/Vladivostok")),
    datetime(2026, 6, 1, 12, 0, tzinfo=UTC),  # noon: 12 PM in English
    datetime(2026, 6, 1, 23, 59, tzinfo=ZoneInfo("Europe/Moscow")),
    datetime(1905, 2, 3, 4, 5, tzinfo=UTC),
]
PATTERNS = ["short", "medium", "long", "full", "dd.MM.yyyy HH:mm", "d MMMM y", "h:mm a", "EEEE, d MMM yy", "H:mm"]


@pytest.mark.parametrize("language", ["ru", "en"])
def test_dates_are_written_as_babel_writes_them(app, language):
    """The portal's date formatting parses each pattern once and writes the numbers itself (lists
    show a date on every row); what it writes is what flask_babel writes, in both languages, for
    every named format and custom patterns, naive and aware moments, either side of midnight."""
    import flask_babel

    from portal.formatting import RUSSIAN_DATES, format_date, format_datetime

    with app.test_request_context("/", headers={"Cookie": f"lang={language}"}):
        assert str(flask_babel.get_locale()) == language
        for moment in MOMENTS:
            for pattern in PATTERNS:
                mapped = RUSSIAN_DATES.get(pattern, pattern) if language == "ru" else pattern
                for rebase in (True, False):
                    expected = flask_babel.format_datetime(moment, pattern, rebase)
                    assert format_datetime(moment, pattern, rebase) == expected, (moment, pattern, rebase)
                    if any(field in pattern for field in "Hha"):
                        continue  # a time in a date's pattern: Babel refuses it too
                    assert format_date(moment, pattern, rebase) == flask_babel.format_date(moment, mapped, rebase)
                    assert format_date(moment.date(), pattern) == flask_babel.format_date(moment.date(), mapped)
        assert format_date(date(2026, 12, 7), "long") == (
            "7 декабря 2026\u00a0года" if language == "ru" else "December 7, 2026"
        )
