"""Synthetic organisations and patients for the demo and for benchmarks (``bench/generate.py`` is
their command line).

Everything is derived from a seed through a private ``random.Random``, so the same seed gives
the same data on every machine and run. Patient ``i`` depends only on the seed and the patients
before it, so ``patients(20)`` is a prefix of ``patients(1000)`` for the same seed: the demo
set and a benchmark load can share a database without clashing.

The portal's models are imported inside functions, not at module level, so the pure generators
work without an app.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import insert, select

from portal.directory.models import Organisation, organisation_search_text
from portal.identifiers import make_snils

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute, Session

DEFAULT_SEED = 2026

# Ages are measured from a fixed day, not today, so a seed gives the same birth dates next year.
REFERENCE_DATE = date(2026, 1, 1)
MAX_AGE_YEARS = 95

# SNILS account numbers are an affine map of the patient index, which makes them unique without
# keeping a set of the ones already issued. STRIDE is coprime with SPAN (it has no factor 2, 3
# or 5), so i -> (offset + i * STRIDE) % SPAN is a bijection on range(SPAN). Starting at
# 100-000-000 keeps every number above 001-001-998, where the check number is really checked.
SNILS_START = 100_000_000
SNILS_SPAN = 900_000_000
SNILS_STRIDE = 7**10

# Organisations in the federal register (ФРМО) have OIDs under this arc, then region and number.
FRMO_OID_PREFIX = "1.2.643.5.1.13.13.12.2."

ORGANISATION_KINDS = ("polyclinic", "children_polyclinic", "hospital", "laboratory", "dental")
REGIONS = {
    "77": "Москва",
    "50": "Московская область",
    "78": "Санкт-Петербург",
    "16": "Республика Татарстан",
    "54": "Новосибирская область",
}


class _City(NamedTuple):
    region_code: str
    area_code: str
    streets: tuple[str, ...]


class _Template(NamedTuple):
    city: str
    kind: str
    name: str  # may contain {n}, the institution's number
    count: int = 1
    max_number: int = 99


_CITIES: dict[str, _City] = {
    "Москва": _City(
        "77",
        "495",
        (
            "ул. Профсоюзная",
            "Ленинский пр-т",
            "ул. Новослободская",
            "Каширское ш.",
            "ул. Бутлерова",
            "Рязанский пр-т",
            "ул. Ёлочная",
        ),
    ),
    "Балашиха": _City("50", "498", ("ш. Энтузиастов", "ул. Свердлова")),
    "Подольск": _City("50", "496", ("ул. Кирова", "Революционный пр-т")),
    "Химки": _City("50", "498", ("ул. Молодёжная", "Юбилейный пр-т")),
    "Мытищи": _City("50", "498", ("ул. Коминтерна", "Новомытищинский пр-т")),
    "Королёв": _City("50", "498", ("пр-т Королёва", "ул. Циолковского")),
    "Люберцы": _City("50", "498", ("Октябрьский пр-т", "ул. Смирновская")),
    "Красногорск": _City("50", "498", ("ул. Ленина", "Волоколамское ш.")),
    "Щёлково": _City("50", "496", ("ул. Пушкина", "Пролетарский пр-т")),
    "Санкт-Петербург": _City(
        "78",
        "812",
        (
            "Литейный пр-т",
            "Невский пр-т",
            "ул. Бассейная",
            "пр-т Просвещения",
            "ул. Савушкина",
            "Московский пр-т",
        ),
    ),
    "Казань": _City(
        "16",
        "843",
        ("ул. Баумана", "пр-т Победы", "Оренбургский тракт", "пр-т Ямашева", "ул. Декабристов"),
    ),
    "Набережные Челны": _City("16", "8552", ("пр-т Мира", "пр-т Сююмбике")),
    "Альметьевск": _City("16", "8553", ("ул. Ленина", "ул. Радищева")),
    "Новосибирск": _City(
        "54",
        "383",
        ("Красный пр-т", "ул. Залесского", "ул. Немировича-Данченко", "ул. Блюхера"),
    ),
    "Бердск": _City("54", "38341", ("ул. Пушкина", "ул. Ленина")),
}

_TEMPLATES: tuple[_Template, ...] = (
    # Москва
    _Template("Москва", "polyclinic", "ГБУЗ «Городская поликлиника № {n} ДЗМ»", 3, 220),
    _Template("Москва", "children_polyclinic", "ГБУЗ «Детская городская поликлиника № {n} ДЗМ»", 2, 150),
    _Template("Москва", "hospital", "ГБУЗ «Городская клиническая больница № {n} ДЗМ»", 1, 80),
    _Template("Москва", "hospital", "ГБУЗ «Городская клиническая больница имени С. П. Боткина ДЗМ»"),
    _Template("Москва", "dental", "ГАУЗ «Стоматологическая поликлиника № {n} ДЗМ»", 1, 67),
    _Template("Москва", "laboratory", "ГБУЗ «Клинико-диагностическая лаборатория № {n} ДЗМ»", 1, 30),
    # A name that starts with Ё, so sorting by name shows whether the collation is Russian.
    _Template("Москва", "dental", "«Ёлочка», детская стоматологическая клиника"),
    # Московская область
    _Template("Балашиха", "hospital", "ГБУЗ МО «Балашихинская больница»"),
    _Template("Подольск", "hospital", "ГБУЗ МО «Подольская областная клиническая больница»"),
    _Template("Химки", "polyclinic", "ГБУЗ МО «Химкинская городская поликлиника № {n}»", 1, 5),
    _Template("Мытищи", "children_polyclinic", "ГБУЗ МО «Мытищинская детская поликлиника № {n}»", 1, 4),
    _Template("Королёв", "polyclinic", "ГБУЗ МО «Королёвская городская поликлиника № {n}»", 1, 4),
    _Template("Люберцы", "hospital", "ГБУЗ МО «Люберецкая областная больница»"),
    _Template("Красногорск", "dental", "ГАУЗ МО «Красногорская стоматологическая поликлиника»"),
    _Template("Щёлково", "laboratory", "ГБУЗ МО «Щёлковская клинико-диагностическая лаборатория»"),
    # Санкт-Петербург
    _Template("Санкт-Петербург", "polyclinic", "СПб ГБУЗ «Городская поликлиника № {n}»", 2, 120),
    _Template(
        "Санкт-Петербург",
        "children_polyclinic",
        "СПб ГБУЗ «Детская городская поликлиника № {n}»",
        1,
        70,
    ),
    _Template("Санкт-Петербург", "hospital", "СПб ГБУЗ «Городская Мариинская больница»"),
    _Template("Санкт-Петербург", "hospital", "СПб ГБУЗ «Городская больница № {n}»", 1, 40),
    _Template("Санкт-Петербург", "hospital", "СПб ГБУЗ «Детская городская больница № {n}»", 1, 22),
    _Template("Санкт-Петербург", "dental", "СПб ГБУЗ «Стоматологическая поликлиника № {n}»", 1, 33),
    _Template(
        "Санкт-Петербург",
        "laboratory",
        "СПб ГБУЗ «Клинико-диагностическая лаборатория № {n}»",
        1,
        10,
    ),
    # Республика Татарстан
    _Template("Казань", "polyclinic", "ГАУЗ «Городская поликлиника № {n}»", 2, 21),
    _Template("Казань", "children_polyclinic", "ГАУЗ «Детская городская поликлиника № {n}»", 1, 11),
    _Template("Казань", "hospital", "ГАУЗ «Республиканская клиническая больница МЗ РТ»"),
    _Template("Казань", "dental", "ГАУЗ «Стоматологическая поликлиника № {n}»", 1, 10),
    _Template("Набережные Челны", "polyclinic", "ГАУЗ «Городская поликлиника № {n}»", 1, 7),
    _Template("Альметьевск", "hospital", "ГАУЗ «Альметьевская центральная районная больница»"),
    _Template("Казань", "laboratory", "ГАУЗ «Республиканский центр лабораторной диагностики»"),
    # Новосибирская область
    _Template("Новосибирск", "polyclinic", "ГБУЗ НСО «Городская клиническая поликлиника № {n}»", 2, 29),
    _Template("Новосибирск", "children_polyclinic", "ГБУЗ НСО «Детская городская поликлиника № {n}»", 1, 9),
    _Template(
        "Новосибирск",
        "hospital",
        "ГБУЗ НСО «Государственная Новосибирская областная клиническая больница»",
    ),
    _Template("Бердск", "hospital", "ГБУЗ НСО «Бердская центральная городская больница»"),
    _Template("Новосибирск", "dental", "ГАУЗ НСО «Стоматологическая поликлиника № {n}»", 1, 9),
    _Template(
        "Новосибирск",
        "laboratory",
        "ГБУЗ НСО «Новосибирский областной клинико-диагностический центр»",
    ),
)

MALE_NAMES = (
    "Александр", "Алексей", "Андрей", "Артём", "Владимир", "Дмитрий", "Евгений", "Иван", "Игорь",
    "Илья", "Кирилл", "Лев", "Максим", "Марк", "Матвей", "Михаил", "Никита", "Николай", "Павел",
    "Роман", "Рустам", "Сергей", "Тимур", "Фёдор", "Юрий", "Ярослав",
)  # fmt: skip
FEMALE_NAMES = (
    "Алёна", "Алсу", "Анастасия", "Анна", "Валентина", "Варвара", "Вера", "Галина", "Дарья",
    "Екатерина", "Елена", "Ирина", "Ксения", "Любовь", "Людмила", "Мария", "Наталья", "Ольга",
    "Полина", "Светлана", "Софья", "Татьяна", "Ульяна", "Эльвира", "Юлия",
)  # fmt: skip
# (masculine, feminine): the forms are irregular (Ильич/Ильинична, Львович), so they are listed.
PATRONYMICS = (
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"), ("Андреевич", "Андреевна"),
    ("Викторович", "Викторовна"), ("Владимирович", "Владимировна"), ("Дмитриевич", "Дмитриевна"),
    ("Евгеньевич", "Евгеньевна"), ("Иванович", "Ивановна"), ("Игоревич", "Игоревна"),
    ("Ильич", "Ильинична"), ("Константинович", "Константиновна"), ("Львович", "Львовна"),
    ("Михайлович", "Михайловна"), ("Никитич", "Никитична"), ("Николаевич", "Николаевна"),
    ("Павлович", "Павловна"), ("Петрович", "Петровна"), ("Ринатович", "Ринатовна"),
    ("Рустамович", "Рустамовна"), ("Сергеевич", "Сергеевна"), ("Фёдорович", "Фёдоровна"),
    ("Юрьевич", "Юрьевна"),
)  # fmt: skip
# Masculine forms; feminine_surname() derives the rest.
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв",
    "Кузьмин", "Фролов", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков",
    "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов", "Жуков",
    "Баранов", "Комаров", "Давыдов", "Беляев", "Богданов", "Осипов", "Сидоров", "Титов",
    "Крылов", "Куликов", "Мельников", "Гаврилов", "Калинин", "Чернышёв", "Пономарёв", "Галкин",
    "Хайруллин", "Сафин", "Галиев", "Гарипов", "Ахметов", "Валиев", "Зарипов", "Нуриев",
    "Вишневский", "Покровский", "Успенский", "Высоцкий", "Полянский", "Донской",
    "Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Седых", "Черных", "Долгих", "Ковальчук",
)  # fmt: skip

_FEMININE_ENDINGS = (("ский", "ская"), ("цкий", "цкая"), ("ской", "ская"), ("ой", "ая"))


def feminine_surname(masculine: str) -> str:
    """Return the feminine form of a Russian surname: Иванов → Иванова, Вишневский → Вишневская.

    Surnames in -енко, -ых, -их, -ук and the like do not change with sex.
    """
    for ending, feminine in _FEMININE_ENDINGS:
        if masculine.endswith(ending):
            return masculine[: -len(ending)] + feminine
    if masculine.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return masculine + "а"
    return masculine


def _phone(rng: random.Random, area_code: str) -> str:
    # Russian subscriber numbers never begin with 0, so these cannot ring a real clinic.
    local_length = 10 - len(area_code) - 1
    return f"+7{area_code}0{rng.randrange(10**local_length):0{local_length}d}"


def _address(rng: random.Random, streets: tuple[str, ...]) -> str:
    address = f"{rng.choice(streets)}, д. {rng.randint(1, 180)}"
    extra = rng.random()
    if extra < 0.25:
        address += f", корп. {rng.randint(1, 5)}"
    elif extra < 0.35:
        address += f", стр. {rng.randint(1, 3)}"
    return address


def organisations(seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """About 40 medical organisations in five regions, the same list for the same seed.

    Each dict has the ``Organisation`` columns: oid, name, kind, region_code, city, address,
    phone and search_text.
    """
    rng = random.Random(seed)
    per_region: dict[str, int] = {}
    for template in _TEMPLATES:
        region = _CITIES[template.city].region_code
        per_region[region] = per_region.get(region, 0) + template.count
    # Sampling without replacement keeps OIDs unique; the region in the OID keeps them unique
    # across regions.
    oid_numbers = {region: iter(rng.sample(range(1000, 10000), count)) for region, count in sorted(per_region.items())}

    result: list[dict[str, Any]] = []
    for template in _TEMPLATES:
        city = _CITIES[template.city]
        if "{n}" in template.name:
            numbers = sorted(rng.sample(range(1, template.max_number + 1), template.count))
            names = [template.name.format(n=number) for number in numbers]
        else:
            names = [template.name] * template.count
        for name in names:
            address = _address(rng, city.streets)
            oid = f"{FRMO_OID_PREFIX}{city.region_code}.{next(oid_numbers[city.region_code])}"
            result.append(
                {
                    "oid": oid,
                    "name": name,
                    "kind": template.kind,
                    "region_code": city.region_code,
                    "city": template.city,
                    "address": address,
                    "phone": _phone(rng, city.area_code),
                    "search_text": organisation_search_text(name, template.city, address),
                }
            )
    return result


def patients(n: int, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    """Yield ``n`` synthetic patients, the same ones for the same seed.

    Each dict has the ``Patient`` columns: surname, name, patronymic (``None`` for about one in
    fifty), birth_date (age 0–95 on ``REFERENCE_DATE``), sex ("M"/"F", with the surname and
    patronymic in the matching form) and snils (11 digits, valid check number, unique).
    """
    if not 0 <= n <= SNILS_SPAN:
        raise ValueError(f"n must be between 0 and {SNILS_SPAN}, got {n}")
    rng = random.Random(seed)
    # Drawn first, so each seed numbers its patients differently.
    offset = rng.randrange(SNILS_SPAN)
    max_days = (MAX_AGE_YEARS + 1) * 365
    for index in range(n):
        male = rng.random() < 0.46
        name = rng.choice(MALE_NAMES if male else FEMALE_NAMES)
        surname = rng.choice(SURNAMES)
        without_patronymic = rng.random() < 0.02
        masculine_patronymic, feminine_patronymic = rng.choice(PATRONYMICS)
        age_days = rng.randrange(max_days)
        account = SNILS_START + (offset + index * SNILS_STRIDE) % SNILS_SPAN
        yield {
            "surname": surname if male else feminine_surname(surname),
            "name": name,
            "patronymic": None if without_patronymic else (masculine_patronymic if male else feminine_patronymic),
            "birth_date": REFERENCE_DATE - timedelta(days=age_days),
            "sex": "M" if male else "F",
            "snils": make_snils(f"{account:09d}"),
        }


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


# Old SQLite builds allow at most 999 bound parameters per statement.
_LOOKUP_SLICE = 900


def _existing(session: Session, column: InstrumentedAttribute[str], values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), _LOOKUP_SLICE):
        chunk = values[start : start + _LOOKUP_SLICE]
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def load(session: Session, n_patients: int, seed: int = DEFAULT_SEED, batch: int = 5000) -> dict[str, int]:
    """Insert the organisations and ``n_patients`` patients for ``seed`` that are not there yet.

    Organisations already present (by oid) and patients already present (by SNILS) are
    skipped, so loading twice adds nothing. Must be called inside ``write_transaction()``;
    returns ``{"organisations": added, "patients": added}``.
    """
    from portal.record.models import Patient

    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")

    orgs = organisations(seed)
    present_oids = _existing(session, Organisation.oid, [org["oid"] for org in orgs])
    new_orgs = [org for org in orgs if org["oid"] not in present_oids]
    if new_orgs:
        session.execute(insert(Organisation), new_orgs)

    added_patients = 0
    for chunk in _batches(patients(n_patients, seed), batch):
        present = _existing(session, Patient.snils, [row["snils"] for row in chunk])
        rows = [row for row in chunk if row["snils"] not in present]
        if rows:
            session.execute(insert(Patient), rows)
            added_patients += len(rows)
    return {"organisations": len(new_orgs), "patients": added_patients}


def demo_organisations() -> dict[str, Organisation]:
    """The demo's clinics A and B: the first two Moscow organisations of the directory by OID."""
    from portal.database import db

    first = list(
        db.session.scalars(
            select(Organisation).where(Organisation.region_code == "77").order_by(Organisation.oid).limit(2)
        )
    )
    return {"A": first[0], "B": first[1]}
