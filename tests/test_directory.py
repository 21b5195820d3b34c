"""The directory grown up: an organisation's page (departments, doctors with specialty and
position, accessibility in words, hours, services with prices), search by specialty, doctor,
organisation and address with the citizen's own clinic first, and pages whose number of SQL
statements does not grow with the directory."""

from __future__ import annotations

import re

import sqlalchemy as sa

from portal.database import db, write_transaction
from portal.demodata.synthetic import demo_organisations
from portal.directory.models import Organisation, Practitioner, organisation_search_text
from tests.test_htmx import recorded_statements

EN = {"Accept-Language": "en"}


def ids(app) -> dict[str, int]:
    with app.app_context():
        orgs = demo_organisations()
        return {"A": orgs["A"].id, "B": orgs["B"].id}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_organisation_page_shows_what_a_visitor_needs(app, demo, client):
    a = ids(app)["A"]
    page = text(client.get(f"/clinics/{a}").get_data(as_text=True))
    assert "Терапевтическое отделение" in page and "Стоматологическое отделение" in page
    assert "Белова Марина Сергеевна стоматолог врач-стоматолог-терапевт" in page
    # Accessibility in words, each feature labelled, never an icon alone.
    assert "Вход без ступеней Да" in page and "Парковка для людей с инвалидностью Нет" in page
    assert "Индукционная петля Да" in page
    assert "понедельник 08:00–20:00" in page.casefold() and "воскресенье выходной" in page.casefold()
    assert "Регистрация электрокардиограммы A05.10.006 900 ₽" in page
    assert "Бесплатно по полису ОМС" in page
    english = text(client.get(f"/clinics/{a}", headers=EN).get_data(as_text=True))
    assert "Step-free entrance Yes" in english and "Parking for disabled people No" in english
    assert "dentist" in english and "Sunday Closed" in english


def test_an_unknown_or_pharmacy_organisation_is_404(app, demo, client):
    with app.app_context():
        pharmacy = db.session.scalar(sa.select(Organisation.id).where(Organisation.kind == "pharmacy").limit(1))
    assert client.get(f"/clinics/{pharmacy}").status_code == 404
    assert client.get("/clinics/999999").status_code == 404


def row_names(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="[^"]*"(?: lang="ru")?>([^<]+)</a>', html)


def test_organisations_by_specialty_with_the_citizens_clinic_first(app, demo, client, login):
    a, b = ids(app)["A"], ids(app)["B"]
    with app.app_context():
        names = {o: db.session.get(Organisation, o).name for o in (a, b)}
    anonymous = row_names(client.get("/clinics?specialty=62&q=гбуз").get_data(as_text=True))
    # Only clinics with a dentist: the two demo clinics (by name, B before A) among them.
    assert names[a] in anonymous and names[b] in anonymous
    assert anonymous.index(names[b]) < anonymous.index(names[a])
    signed_in = login(demo["patient"]).get("/clinics?specialty=62&q=гбуз").get_data(as_text=True)
    assert row_names(signed_in)[0] == names[a]  # Smirnova's clinic first
    assert "(ваша поликлиника)" in signed_in
    refused = client.get("/clinics?specialty=nope")
    assert refused.status_code == 400 and "Выберите специальность из списка" in refused.get_data(as_text=True)


def doctor_rows(html: str) -> list[str]:
    return re.findall(r'<th scope="row">(?:<span lang="ru">)?([^<]+)', html)


def test_doctors_by_specialty_name_and_place_own_clinic_first(app, demo, client, login):
    a = ids(app)["A"]
    with app.app_context():
        a_name = db.session.get(Organisation, a).name
    dentists = client.get("/doctors?specialty=62").get_data(as_text=True)
    assert "Белова Марина Сергеевна" in dentists and "Григорьев Антон Ильич" in dentists
    # A lower-case beginning of a surname finds the doctor; the place narrows to an organisation.
    by_name = client.get("/doctors?q=бел").get_data(as_text=True)
    assert "Белова Марина Сергеевна" in by_name
    by_place = client.get("/doctors", query_string={"place": a_name.casefold(), "specialty": "62"})
    assert doctor_rows(by_place.get_data(as_text=True)) == ["Белова Марина Сергеевна"]
    # Signed in, the doctors of her own clinic come first.
    therapists = login(demo["patient"]).get("/doctors?specialty=72").get_data(as_text=True)
    with app.app_context():
        own = set(
            db.session.scalars(
                sa.select(Practitioner.surname).where(
                    Practitioner.organisation_id == a, Practitioner.specialty_code == "72"
                )
            )
        )
    assert doctor_rows(therapists)[0].split()[0] in own
    assert "терапевт (ваша поликлиника)" in therapists
    english = client.get("/doctors?specialty=62", headers=EN).get_data(as_text=True)
    assert "dentist" in english


def test_the_doctor_search_pages_by_key_and_keeps_bad_input(app, demo, client):
    first = client.get("/doctors?specialty=43").get_data(as_text=True)
    match = re.search(r'href="(/doctors\?[^"]*after=\d+[^"]*)"', first)
    assert match, "more than one page of paediatricians"
    second = client.get(match.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert set(doctor_rows(first)).isdisjoint(doctor_rows(second))
    bad = client.get("/doctors?q=" + "я" * 101 + "&after=x")
    assert bad.status_code == 400 and "я" * 101 in bad.get_data(as_text=True)


def _grow(app, n: int) -> None:
    """n more organisations, each with three doctors of specialty 62."""
    with app.app_context(), write_transaction() as session:
        start = session.scalar(sa.select(sa.func.count()).select_from(Organisation))
        rows = [
            dict(
                oid=f"1.2.643.5.1.13.13.12.2.77.{80000 + start + i}",
                name=f"Стоматология № {start + i:05d}",
                kind="dental",
                region_code="77",
                city="Москва",
                address=f"ул. Зубная, д. {i}",
                phone="+74950000000",
                search_text=organisation_search_text(f"Стоматология № {start + i:05d}", "Москва", "ул. Зубная"),
            )
            for i in range(n)
        ]
        session.execute(sa.insert(Organisation), rows)
        new = session.scalars(sa.select(Organisation.id).where(Organisation.name.like("Стоматология № %"))).all()
        session.execute(
            sa.insert(Practitioner),
            [
                dict(
                    surname=f"Зубов{k}",
                    name="Иван",
                    specialty="стоматолог",
                    specialty_code="62",
                    registration_number="77-1",
                    organisation_id=org,
                )
                for org in new[-n:]
                for k in range(3)
            ],
        )


def count(app, client, url: str) -> int:
    """The statements of building the page (not of serving it from the directory's cache)."""
    from portal import listings

    with app.app_context():
        listings.forget()
    with recorded_statements(app) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_search_pages_cost_the_same_statements_for_any_directory_size(app, demo, login):
    client = login(demo["patient"])
    a = ids(app)["A"]
    urls = ["/clinics?specialty=62", "/doctors?specialty=62", "/doctors?q=зубов&place=москва", f"/clinics/{a}"]
    _grow(app, 5)
    small = [count(app, client, url) for url in urls]
    _grow(app, 300)
    assert [count(app, client, url) for url in urls] == small


def test_a_search_page_is_kept_a_short_while_per_language_search_and_clinic(app, demo, login):
    """The directory's search pages are built once per language, search and attached clinic and
    kept (portal/listings.py): the next reader of the same page costs only the session, and
    nobody gets another person's page: the attached clinic listed first is each reader's own."""
    from portal import listings

    patient, anonymous = login(demo["patient"]), app.test_client()
    built = count(app, patient, "/clinics?specialty=62")
    with recorded_statements(app) as statements:
        kept = patient.get("/clinics?specialty=62").get_data(as_text=True)
    assert len(statements) < built
    assert "ваша поликлиника" in kept
    assert "ваша поликлиника" not in anonymous.get("/clinics?specialty=62").get_data(as_text=True)
    anonymous.set_cookie("lang", "en")
    assert "Medical organisations" in anonymous.get("/clinics?specialty=62").get_data(as_text=True)
    # A new organisation appears once this process forgets its pages (a writer calls forget()).
    assert "Стоматология № " not in patient.get("/clinics?q=Стоматология").get_data(as_text=True)
    _grow(app, 1)
    assert "Стоматология № " not in patient.get("/clinics?q=Стоматология").get_data(as_text=True)  # kept
    with app.app_context():
        listings.forget()
    assert "Стоматология № " in patient.get("/clinics?q=Стоматология").get_data(as_text=True)


def test_the_doctor_search_is_kept_as_the_organisations_search_is(app, demo, login):
    """/doctors is a public listing keyed as /clinics is (language, search, attached clinic): kept,
    each reader's own clinic first, an htmx search kept as its results alone, bad input never kept."""
    patient, anonymous = login(demo["patient"]), app.test_client()
    built = count(app, patient, "/doctors?specialty=72")
    with recorded_statements(app) as statements:
        kept = patient.get("/doctors?specialty=72").get_data(as_text=True)
    assert len(statements) < built
    assert "терапевт (ваша поликлиника)" in kept and "<h1>Врачи</h1>" in kept
    assert "ваша поликлиника" not in anonymous.get("/doctors?specialty=72").get_data(as_text=True)
    fragment = anonymous.get("/doctors?specialty=72", headers={"HX-Request": "true", "HX-Target": "results"})
    assert fragment.status_code == 200 and "<h1>" not in fragment.get_data(as_text=True)
    for _ in range(2):
        bad = anonymous.get("/doctors?q=" + "я" * 101)
        assert bad.status_code == 400 and 'id="error-summary"' in bad.get_data(as_text=True)


def test_without_the_cache_every_page_is_built(app_factory):
    app = app_factory(DIRECTORY_CACHE_SECONDS=0)
    client = app.test_client()
    first = count(app, client, "/clinics")
    with recorded_statements(app) as statements:
        client.get("/clinics")
    assert len(statements) == first > 0
