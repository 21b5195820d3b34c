"""Synthetic medical histories for the demo and for benchmarks.

A patient's history is built by ``build_history`` from a private ``random.Random`` seeded with
the seed and the patient's SNILS, so the same seed and day give the same rows on every run, in
any order. It spans 3–5 years for an adult and the whole life of a child, and it hangs
together: a chronic diagnosis stays active for years and shows in the laboratory trends
(glucose and HbA1c for diabetes, cholesterol for hypertension, TSH for hypothyroidism), the
prescriptions, referrals, services and check-ups refer to the visits that produced them, and the
children's vaccinations follow the national calendar. Nothing is dated later than the day before
``today`` except the next vaccination dose, the next check-up and the expiry of prescriptions and
referrals.

Two entry points take the rows to the database: ``add_history`` for one patient (the demo
accounts' cards, with their PDF documents) and ``bulk_history`` for many, a batch of patients per
statement (the benchmark load, 100,000 patients). Both insert with Core ``executemany`` on the
session's connection (visit and report ids come back through RETURNING): the ORM unit of work
was four times slower, and the demo is seeded before many tests. ``seed_demo_history`` is what
``portal.demodata.seed.seed_demo`` calls.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from importlib import resources
from itertools import islice
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.demodata.people import CHILDREN, DEMO_PATIENTS, PEOPLE, email_of
from portal.demodata.synthetic import (
    FEMALE_NAMES,
    MALE_NAMES,
    PATRONYMICS,
    SURNAMES,
    demo_organisations,
    feminine_surname,
)
from portal.demodata.synthetic import patients as synthetic_patients
from portal.directory.specialties import code_for_name
from portal.identifiers import enp_check_digit
from portal.record import calendar, catalog, mkb10
from portal.record import models as m

MSK = timezone(timedelta(hours=3))
Row = dict[str, Any]

# -- the practitioner directory -------------------------------------------------------------------

THERAPIST = "терапевт"
PEDIATRICIAN = "педиатр"
GP = "врач общей практики"
CARDIOLOGIST = "кардиолог"
ENDOCRINOLOGIST = "эндокринолог"
NEUROLOGIST = "невролог"
OPHTHALMOLOGIST = "офтальмолог"
SURGEON = "хирург"
ENT = "оториноларинголог"
FUNCTIONAL = "врач функциональной диагностики"
RADIOLOGIST = "рентгенолог"
LAB_DOCTOR = "врач клинической лабораторной диагностики"
DENTIST = "стоматолог"

STAFFING: dict[str, tuple[tuple[str, int], ...]] = {
    "polyclinic": (
        (THERAPIST, 4), (GP, 1), (CARDIOLOGIST, 1), (ENDOCRINOLOGIST, 1), (NEUROLOGIST, 1),
        (OPHTHALMOLOGIST, 1), (SURGEON, 1), (ENT, 1), (FUNCTIONAL, 1), (RADIOLOGIST, 1),
    ),
    "children_polyclinic": (
        (PEDIATRICIAN, 4), (NEUROLOGIST, 1), (OPHTHALMOLOGIST, 1), (SURGEON, 1), (ENT, 1),
        (FUNCTIONAL, 1), (RADIOLOGIST, 1),
    ),
    "hospital": (
        (THERAPIST, 2), (PEDIATRICIAN, 1), (CARDIOLOGIST, 1), (NEUROLOGIST, 1), (SURGEON, 1), (RADIOLOGIST, 1),
    ),
    "laboratory": ((LAB_DOCTOR, 2),),
    "dental": ((DENTIST, 2),),
}  # fmt: skip


def practitioner_rows(organisation_id: int, oid: str, kind: str, region_code: str) -> list[Row]:
    """The doctors of one organisation: the same names for the same OID."""
    rng = random.Random(f"practitioners:{oid}")
    rows = []
    for specialty, count in STAFFING.get(kind, ((THERAPIST, 1),)):
        for _ in range(count):
            male = rng.random() < 0.35
            masculine, feminine = rng.choice(PATRONYMICS)
            surname = rng.choice(SURNAMES)
            rows.append(
                {
                    "surname": surname if male else feminine_surname(surname),
                    "name": rng.choice(MALE_NAMES if male else FEMALE_NAMES),
                    "patronymic": masculine if male else feminine,
                    "specialty": specialty,
                    "specialty_code": code_for_name(specialty),
                    # The federal register of medical workers (ФРМР) number.
                    "registration_number": f"{region_code}-{rng.randrange(10**7):07d}",
                    "organisation_id": organisation_id,
                    "account_id": None,
                }
            )
    return rows


@dataclass(frozen=True)
class Staff:
    id: int
    organisation_id: int
    specialty: str


@dataclass
class Directory:
    """Organisations by region and kind, and their doctors by specialty."""

    organisations: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # region -> kind -> ids
    staff: dict[int, dict[str, list[Staff]]] = field(default_factory=dict)  # organisation -> specialty

    def doctor(self, rng: random.Random, organisation_id: int, *specialties: str) -> Staff:
        people = self.staff.get(organisation_id, {})
        for specialty in specialties:
            if people.get(specialty):
                return rng.choice(people[specialty])
        return rng.choice([s for group in people.values() for s in group])


def ensure_directory(session: Session) -> Directory:
    """Add the doctors of every organisation that has none; return the directory."""
    from portal.directory.models import Organisation

    orgs = session.execute(
        select(Organisation.id, Organisation.oid, Organisation.kind, Organisation.region_code).order_by(Organisation.id)
    ).all()
    # Demo doctors linked to accounts do not count: the rest of the staff is still missing.
    staffed = set(
        session.scalars(select(m.Practitioner.organisation_id).where(m.Practitioner.account_id.is_(None)).distinct())
    )
    rows = [row for org in orgs if org.id not in staffed for row in practitioner_rows(*org)]
    if rows:
        session.execute(insert(m.Practitioner), rows)
    directory = Directory()
    for org in orgs:
        directory.organisations.setdefault(org.region_code, {}).setdefault(org.kind, []).append(org.id)
    for pid, org_id, specialty in session.execute(
        select(m.Practitioner.id, m.Practitioner.organisation_id, m.Practitioner.specialty).order_by(m.Practitioner.id)
    ):
        directory.staff.setdefault(org_id, {}).setdefault(specialty, []).append(Staff(pid, org_id, specialty))
    return directory


# -- clinical content -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drug:
    inn: str
    form: str
    dose: str
    quantity: str
    preferential: bool = False  # льготный рецепт: valid 30 days instead of 60


@dataclass(frozen=True)
class Condition:
    code: str
    chronic: bool
    specialist: str | None  # who follows it up (None: the district doctor)
    complaints: tuple[str, ...]
    findings: tuple[str, ...]
    recommendations: str
    drugs: tuple[Drug, ...] = ()
    labs: tuple[str, ...] = ()  # panels ordered at diagnosis and follow-up
    days: int = 0  # an acute illness lasts this long


AMOXICILLIN = Drug("Амоксициллин", "капсулы 500 мг", "по 1 капсуле 3 раза в день 7 дней", "21 капсула")
AMOXICILLIN_CHILD = Drug(
    "Амоксициллин", "порошок для приготовления суспензии 250 мг/5 мл", "по 5 мл 3 раза в день 7 дней", "1 флакон"
)
AZITHROMYCIN = Drug("Азитромицин", "таблетки 500 мг", "по 1 таблетке 1 раз в день 3 дня", "3 таблетки")
PARACETAMOL = Drug("Парацетамол", "таблетки 500 мг", "по 1 таблетке при температуре выше 38,5 °C", "10 таблеток")
AMBROXOL = Drug("Амброксол", "таблетки 30 мг", "по 1 таблетке 3 раза в день 7 дней", "20 таблеток")
# What a child gets instead.
CHILD_FORMS = {
    AMOXICILLIN: AMOXICILLIN_CHILD,
    PARACETAMOL: Drug(
        "Парацетамол", "суспензия для приёма внутрь 120 мг/5 мл", "по 10 мл при температуре выше 38,5 °C", "1 флакон"
    ),
    AMBROXOL: Drug("Амброксол", "сироп 15 мг/5 мл", "по 5 мл 3 раза в день 7 дней", "1 флакон 100 мл"),
}

CONDITIONS: dict[str, Condition] = {
    c.code: c
    for c in (
        # chronic
        Condition(
            "I10", True, CARDIOLOGIST,
            ("Периодические головные боли в затылочной области, повышение АД до 160/100 мм рт. ст.",
             "Жалоб активно не предъявляет, АД дома 130–140/85 мм рт. ст."),
            ("Тоны сердца ясные, ритмичные, акцент II тона над аортой.",),
            "Ограничение соли до 5 г в сутки, ежедневный контроль АД с записью в дневник, снижение массы тела.",
            (Drug("Амлодипин", "таблетки 5 мг", "по 1 таблетке 1 раз в день", "30 таблеток"),
             Drug("Лизиноприл", "таблетки 10 мг", "по 1 таблетке 1 раз в день утром", "30 таблеток"),
             Drug("Индапамид", "таблетки с модифицированным высвобождением 1,5 мг", "по 1 таблетке утром",
                  "30 таблеток")),
            ("24331-1", "24323-8"),
        ),
        Condition(
            "E11.9", True, ENDOCRINOLOGIST,
            ("Сухость во рту, жажда, учащённое мочеиспускание.",
             "Жалоб нет, гликемия натощак по глюкометру 6–7 ммоль/л."),
            ("Стопы тёплые, пульсация на артериях стоп сохранена, чувствительность не нарушена.",),
            "Диета с ограничением простых углеводов, самоконтроль гликемии, HbA1c каждые 3–6 месяцев, "
            "осмотр офтальмолога раз в год.",
            (Drug("Метформин", "таблетки, покрытые плёночной оболочкой, 1000 мг",
                  "по 1 таблетке 2 раза в день во время еды", "60 таблеток", preferential=True),
             Drug("Гликлазид", "таблетки с модифицированным высвобождением 60 мг",
                  "по 1 таблетке утром во время завтрака", "30 таблеток", preferential=True)),
            ("4548-4", "24323-8"),
        ),
        Condition(
            "E78.0", True, None,
            ("Жалоб нет. Повышенный холестерин по результатам диспансеризации.",),
            ("Ксантелазм нет.",),
            "Диета с ограничением насыщенных жиров, физическая активность не менее 150 минут в неделю, "
            "контроль липидограммы через 3 месяца.",
            (Drug("Аторвастатин", "таблетки 20 мг", "по 1 таблетке 1 раз в день вечером", "30 таблеток"),
             Drug("Розувастатин", "таблетки 10 мг", "по 1 таблетке 1 раз в день", "28 таблеток")),
            ("24331-1",),
        ),
        Condition(
            "E03.9", True, ENDOCRINOLOGIST,
            ("Слабость, сонливость, зябкость, сухость кожи.", "Самочувствие хорошее, слабость прошла."),
            ("Щитовидная железа не увеличена, безболезненная. Отёков нет.",),
            "Приём левотироксина утром натощак за 30 минут до еды, контроль ТТГ через 6–8 недель после смены дозы.",
            (Drug("Левотироксин натрия", "таблетки 50 мкг", "по 1 таблетке утром натощак", "100 таблеток"),),
            ("3016-3", "14920-3"),
        ),
        Condition(
            "J45.0", True, None,
            ("Эпизоды затруднённого дыхания и сухого кашля при контакте с пыльцой, 1–2 раза в месяц.",),
            ("Дыхание везикулярное, единичные сухие хрипы при форсированном выдохе.",),
            "Избегать контакта с аллергенами, ингалятор всегда при себе, план действий при обострении.",
            (Drug("Будесонид + формотерол", "порошок для ингаляций 160/4,5 мкг/доза", "по 1 ингаляции 2 раза в день",
                  "1 ингалятор (120 доз)", preferential=True),
             Drug("Сальбутамол", "аэрозоль для ингаляций 100 мкг/доза", "по 1–2 ингаляции при приступе",
                  "1 баллончик (200 доз)", preferential=True)),
        ),
        Condition(
            "K29.5", True, None,
            ("Тяжесть и ноющие боли в эпигастрии после еды, изжога.",),
            ("Живот мягкий, умеренно болезненный в эпигастрии.",),
            "Дробное питание 4–5 раз в день, исключить острое, жирное, алкоголь. ЭГДС в плановом порядке.",
            (Drug("Омепразол", "капсулы 20 мг", "по 1 капсуле 2 раза в день за 30 минут до еды 14 дней", "28 капсул"),),
            ("58410-2",),
        ),
        Condition(
            "M42.1", True, NEUROLOGIST,
            ("Ноющие боли в шейном и поясничном отделах позвоночника после нагрузки.",),
            ("Напряжение паравертебральных мышц, движения в поясничном отделе ограничены из-за боли. "
             "Симптомов натяжения нет.",),
            "Лечебная физкультура, избегать подъёма тяжестей, курс массажа.",
            (Drug("Мелоксикам", "таблетки 7,5 мг", "по 1 таблетке 1 раз в день после еды 10 дней", "20 таблеток"),),
        ),
        Condition(
            "I25.1", True, CARDIOLOGIST,
            ("Давящие боли за грудиной при быстрой ходьбе, проходят в покое.",),
            ("Тоны сердца приглушены, ритмичные.",),
            "Ограничение физических нагрузок, контроль ЛПНП (цель ниже 1,4 ммоль/л), нитроглицерин при болях.",
            (Drug("Ацетилсалициловая кислота", "таблетки кишечнорастворимые 100 мг", "по 1 таблетке 1 раз в день",
                  "30 таблеток", preferential=True),
             Drug("Бисопролол", "таблетки 5 мг", "по 1 таблетке утром", "30 таблеток", preferential=True)),
            ("24331-1",),
        ),
        Condition(
            "E66.0", True, ENDOCRINOLOGIST,
            ("Избыточная масса тела, одышка при подъёме по лестнице.",),
            ("Подкожно-жировая клетчатка развита избыточно, распределена равномерно.",),
            "Снижение калорийности питания на 500 ккал в сутки, ходьба 40 минут ежедневно.",
            (), ("24331-1", "14771-0"),
        ),
        Condition(
            "H52.1", True, OPHTHALMOLOGIST,
            ("Снижение остроты зрения вдаль.",),
            ("Острота зрения без коррекции OD 0,4, OS 0,5; с коррекцией 1,0.",),
            "Очковая коррекция, гимнастика для глаз, осмотр офтальмолога раз в год.",
        ),
        Condition(
            "J30.1", True, None,
            ("Заложенность носа, чихание, слезотечение в апреле–мае.",),
            ("Слизистая носа бледная, отёчная, отделяемое серозное.",),
            "Ограничить пребывание на улице в сухую ветреную погоду в сезон цветения, промывание носа.",
            (Drug("Цетиризин", "таблетки 10 мг", "по 1 таблетке 1 раз в день в сезон цветения", "30 таблеток"),
             Drug("Мометазон", "спрей назальный 50 мкг/доза", "по 2 дозы в каждый носовой ход 1 раз в день",
                  "1 флакон (120 доз)")),
        ),
        Condition(
            "L20.8", True, None,
            ("Сухость кожи, зудящие высыпания на сгибах локтей и под коленями.",),
            ("Кожа сухая, на сгибательных поверхностях — участки гиперемии с шелушением и экскориациями.",),
            "Эмоленты 2 раза в день, хлопковая одежда, гипоаллергенная диета.",
            (Drug("Метилпреднизолона ацепонат", "крем 0,1 %", "тонким слоем на поражённые участки 1 раз в день 7 дней",
                  "1 туба 15 г"),),
        ),
        Condition(
            "D50.9", False, None,
            ("Слабость, быстрая утомляемость, ломкость ногтей.",),
            ("Кожные покровы бледные.",),
            "Питание с достаточным содержанием мяса, контроль ОАК и ферритина через 1 и 3 месяца.",
            (Drug("Железа [III] гидроксид полимальтозат", "таблетки жевательные 100 мг", "по 1 таблетке 1 раз в день",
                  "30 таблеток"),),
            ("58410-2", "2276-4"), days=120,
        ),
        Condition(
            "E55.9", False, None,
            ("Слабость, боли в мышцах.",),
            (),
            "Больше бывать на солнце, контроль витамина D через 3 месяца.",
            (Drug("Колекальциферол", "капсулы 2000 МЕ", "по 1 капсуле 1 раз в день", "60 капсул"),),
            ("1989-3",), days=100,
        ),
        # acute
        Condition(
            "J06.9", False, None,
            ("Насморк, першение в горле, температура до {temp} °C в течение {days} дней.",),
            ("Зев гиперемирован, миндалины не увеличены. Носовое дыхание затруднено.",),
            "Обильное тёплое питьё, промывание носа солевым раствором, жаропонижающие при температуре выше 38,5 °C.",
            (PARACETAMOL,), days=7,
        ),
        Condition(
            "J02.9", False, None,
            ("Боль в горле при глотании, температура до {temp} °C.",),
            ("Задняя стенка глотки гиперемирована, зернистая. Миндалины без налётов.",),
            "Полоскание горла, тёплое питьё, щадящее питание.",
            days=7,
        ),
        Condition(
            "J03.9", False, None,
            ("Сильная боль в горле, температура до {temp} °C, слабость.",),
            ("Миндалины увеличены, гиперемированы, в лакунах — налёт. Подчелюстные лимфоузлы увеличены.",),
            "Постельный режим, обильное питьё, полный курс антибиотика, повторный осмотр через 3 дня.",
            (AMOXICILLIN,), ("58410-2", "1988-5"), days=10,
        ),
        Condition(
            "J20.9", False, None,
            ("Кашель с небольшим количеством мокроты, температура до {temp} °C в течение {days} дней.",),
            ("Дыхание жёсткое, рассеянные сухие хрипы.",),
            "Обильное питьё, увлажнение воздуха, муколитики. При температуре более 3 дней — повторный приём.",
            (AMBROXOL,),
            ("58410-2",), days=14,
        ),
        Condition(
            "J18.9", False, None,
            ("Кашель с мокротой, температура до {temp} °C, одышка, слабость.",),
            ("Справа в нижних отделах дыхание ослаблено, влажные мелкопузырчатые хрипы. SpO2 95 %.",),
            "Госпитализация в терапевтическое отделение; после выписки — контрольная рентгенография через 4 недели.",
            (Drug("Амоксициллин + клавулановая кислота", "таблетки 875 мг + 125 мг",
                  "по 1 таблетке 2 раза в день 7 дней", "14 таблеток"),),
            ("36643-5",), days=21,
        ),
        Condition(
            "J01.9", False, ENT,
            ("Заложенность носа, головная боль, усиливающаяся при наклоне, гнойные выделения.",),
            ("Болезненность при пальпации в проекции верхнечелюстных пазух. Слизистая носа отёчна.",),
            "Промывание носа, сосудосуживающие капли не более 5 дней, контроль у ЛОР-врача.",
            (AMOXICILLIN,), days=14,
        ),
        Condition(
            "H66.9", False, ENT,
            ("Боль в ухе, заложенность, температура до {temp} °C.",),
            ("Барабанная перепонка гиперемирована, опознавательные знаки сглажены.",),
            "Сухое тепло на ухо, капли в нос, повторный осмотр через 5 дней.",
            (Drug("Феназон + лидокаин", "капли ушные", "по 4 капли в ухо 3 раза в день 7 дней", "1 флакон 15 мл"),),
            days=10,
        ),
        Condition(
            "A09", False, None,
            ("Жидкий стул до 5 раз в сутки, тошнота, боли в животе.",),
            ("Живот мягкий, болезненный по ходу кишечника, перистальтика усилена.",),
            "Обильное дробное питьё, регидратационные растворы, щадящая диета.",
            (Drug("Смектит диоктаэдрический", "порошок для приготовления суспензии 3 г", "по 1 пакетику 3 раза в день",
                  "10 пакетиков"),),
            days=5,
        ),
        Condition(
            "U07.1", False, None,
            ("Температура до {temp} °C, слабость, кашель, потеря обоняния.",),
            ("Зев гиперемирован, дыхание везикулярное, хрипов нет. SpO2 97 %.",),
            "Самоизоляция, обильное питьё, контроль сатурации; при одышке — вызов скорой помощи.",
            (PARACETAMOL,), ("58410-2", "1988-5"), days=14,
        ),
        Condition(
            "N30.0", False, None,
            ("Частое болезненное мочеиспускание, боли внизу живота.",),
            ("Болезненность при пальпации над лоном. Симптом поколачивания отрицательный с обеих сторон.",),
            "Обильное питьё до 2 л в сутки, контроль общего анализа мочи после лечения.",
            (Drug("Фосфомицин", "гранулы для приготовления раствора 3 г", "3 г однократно вечером", "1 пакетик"),),
            days=7,
        ),
        Condition(
            "M54.5", False, NEUROLOGIST,
            ("Боль в пояснице после подъёма тяжести, усиливается при наклонах.",),
            ("Напряжение мышц поясничной области, болезненность при пальпации паравертебральных точек.",),
            "Сохранять умеренную активность, избегать подъёма тяжестей, ЛФК после стихания боли.",
            (Drug("Диклофенак", "гель для наружного применения 1 %", "наносить на область поясницы 3 раза в день",
                  "1 туба 50 г"),),
            days=14,
        ),
        Condition(
            "B01.9", False, None,
            ("Сыпь на коже и волосистой части головы, зуд, температура до {temp} °C.",),
            ("На коже туловища и лица — папулы и везикулы на разных стадиях развития.",),
            "Домашний режим до 5 дней после последнего высыпания, не расчёсывать элементы сыпи.",
            days=10,
        ),
        Condition(
            "S93.4", False, SURGEON,
            ("Боль и отёк в области голеностопного сустава после подворачивания ноги.",),
            ("Отёк и болезненность в области наружной лодыжки, движения ограничены. Костной крепитации нет.",),
            "Покой, холод в первые сутки, эластичный бинт, возвышенное положение ноги.",
            days=14,
        ),
    )
}  # fmt: skip

# Codes for visits that are not about an illness.
CHECKUP_ADULT = "Z00.0"
CHECKUP_CHILD = "Z00.1"

DIAGNOSIS_CODES: tuple[str, ...] = (*CONDITIONS, CHECKUP_ADULT, CHECKUP_CHILD)

# What a chronic condition does to laboratory values: test -> (untreated, on treatment).
MARKERS: dict[str, dict[str, tuple[float, float]]] = {
    "E11.9": {"14771-0": (8.6, 6.7), "4548-4": (8.4, 6.9)},
    "E78.0": {"14647-2": (7.2, 4.9), "22748-8": (4.7, 2.7), "14927-8": (2.2, 1.5)},
    "I10": {"14647-2": (6.1, 5.3), "22748-8": (3.7, 3.1)},
    "I25.1": {"22748-8": (3.9, 1.9)},
    "E66.0": {"14927-8": (2.1, 1.8), "14771-0": (5.9, 5.5)},
    "E03.9": {"3016-3": (9.8, 2.6), "14920-3": (8.0, 13.5)},
    "D50.9": {"718-7": (98, 126), "2276-4": (6, 38), "789-8": (3.6, 4.3), "4544-3": (32, 38)},
    "E55.9": {"1989-3": (13, 36)},
}
# Inflammation markers on the day of an acute illness: test -> (low, high).
INFLAMMATION: dict[str, dict[str, tuple[float, float]]] = {
    "J03.9": {"6690-2": (10.5, 15.0), "1988-5": (18, 70), "30341-2": (18, 35)},
    "J20.9": {"6690-2": (8.0, 12.0), "1988-5": (6, 25), "30341-2": (12, 25)},
    "J18.9": {"6690-2": (12.0, 18.0), "1988-5": (45, 140), "30341-2": (25, 45)},
    "U07.1": {"6690-2": (3.2, 4.5), "1988-5": (8, 35), "30341-2": (15, 30)},
}

# Adult typical value and spread: test -> (mean, sd) or sex -> (mean, sd).
TYPICAL: dict[str, tuple[float, float] | dict[str, tuple[float, float]]] = {
    "718-7": {"M": (148, 9), "F": (133, 8)},
    "789-8": {"M": (5.0, 0.3), "F": (4.45, 0.3)},
    "6690-2": (6.3, 1.3),
    "777-3": (250, 50),
    "4544-3": {"M": (44, 2.5), "F": (40, 2.5)},
    "30341-2": {"M": (7, 3), "F": (10, 4)},
    "14771-0": (4.9, 0.4),
    "14749-6": (5.3, 0.7),
    "4548-4": (5.2, 0.25),
    "14647-2": (4.9, 0.6),
    "22748-8": (2.8, 0.5),
    "14646-4": {"M": (1.3, 0.2), "F": (1.55, 0.25)},
    "14927-8": (1.2, 0.35),
    "14682-9": {"M": (88, 12), "F": (72, 10)},
    "22664-7": (5.0, 1.1),
    "98979-8": (100, 8),
    "1742-6": {"M": (24, 9), "F": (18, 7)},
    "1920-8": {"M": (24, 7), "F": (20, 6)},
    "14631-6": (11, 4),
    "3016-3": (1.8, 0.7),
    "14920-3": (14, 2),
    "1988-5": (1.5, 1.2),
    "2823-3": (4.3, 0.3),
    "2951-2": (140, 2),
    "2276-4": {"M": (120, 50), "F": (60, 30)},
    "2885-2": (73, 4),
    "14933-6": {"M": (320, 50), "F": (250, 45)},
    "1989-3": (27, 9),
}
# Children's blood counts differ from adults': the laboratory prints these ranges and values.
CHILD_RANGES: dict[str, tuple[float | None, float | None]] = {
    "718-7": (110, 140),
    "789-8": (3.9, 5.3),
    "4544-3": (33, 42),
    "6690-2": (4.5, 13.5),
    "30341-2": (None, 10),
}
CHILD_TYPICAL: dict[str, tuple[float, float]] = {
    "718-7": (125, 7),
    "789-8": (4.6, 0.3),
    "4544-3": (37.5, 2),
    "6690-2": (8.0, 1.8),
    "30341-2": (6, 3),
}
DECIMALS = {"789-8": 2, "14771-0": 1, "14749-6": 1, "4548-4": 1, "14647-2": 2, "22748-8": 2, "14646-4": 2,
            "14927-8": 2, "22664-7": 1, "14631-6": 1, "3016-3": 2, "14920-3": 1, "1988-5": 1, "2823-3": 1,
            "6690-2": 1, "4544-3": 1}  # fmt: skip

STUDY_CONCLUSIONS = {
    "11524-6": (
        "Ритм синусовый, ЧСС {hr} в минуту. Электрическая ось сердца не отклонена. Патологических изменений нет.",
        "Ритм синусовый, ЧСС {hr} в минуту. Горизонтальное положение электрической оси сердца. "
        "Признаки гипертрофии левого желудочка.",
    ),
    "36643-5": (
        "Лёгочные поля без очаговых и инфильтративных теней. Корни структурные. Сердце и аорта без особенностей.",
        "Инфильтрация лёгочной ткани в нижней доле правого лёгкого. Синусы свободны.",
    ),
}

# Номенклатура медицинских услуг (приказ Минздрава России № 804н): code -> (name, rubles).
SERVICES: dict[str, tuple[str, int]] = {
    "B01.047.001": ("Приём (осмотр, консультация) врача-терапевта первичный", 1040),
    "B01.047.002": ("Приём (осмотр, консультация) врача-терапевта повторный", 760),
    "B01.026.001": ("Приём (осмотр, консультация) врача общей практики (семейного врача) первичный", 1040),
    "B01.031.001": ("Приём (осмотр, консультация) врача-педиатра первичный", 1090),
    "B01.031.002": ("Приём (осмотр, консультация) врача-педиатра повторный", 790),
    "B01.015.001": ("Приём (осмотр, консультация) врача-кардиолога первичный", 1380),
    "B01.058.001": ("Приём (осмотр, консультация) врача-эндокринолога первичный", 1380),
    "B01.023.001": ("Приём (осмотр, консультация) врача-невролога первичный", 1290),
    "B01.029.001": ("Приём (осмотр, консультация) врача-офтальмолога первичный", 1190),
    "B01.057.001": ("Приём (осмотр, консультация) врача-хирурга первичный", 1190),
    "B01.028.001": ("Приём (осмотр, консультация) врача-оториноларинголога первичный", 1190),
    "B04.047.001": ("Диспансерный приём (осмотр, консультация) врача-терапевта", 980),
    "B04.047.002": ("Профилактический приём (осмотр, консультация) врача-терапевта", 1150),
    "B04.031.002": ("Профилактический приём (осмотр, консультация) врача-педиатра", 1150),
    "B04.014.004": ("Вакцинация", 420),
    "B03.016.002": ("Общий (клинический) анализ крови", 390),
    "B03.016.004": ("Анализ крови биохимический общетерапевтический", 1250),
    "B03.016.005": ("Анализ крови по оценке нарушений липидного обмена биохимический", 620),
    "A09.05.083": ("Исследование уровня гликированного гемоглобина в крови", 510),
    "A09.05.023": ("Исследование уровня глюкозы в крови", 140),
    "A09.05.065": ("Исследование уровня тиреотропного гормона (ТТГ) в крови", 460),
    "A09.05.063": ("Исследование уровня свободного тироксина (СТ4) сыворотки крови", 460),
    "A09.05.009": ("Определение концентрации C-реактивного белка в сыворотке крови", 330),
    "A09.05.076": ("Исследование уровня ферритина в крови", 480),
    "A09.05.205": ("Исследование уровня 25-ОН витамина Д в крови", 1650),
    "A05.10.006": ("Регистрация электрокардиограммы", 560),
    "A06.09.007": ("Рентгенография лёгких", 830),
}
VISIT_SERVICE = {
    THERAPIST: ("B01.047.001", "B01.047.002"),
    GP: ("B01.026.001", "B01.026.001"),
    PEDIATRICIAN: ("B01.031.001", "B01.031.002"),
    CARDIOLOGIST: ("B01.015.001", "B01.015.001"),
    ENDOCRINOLOGIST: ("B01.058.001", "B01.058.001"),
    NEUROLOGIST: ("B01.023.001", "B01.023.001"),
    OPHTHALMOLOGIST: ("B01.029.001", "B01.029.001"),
    SURGEON: ("B01.057.001", "B01.057.001"),
    ENT: ("B01.028.001", "B01.028.001"),
}
PANEL_SERVICE = {
    "58410-2": "B03.016.002",
    "24323-8": "B03.016.004",
    "24331-1": "B03.016.005",
    "4548-4": "A09.05.083",
    "14771-0": "A09.05.023",
    "3016-3": "A09.05.065",
    "14920-3": "A09.05.063",
    "1988-5": "A09.05.009",
    "2276-4": "A09.05.076",
    "1989-3": "A09.05.205",
    "11524-6": "A05.10.006",
    "36643-5": "A06.09.007",
}
SPECIALIST_REFERRAL = {
    CARDIOLOGIST: "Консультация врача-кардиолога",
    ENDOCRINOLOGIST: "Консультация врача-эндокринолога",
    NEUROLOGIST: "Консультация врача-невролога",
    OPHTHALMOLOGIST: "Консультация врача-офтальмолога",
    SURGEON: "Консультация врача-хирурга",
    ENT: "Консультация врача-оториноларинголога",
}

INSURERS = (
    "АО «Страховая компания «СОГАЗ-Мед»",
    "ООО «Капитал Медицинское Страхование»",
    "АО «МАКС-М»",
    "ООО «СК «Ингосстрах-М»",
    "АО «Страховая компания «Согласие-М»",
)
ALLERGIES = (  # substance, category, reaction, severity
    ("Амоксициллин", "medication", "Крапивница", "moderate"),
    ("Ацетилсалициловая кислота", "medication", "Бронхоспазм", "severe"),
    ("Цефтриаксон", "medication", "Кожная сыпь, зуд", "mild"),
    ("Метамизол натрия", "medication", "Отёк Квинке", "severe"),
    ("Пыльца берёзы", "environment", "Ринит, конъюнктивит", "mild"),
    ("Шерсть кошки", "environment", "Чихание, слезотечение", "mild"),
    ("Арахис", "food", "Отёк губ, крапивница", "severe"),
    ("Цитрусовые", "food", "Кожная сыпь", "mild"),
)
CHILD_ALLERGIES = (("Белок коровьего молока", "food", "Атопический дерматит", "moderate"),)
RISK_FACTORS = {
    "smoking": "курение табака",
    "overweight": "избыточная масса тела",
    "obesity": "ожирение",
    "pressure": "повышенный уровень артериального давления",
    "cholesterol": "гиперхолестеринемия",
    "glucose": "гипергликемия",
    "inactivity": "низкая физическая активность",
    "diet": "нерациональное питание",
}
# Conditions that put a patient under dispensary observation (health group IIIa).
DISPENSARY = {"I10", "E11.9", "E78.0", "I25.1", "J45.0", "E03.9"}


# -- one patient's history ------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientInfo:
    id: int
    birth_date: date
    sex: str
    snils: str


@dataclass(frozen=True)
class Site:
    """Where a patient is seen: the attachment clinic and its district doctor, a laboratory and a
    hospital."""

    clinic: int
    district: Staff
    laboratory: int
    hospital: int
    region_code: str


@dataclass(frozen=True)
class Profile:
    """What the history should show; None lets the generator choose."""

    years: int | None = None  # adults: how many years back (3–5)
    conditions: tuple[str, ...] | None = None  # chronic and long-lasting ones
    allergies: tuple[str, ...] | None = None  # substances
    inpatient: bool = False  # one hospital stay with a discharge summary
    documents: bool = False  # PDF protocol and discharge summary (``add_history`` only)
    skip_vaccines: tuple[str, ...] = ()  # calendar codes left undone
    light: bool = False  # fewer visits: the demo's background patients


TABLES = (
    "visit", "diagnosis", "lab_report", "observation", "immunization", "prescription", "checkup",
    "referral", "allergy", "insurance_policy", "clinic_attachment", "service_record", "document",
)  # fmt: skip


def age_on(birth: date, day: date) -> int:
    return calendar.age_years(birth, day)


def _moment(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), MSK).astimezone(UTC)


class History:
    """The rows of one patient, table by table. A row that refers to a visit or a report keeps
    the parent row under "_visit"/"_report" until the writer knows its id."""

    def __init__(self, patient: PatientInfo, site: Site, directory: Directory, today: date, seed: int,
                 profile: Profile) -> None:  # fmt: skip
        self.patient = patient
        self.site = site
        self.directory = directory
        self.today = today
        self.profile = profile
        self.rng = random.Random(f"{seed}:{patient.snils}")
        self.rows: dict[str, list[Row]] = {table: [] for table in TABLES}
        self.child_now = age_on(patient.birth_date, today) < calendar.ADULT_AGE
        self.bias = {code: self.rng.gauss(0, 0.7) for code in catalog.TESTS if code not in catalog.VITALS}
        self.onsets: dict[str, date] = {}  # chronic condition -> onset
        self.allergens: set[str] = set()
        self.smoker = self.rng.random() < (0.28 if patient.sex == "M" else 0.1)
        self.height = self.rng.gauss(178 if patient.sex == "M" else 165, 6)
        self.bmi = self.rng.uniform(20.5, 29.5)
        self.build = self.rng.gauss(0, 0.7)  # a child's size against the average
        self.sequence = self.rng.randrange(10**5)
        self.docs: list[tuple[str, Row]] = []

    # -- helpers

    def child_on(self, day: date) -> bool:
        return age_on(self.patient.birth_date, day) < calendar.ADULT_AGE

    def _number(self) -> str:
        self.sequence += self.rng.randint(1, 40)
        return f"{self.site.region_code}-{self.site.clinic % 10000:04d}-{self.sequence % 10**6:06d}"

    def _visit_time(self, day: date) -> datetime:
        return _moment(day, self.rng.randint(8, 19), self.rng.choice((0, 15, 20, 30, 40, 45)))

    def _doctor(self, day: date, specialty: str | None = None, organisation: int | None = None) -> Staff:
        organisation = organisation or self.site.clinic
        if specialty is None:
            if organisation == self.site.clinic and self.rng.random() < 0.8:
                return self.site.district
            specialty = PEDIATRICIAN if self.child_on(day) else THERAPIST
        fallback = PEDIATRICIAN if self.child_on(day) else THERAPIST
        return self.directory.doctor(self.rng, organisation, specialty, fallback, GP, THERAPIST)

    def _service(self, code: str, day: date, staff: Staff | None, visit: Row | None, organisation: int) -> None:
        name, rubles = SERVICES[code]
        self.rows["service_record"].append(
            {
                "patient_id": self.patient.id,
                "provided_on": day,
                "code": code,
                "name": name,
                "quantity": 1,
                "cost_kopecks": rubles * 100,
                "paid_by": "oms",
                "organisation_id": organisation,
                "practitioner_id": staff.id if staff else None,
                "_visit": visit,
            }
        )

    def _pressure(self, day: date) -> tuple[int, int]:
        onset = self.onsets.get("I10")
        age = age_on(self.patient.birth_date, day)
        systolic = 112 + max(0, age - 30) * 0.35 + self.rng.gauss(0, 5)
        if onset is not None:
            systolic = 158 if day < onset + timedelta(days=90) else 134
            systolic += self.rng.gauss(0, 5)
        return round(systolic), round(systolic * 0.63 + self.rng.gauss(0, 3))

    def _weight(self, day: date) -> float:
        bmi = self.bmi + (6 if "E66.0" in self.onsets else 0) + self.rng.gauss(0, 0.3)
        return round(bmi * (self.height / 100) ** 2, 1)

    def _child_size(self, day: date) -> tuple[int, float]:
        months = (day - self.patient.birth_date).days / 30.44
        years = months / 12
        if years < 1:
            height, weight = 50 + 2.1 * months, 3.4 + 0.62 * months
        else:
            growth = 6.4 if self.patient.sex == "F" or years < 12 else 7.5
            height = (
                75 + 10 * min(years - 1, 1) + growth * max(min(years, 16 if self.patient.sex == "M" else 15) - 2, 0)
            )
            weight = (15.5 + 0.15 * years + self.build) * (height / 100) ** 2
        factor = 1 + self.build * 0.03
        return round(height * factor), round(weight * factor, 1)

    # -- laboratory

    def _value(self, code: str, day: date, acute: str | None) -> tuple[float, float | None, float | None]:
        child = self.child_on(day)
        test = catalog.TESTS[code]
        low, high = CHILD_RANGES[code] if child and code in CHILD_RANGES else test.range_for(self.patient.sex)
        typical = CHILD_TYPICAL.get(code) if child else None
        if typical is None:
            spec = TYPICAL[code]
            typical = spec[self.patient.sex] if isinstance(spec, dict) else spec
        mean, sd = typical
        if code == "98979-8":
            mean -= max(0, age_on(self.patient.birth_date, day) - 40) * 0.8
        value = mean + sd * (self.bias[code] + self.rng.gauss(0, 0.45))
        for condition, onset in self.onsets.items():
            marker = MARKERS.get(condition, {}).get(code)
            if marker is None or day < onset - timedelta(days=200):
                continue
            untreated, treated = marker
            progress = min(1.0, max(0.0, (day - onset).days / 365))
            centre = untreated + (treated - untreated) * progress
            resolved = self._resolved(condition)
            if resolved and day > resolved:
                centre = treated
            value = centre + (abs(untreated - treated) * 0.08 + sd * 0.1) * self.rng.gauss(0, 1)
        if acute and code in INFLAMMATION.get(acute, {}):
            value = self.rng.uniform(*INFLAMMATION[acute][code])
        value = max(value, 0.1 * mean)
        digits = DECIMALS.get(code, 0)
        return (round(value, digits) if digits else float(round(value))), low, high

    def _resolved(self, condition: str) -> date | None:
        spec = CONDITIONS.get(condition)
        if spec is None or spec.chronic or condition not in self.onsets:
            return None
        return self.onsets[condition] + timedelta(days=spec.days)

    def lab(self, panel_code: str, day: date, visit: Row | None, acute: str | None = None) -> Row:
        panel = catalog.PANELS[panel_code]
        taken = _moment(day, self.rng.randint(8, 10), self.rng.randrange(0, 60, 5))
        if panel.kind == "instrumental":
            organisation = self.site.clinic
            staff = self._doctor(day, FUNCTIONAL if panel_code == "11524-6" else RADIOLOGIST)
            abnormal = (panel_code == "36643-5" and acute == "J18.9") or (
                panel_code == "11524-6" and "I10" in self.onsets and day >= self.onsets["I10"]
            )
            conclusion = STUDY_CONCLUSIONS[panel_code][int(abnormal)].format(hr=self.rng.randint(62, 84))
        else:
            organisation = self.site.laboratory
            staff = self._doctor(day, LAB_DOCTOR, organisation)
            conclusion = None
        report = {
            "patient_id": self.patient.id,
            "code": panel_code,
            "kind": panel.kind,
            "taken_at": taken,
            "organisation_id": organisation,
            "practitioner_id": staff.id,
            "visit_id": None,
            "conclusion": conclusion,
            "flagged": 0,
            "_visit": visit,
            "_observations": [],
        }
        for code in panel.tests:
            value, low, high = self._value(code, day, acute)
            flag = catalog.flag(value, low, high)
            report["flagged"] += flag is not None
            observation = {
                "patient_id": self.patient.id,
                "loinc": code,
                "value": value,
                "value_text": None,
                "unit": catalog.TESTS[code].unit,
                "low": low,
                "high": high,
                "flag": flag,
                "taken_at": taken,
                "_report": report,
            }
            report["_observations"].append(observation)
            self.rows["observation"].append(observation)
        self.rows["lab_report"].append(report)
        if panel_code in PANEL_SERVICE:
            self._service(PANEL_SERVICE[panel_code], day, staff, visit, organisation)
        return report

    # -- visits and what they produce

    def visit(self, day: date, staff: Staff, condition: Condition | None, *, first: bool, kind: str = "clinic",
              complaints: str | None = None, conclusion: str | None = None,
              recommendations: str | None = None, service: str | None = None) -> Row:  # fmt: skip
        """A visit and the service it is billed as (by default a first or repeat appointment
        with the doctor's specialty; none for a hospital stay)."""
        temp = f"{self.rng.uniform(37.4, 38.9):.1f}".replace(".", ",")
        findings = ["Общее состояние удовлетворительное.", "Кожные покровы и видимые слизистые обычной окраски."]
        if condition is not None:
            complaints = complaints or self.rng.choice(condition.complaints).format(
                temp=temp, days=self.rng.randint(2, 4)
            )
            findings += list(condition.findings)
            title = mkb10.title(condition.code)
            conclusion = conclusion or (
                f"{'Диагноз' if first else 'Наблюдение по поводу'}: {title} ({condition.code})."
                + ("" if first or not condition.chronic else " Состояние стабильное, лечение переносит хорошо.")
            )
            recommendations = recommendations or condition.recommendations
        if not self.child_on(day):
            systolic, diastolic = self._pressure(day)
            findings.append(f"АД {systolic}/{diastolic} мм рт. ст., ЧСС {self.rng.randint(62, 86)} в минуту.")
        if condition is None or condition.code not in ("J20.9", "J18.9", "J45.0"):  # these describe the lungs
            findings.append("Дыхание везикулярное, хрипов нет.")
        row = {
            "patient_id": self.patient.id,
            "started_at": self._visit_time(day),
            "kind": kind,
            "organisation_id": staff.organisation_id,
            "practitioner_id": staff.id,
            "complaints": complaints,
            "examination": " ".join(findings),
            "conclusion": conclusion,
            "recommendations": recommendations,
        }
        self.rows["visit"].append(row)
        codes = VISIT_SERVICE.get(staff.specialty)
        service = service or (codes[0 if first else 1] if codes and kind != "inpatient" else None)
        if service:
            self._service(service, day, staff, row, staff.organisation_id)
        return row

    def diagnosis(self, code: str, onset: date, visit: Row, staff: Staff, resolved: date | None) -> None:
        if resolved is not None and resolved > self.today:
            resolved = None
        self.rows["diagnosis"].append(
            {
                "patient_id": self.patient.id,
                "code": code,
                "title": mkb10.title(code),
                "onset_on": onset,
                "status": "active" if resolved is None else "resolved",
                "resolved_on": resolved,
                "kind": "main",
                "organisation_id": staff.organisation_id,
                "practitioner_id": staff.id,
                "_visit": visit,
            }
        )

    def prescribe(self, drug: Drug, day: date, visit: Row, staff: Staff) -> None:
        if drug.inn in self.allergens:
            drug = AZITHROMYCIN
        cancelled = self.rng.random() < 0.04
        cancelled_at = _moment(min(day + timedelta(days=self.rng.randint(1, 5)), self.today - timedelta(days=1)), 12, 0)
        self.rows["prescription"].append(
            {
                "patient_id": self.patient.id,
                "number": self._number(),
                "issued_on": day,
                "drug": drug.inn,
                "form": drug.form,
                "dose": drug.dose,
                "quantity": drug.quantity,
                "valid_until": day + timedelta(days=30 if drug.preferential else 60),
                "preferential": drug.preferential,
                "cancelled_at": cancelled_at if cancelled else None,
                "cancel_reason": self.rng.choice(
                    ("Замена препарата в связи с плохой переносимостью.", "Изменение схемы лечения.")
                )
                if cancelled
                else None,
                "visit_id": None,
                "organisation_id": staff.organisation_id,
                "practitioner_id": staff.id,
                "pharmacy_id": None,
                "sent_at": None,
                "pharmacy_status": None,
                "_visit": visit,
            }
        )

    def refer(self, day: date, visit: Row, staff: Staff, kind: str, target: str, reason: str, code: str | None,
              used: bool, to_organisation: int | None = None) -> None:  # fmt: skip
        valid_until = day + timedelta(days=30 if kind in ("consultation", "hospital") else 14)
        status = "used" if used else ("issued" if valid_until >= self.today else "used")
        self.rows["referral"].append(
            {
                "patient_id": self.patient.id,
                "number": self._number(),
                "issued_on": day,
                "kind": kind,
                "target": target,
                "reason": reason,
                "diagnosis_code": code,
                "valid_until": valid_until,
                "status": status,
                "visit_id": None,
                "organisation_id": staff.organisation_id,
                "practitioner_id": staff.id,
                "to_organisation_id": to_organisation,
                "_visit": visit,
            }
        )

    def _drugs(self, condition: Condition, day: date) -> tuple[Drug, ...]:
        if self.child_on(day):
            return tuple(CHILD_FORMS.get(drug, drug) for drug in condition.drugs)
        return condition.drugs

    # -- episodes

    def acute(self, code: str, day: date) -> None:
        condition = CONDITIONS[code]
        child = self.child_on(day)
        specialist = condition.specialist if self.rng.random() < 0.4 else None
        staff = self._doctor(day, specialist)
        home = child and self.rng.random() < 0.3
        visit = self.visit(day, staff, condition, first=True, kind="home" if home else "clinic")
        resolved = day + timedelta(days=condition.days + self.rng.randint(-2, 3))
        self.diagnosis(code, day, visit, staff, resolved)
        for drug in self._drugs(condition, day)[: self.rng.randint(0, 1) if code == "J06.9" else 2]:
            self.prescribe(drug, day, visit, staff)
        for panel in condition.labs:
            self.lab(panel, day + timedelta(days=1), visit, acute=code)
        if code == "J18.9":
            self._hospital_stay(day, condition, resolved, visit, staff)
        elif condition.labs and resolved < self.today and self.rng.random() < 0.5:
            follow = self.visit(
                resolved, staff, None, first=False,
                complaints="Жалоб нет.", conclusion=f"{mkb10.title(code)} ({code}): выздоровление.",
                recommendations="Режим обычный.",
            )  # fmt: skip
            self.lab("58410-2", resolved, follow)

    def _hospital_stay(self, day: date, condition: Condition, resolved: date, visit: Row, referrer: Staff) -> None:
        hospital = self.site.hospital
        admitted = day + timedelta(days=1)
        self.refer(day, visit, referrer, "hospital", "Госпитализация в терапевтическое отделение",
                   mkb10.title(condition.code), condition.code, used=True, to_organisation=hospital)  # fmt: skip
        discharged = min(admitted + timedelta(days=self.rng.randint(7, 11)), self.today)
        staff = self._doctor(admitted, PEDIATRICIAN if self.child_on(day) else THERAPIST, hospital)
        stay = self.visit(
            admitted, staff, condition, first=False, kind="inpatient",
            conclusion=f"Госпитализация {admitted:%d.%m.%Y}–{discharged:%d.%m.%Y}. Диагноз: "
            f"{mkb10.title(condition.code)} ({condition.code}). "
            f"{'Выписан' if self.patient.sex == 'M' else 'Выписана'} в удовлетворительном состоянии.",
            recommendations=condition.recommendations,
        )  # fmt: skip
        self.lab("58410-2", admitted, stay, acute=condition.code)
        self.lab("1988-5", admitted, stay, acute=condition.code)
        self.docs.append(("discharge", stay))
        if resolved + timedelta(days=14) <= self.today:
            control = resolved + timedelta(days=10)
            follow = self.visit(control, self._doctor(control), None, first=False, complaints="Жалоб нет.",
                                conclusion="Пневмония разрешилась.", recommendations="Режим обычный.")  # fmt: skip
            self.lab("36643-5", control, follow)

    def chronic(self, code: str, onset: date, start: date) -> None:
        """The diagnosis, at onset or, for an older condition, at the first visit in the window;
        the work-up and a specialist's consultation for a new one."""
        condition = CONDITIONS[code]
        self.onsets[code] = onset
        first_day = max(onset, start)
        staff = self._doctor(first_day)
        diagnosed_here = onset >= start
        visit = self.visit(first_day, staff, condition, first=diagnosed_here)
        resolved = None if condition.chronic else onset + timedelta(days=condition.days)
        self.diagnosis(code, onset, visit, staff, resolved)
        for panel in condition.labs:
            self.lab(panel, first_day, visit)
        for drug in self._drugs(condition, first_day)[:2]:
            self.prescribe(drug, first_day, visit, staff)
        if condition.specialist and diagnosed_here:
            specialist = self._doctor(first_day, condition.specialist)
            later = first_day + timedelta(days=self.rng.randint(5, 20))
            self.refer(first_day, visit, staff, "consultation", SPECIALIST_REFERRAL[condition.specialist],
                       mkb10.title(code), code, used=later < self.today)  # fmt: skip
            if later < self.today:
                self.visit(later, specialist, condition, first=True)
        if code in ("I10", "I25.1"):
            self.lab("11524-6", first_day + timedelta(days=2), visit)

    def follow_ups(self, start: date) -> None:
        """Dispensary visits about every six months (yearly for a light history) for all the
        conditions active then: one visit, the monitoring labs, the prescriptions renewed."""
        interval = 365 if self.profile.light else 182
        day = start + timedelta(days=interval + self.rng.randint(-30, 30))
        while day < self.today:
            active = [
                CONDITIONS[code]
                for code, onset in self.onsets.items()
                if onset + timedelta(days=90) <= day and not ((end := self._resolved(code)) and end < day)
            ]
            if active:
                main = self.rng.choice(active)
                specialist = main.specialist if self.rng.random() < 0.3 else None
                staff = self._doctor(day, specialist)
                titles = "; ".join(f"{mkb10.title(c.code)} ({c.code})" for c in active)
                visit = self.visit(
                    day, staff, main, first=False,
                    conclusion=f"Наблюдение по поводу: {titles}. Состояние стабильное, лечение переносит хорошо.",
                    recommendations=" ".join(c.recommendations for c in active),
                )  # fmt: skip
                panels = {p for c in active for p in c.labs[:1]}
                panels |= {p for c in active for p in c.labs[1:] if self.rng.random() < 0.3}
                for panel in sorted(panels):
                    self.lab(panel, day, visit)
                for condition in active:
                    for drug in self._drugs(condition, day)[:1]:
                        self.prescribe(drug, day, visit, staff)
                if any(c.code in ("I10", "I25.1") for c in active) and self.rng.random() < 0.5:
                    self.lab("11524-6", day, visit)
            day += timedelta(days=interval + self.rng.randint(-30, 30))

    def recent(self, code: str) -> None:
        """A follow-up in the last weeks: an active prescription and a referral still valid."""
        condition = CONDITIONS[code]
        day = self.today - timedelta(days=self.rng.randint(3, 12))
        staff = self.site.district
        visit = self.visit(day, staff, condition, first=False)
        for drug in self._drugs(condition, day)[:1]:
            self.prescribe(drug, day, visit, staff)
        self.refer(day, visit, staff, "test", catalog.panel_name("58410-2"), "Контроль", code, used=False,
                   to_organisation=self.site.laboratory)  # fmt: skip
        self.docs.append(("protocol", visit))

    # -- prevention

    def checkups(self, start: date) -> None:
        """Диспансеризация: every 3 years from 18 to 39, every year from 40."""
        born = self.patient.birth_date
        for year in range(start.year, self.today.year + 1):
            age = year - born.year
            if age < 18 or (age < 40 and (age - 18) % 3) or self.rng.random() < 0.25:
                continue
            day = date(year, self.rng.randint(2, 11), self.rng.randint(1, 28))
            if day < start or day >= self.today:
                continue
            self._checkup(day, age)

    def _checkup(self, day: date, age: int) -> None:
        staff = self.site.district
        visit = self.visit(
            day, staff, None, first=True, complaints="Жалоб нет. Проходит диспансеризацию.",
            conclusion=f"{mkb10.title(CHECKUP_ADULT)} ({CHECKUP_ADULT}).",
            recommendations="Результаты обследования — на повторном приёме.", service="B04.047.002",
        )  # fmt: skip
        lipids = self.lab("24331-1", day, visit)
        glucose = self.lab("14771-0", day, visit)
        if age >= 40:
            self.lab("58410-2", day, visit)
        if age >= 35 or self.rng.random() < 0.3:
            self.lab("11524-6", day, visit)
        cholesterol = self._observed(lipids, "14647-2")
        sugar = self._observed(glucose, "14771-0")
        systolic, diastolic = self._pressure(day)
        weight = self._weight(day)
        bmi = weight / (self.height / 100) ** 2
        risks = [
            key
            for key, present in (
                ("smoking", self.smoker),
                ("obesity", bmi >= 30),
                ("overweight", 25 <= bmi < 30),
                ("pressure", systolic >= 140),
                ("cholesterol", cholesterol > 5.0),
                ("glucose", sugar > 6.0),
                ("inactivity", self.rng.random() < 0.3),
                ("diet", self.rng.random() < 0.25),
            )
            if present
        ]
        chronic = sorted(c for c, onset in self.onsets.items() if c in DISPENSARY and onset <= day)
        group = "IIIa" if chronic else ("II" if risks else "I")
        completed = day + timedelta(days=self.rng.randint(3, 14))
        if group == "I":
            follow_up = "Краткое профилактическое консультирование о здоровом образе жизни."
        elif group == "II":
            follow_up = "Углублённое профилактическое консультирование, коррекция факторов риска."
        else:
            follow_up = "Диспансерное наблюдение у врача-терапевта: " + ", ".join(
                f"{mkb10.title(c)} ({c})" for c in chronic
            ) + "."  # fmt: skip
        next_age = age + (1 if age + 1 >= 40 else 3 - (age - 18) % 3)
        self.rows["checkup"].append(
            {
                "patient_id": self.patient.id,
                "year": day.year,
                "stage": 1,
                "started_on": day,
                "completed_on": completed if completed <= self.today else None,
                "organisation_id": staff.organisation_id,
                "practitioner_id": staff.id,
                "health_group": group,
                "systolic": systolic,
                "diastolic": diastolic,
                "glucose": sugar,
                "cholesterol": cholesterol,
                "height_cm": round(self.height),
                "weight_kg": weight,
                "risk_factors": ", ".join(RISK_FACTORS[k] for k in risks) or None,
                "conclusion": f"Диспансеризация, I этап. Группа здоровья {group}.",
                "follow_up": follow_up,
                "next_due_on": date(day.year + next_age - age, day.month, 1),
            }
        )

    @staticmethod
    def _observed(report: Row, code: str) -> float:
        return next(row["value"] for row in report["_observations"] if row["loinc"] == code)

    def child_checkups(self) -> None:
        """Preventive examinations: monthly in the first year, then once a year."""
        born = self.patient.birth_date
        days = [calendar.add_months(born, n) for n in (1, 2, 3, 6, 9, 12)]
        days += [calendar.add_months(born, 12 * n) + timedelta(days=self.rng.randint(0, 40)) for n in range(2, 18)]
        if self.profile.light:
            days = days[-4:]
        for day in days:
            if day >= self.today or not self.child_on(day):
                continue
            staff = self.site.district
            age = age_on(born, day)
            visit = self.visit(
                day, staff, None, first=False, complaints="Жалоб нет. Плановый профилактический осмотр.",
                conclusion=f"{mkb10.title(CHECKUP_CHILD)} ({CHECKUP_CHILD}). Физическое и нервно-психическое "
                "развитие соответствует возрасту.",
                recommendations="Режим дня и питание по возрасту. Прививки по национальному календарю.",
                service="B04.031.002",
            )  # fmt: skip
            if age < 1:
                continue
            if self.rng.random() < 0.6:
                self.lab("58410-2", day, visit)
            height, weight = self._child_size(day)
            group = "II" if self.allergens or any(onset <= day for onset in self.onsets.values()) else "I"
            systolic = round(95 + age * 1.6 + self.rng.gauss(0, 4)) if age >= 7 else None
            self.rows["checkup"].append(
                {
                    "patient_id": self.patient.id,
                    "year": day.year,
                    "stage": 1,
                    "started_on": day,
                    "completed_on": day,
                    "organisation_id": staff.organisation_id,
                    "practitioner_id": staff.id,
                    "health_group": group,
                    "systolic": systolic,
                    "diastolic": round(systolic * 0.64) if systolic else None,
                    "glucose": None,
                    "cholesterol": None,
                    "height_cm": height,
                    "weight_kg": weight,
                    "risk_factors": None,
                    "conclusion": f"Профилактический медицинский осмотр несовершеннолетнего. Группа здоровья {group}.",
                    "follow_up": "Следующий профилактический осмотр через год.",
                    "next_due_on": calendar.add_months(day, 12),
                }
            )

    def vaccinate(self, target: str, label: str, day: date, vaccine: str, organisation: int,
                  next_dose: date | None) -> None:  # fmt: skip
        staff = self._doctor(day, organisation=organisation)
        dose_number = sum(row["target"] == target for row in self.rows["immunization"]) + 1
        self.rows["immunization"].append(
            {
                "patient_id": self.patient.id,
                "vaccine": vaccine,
                "target": target,
                "given_on": day,
                "series": f"{self.rng.choice('АБВГДЕКМНПРТ')}{self.rng.randint(100, 999)}-{day:%y}",
                "dose_number": dose_number,
                "dose_label": label,
                "organisation_id": organisation,
                "practitioner_id": staff.id,
                "place": None,
                "reactions": "Повышение температуры до 37,6 °C в течение суток." if self.rng.random() < 0.07 else None,
                "next_dose_on": next_dose,
                "confirmed": True,
                "added_by_id": None,
                "document_id": None,
                "confirmed_by_id": None,
                "confirmed_at": None,
            }
        )
        if organisation == self.site.clinic:
            self._service("B04.014.004", day, staff, None, organisation)

    def child_vaccinations(self) -> None:
        born = self.patient.birth_date
        combined = self.rng.random() < 0.5
        given: dict[str, date] = {}
        for item in calendar.CALENDAR:
            if item.risk_group or item.code in self.profile.skip_vaccines:
                continue
            if not self.profile.skip_vaccines and self.rng.random() < 0.03:  # missed: due or overdue now
                continue
            due = item.due_age(born)
            if item.previous in given:
                due = max(due, given[item.previous] + timedelta(days=item.min_interval_days))
            day = due + timedelta(days=0 if item.months == 0 else self.rng.randint(0, 20))
            if day >= self.today:
                continue
            given[item.code] = day
            vaccine = self._vaccine(item, combined)
            organisation = self.site.hospital if item.months == 0 else self.site.clinic
            following = [
                later for later in calendar.CALENDAR
                if later.previous == item.code and not later.risk_group
            ]  # fmt: skip
            next_dose = (
                max(following[0].due_age(born), day + timedelta(days=following[0].min_interval_days))
                if following
                else None
            )
            self.vaccinate(item.target, item.dose_label, day, vaccine, organisation, next_dose)

    def _vaccine(self, item: calendar.CalendarItem, combined: bool) -> str:
        if combined and item.target in ("DTP", "Polio", "Hib") and item.months <= 18:
            return "Пентаксим"
        if item.target == "Polio" and item.dose_label in ("R2", "R3"):
            return "Бивак полио"
        choices = calendar.VACCINES[item.target]
        return choices[self.sequence % len(choices)] if item.target != "DTP" else "АКДС"

    def adult_vaccinations(self, start: date) -> None:
        born = self.patient.birth_date
        if age_on(born, self.today) >= 24:
            years_ago = self.rng.choice((2, 4, 6, 8, 9, 11, 12))
            td = self.today - timedelta(days=365 * years_ago + self.rng.randint(0, 200))
            if age_on(born, td) >= 18:
                self.vaccinate("Td", "R", td, "АДС-М", self.site.clinic, calendar.add_months(td, 120))
        self.flu(start, 0.55 if age_on(born, self.today) >= 60 else 0.3)

    def flu(self, start: date, chance: float) -> None:
        for year in range(start.year, self.today.year + 1):
            day = date(year, self.rng.choice((9, 10, 10, 11)), self.rng.randint(1, 28))
            if start <= day < self.today and self.rng.random() < chance:
                vaccine = calendar.VACCINES["Flu"][(year + self.sequence) % len(calendar.VACCINES["Flu"])]
                self.vaccinate("Flu", "V", day, vaccine, self.site.clinic, None)

    # -- administrative

    def administrative(self) -> None:
        born = self.patient.birth_date
        since = born + timedelta(days=7) if self.child_now else max(
            born + timedelta(days=18 * 365), self.today - timedelta(days=self.rng.randint(3, 15) * 365)
        )  # fmt: skip
        self.rows["clinic_attachment"].append(
            {
                "patient_id": self.patient.id,
                "organisation_id": self.site.clinic,
                "practitioner_id": self.site.district.id,
                "district": str(self.rng.randint(1, 40)),
                "since": since,
                "until": None,
            }
        )
        payload = f"{self.site.region_code}0{born:%Y%m%d}{self.patient.id % 10000:04d}"
        number = payload + str(enp_check_digit(payload))
        valid_from = born + timedelta(days=10) if self.child_now else since
        self.rows["insurance_policy"].append(
            {
                "patient_id": self.patient.id,
                "number": number,
                "insurer": self.rng.choice(INSURERS),
                "region_code": self.site.region_code,
                "status": "active",
                "valid_from": valid_from,
                "valid_until": None,
            }
        )

    def allergies(self, start: date) -> None:
        if self.profile.allergies is not None:
            chosen = [a for a in ALLERGIES + CHILD_ALLERGIES if a[0] in self.profile.allergies]
        elif self.rng.random() < 0.6:
            chosen = []
        else:
            chosen = self.rng.sample(ALLERGIES, self.rng.randint(1, 2))
        for allergy in chosen:
            substance, category, reaction, severity = allergy
            infant = allergy in CHILD_ALLERGIES  # found in the first months, outgrown by three
            if infant:
                day = self.patient.birth_date + timedelta(days=self.rng.randint(60, 300))
            else:
                day = start + timedelta(days=self.rng.randint(0, max(1, (self.today - start).days // 2)))
            staff = self._doctor(day)
            self.allergens.add(substance)
            self.rows["allergy"].append(
                {
                    "patient_id": self.patient.id,
                    "substance": substance,
                    "category": category,
                    "reaction": reaction,
                    "severity": severity,
                    "status": "inactive" if infant and age_on(self.patient.birth_date, self.today) >= 3 else "active",
                    "recorded_on": day,
                    "organisation_id": staff.organisation_id,
                    "practitioner_id": staff.id,
                }
            )


# -- choosing a history ---------------------------------------------------------------------------


def _chronic_choice(rng: random.Random, age: int, sex: str) -> list[str]:
    if age < 18:
        odds = {"L20.8": 0.1 if age <= 12 else 0.03, "J45.0": 0.04 if age >= 5 else 0, "J30.1": 0.06 if age >= 5 else 0,
                "H52.1": 0.12 if age >= 8 else 0, "D50.9": 0.04, "E55.9": 0.05}  # fmt: skip
    else:
        odds = {
            "I10": 0.05 if age < 35 else 0.25 if age < 50 else 0.45 if age < 65 else 0.6,
            "E78.0": 0.08 if age < 40 else 0.3,
            "E11.9": 0 if age < 35 else 0.07 if age < 50 else 0.15,
            "E03.9": 0.08 if sex == "F" else 0.02,
            "K29.5": 0.1,
            "M42.1": 0.2 if age >= 30 else 0.05,
            "E66.0": 0.12,
            "J45.0": 0.04,
            "J30.1": 0.08,
            "H52.1": 0.1,
            "D50.9": 0.1 if sex == "F" and age < 50 else 0.02,
            "E55.9": 0.12,
        }
    chosen = [code for code, chance in odds.items() if rng.random() < chance]
    if "I10" in chosen and age >= 55 and rng.random() < 0.3:
        chosen.append("I25.1")
    return chosen


def _acute_weights(age: int, sex: str, year: int) -> dict[str, int]:
    if age < 18:
        weights = {"J06.9": 45, "J02.9": 8, "J03.9": 8, "J20.9": 8, "H66.9": 10 if age < 10 else 3, "A09": 8}
        if age >= 6:
            weights |= {"S93.4": 2, "J01.9": 3}
    else:
        weights = {"J06.9": 40, "J02.9": 10, "J03.9": 6, "J20.9": 10, "J01.9": 5, "A09": 6, "M54.5": 10, "S93.4": 4}
        if sex == "F":
            weights["N30.0"] = 6
    if year >= 2020:
        weights["U07.1"] = 6 if age >= 18 else 2
    return weights


def _episodes_per_year(age: int) -> float:
    return 4 if age < 3 else 3.5 if age < 7 else 2.5 if age < 12 else 1.5 if age < 18 else 1.2 if age < 65 else 1.0


def build_history(patient: PatientInfo, site: Site, directory: Directory, today: date, seed: int,
                  profile: Profile = Profile()) -> History:  # fmt: skip
    """One patient's rows for every record table (documents excepted: ``add_history`` makes those)."""
    h = History(patient, site, directory, today, seed, profile)
    rng, born = h.rng, patient.birth_date
    age = age_on(born, today)
    years = 2 if profile.light else (profile.years or rng.randint(3, 5))
    whole_life = h.child_now and not profile.light
    start = born if whole_life else max(born, today - timedelta(days=int(365.25 * years)))
    h.administrative()
    h.allergies(start)

    codes = list(profile.conditions) if profile.conditions is not None else _chronic_choice(rng, age, patient.sex)
    onsets = {}
    earliest = born + timedelta(days=365 if age < 18 else 18 * 365)
    if earliest > today - timedelta(days=90):  # too young for a long-standing condition
        codes = []
    for code in codes:
        chronic = CONDITIONS[code].chronic
        # An older condition is already treated when the window opens; the profile's own
        # conditions begin inside it, so their trends show.
        older = profile.conditions is None and rng.random() < 0.5
        if chronic and older and start - timedelta(days=200) > earliest:
            onset = earliest + timedelta(days=rng.randint(0, (start - earliest).days - 200))
        else:
            span = max(1, (today - max(start, earliest)).days - 60)
            onset = max(start, earliest) + timedelta(days=rng.randint(0, span))
        onsets[code] = min(onset, today - timedelta(days=30))
    h.onsets.update(onsets)
    for code, onset in onsets.items():
        h.chronic(code, onset, start)
    h.follow_ups(start)

    day = max(start, born + timedelta(days=60))
    while day <= today:
        episode_age = age_on(born, day)
        rate = _episodes_per_year(episode_age) * (0.5 if profile.light else 1)
        day += timedelta(days=max(7, int(rng.expovariate(rate / 365))))
        if day > today - timedelta(days=2):
            break
        weights = _acute_weights(episode_age, patient.sex, day.year)
        h.acute(rng.choices(list(weights), list(weights.values()))[0], day)
    if h.child_now and age >= 3 and rng.random() < 0.4:
        chickenpox = born + timedelta(days=rng.randint(2 * 365, min(7, age) * 365))
        h.acute("B01.9", min(chickenpox, today - timedelta(days=3)))
    if profile.inpatient:
        h.acute("J18.9", today - timedelta(days=rng.randint(300, 700)))

    if h.child_now:
        h.child_checkups()
        h.child_vaccinations()
        h.flu(max(start, born + timedelta(days=183)), 0.4)
    else:
        h.checkups(start)
        h.adult_vaccinations(start)
    if profile.documents:
        h.recent(next(iter(onsets), "J06.9"))
    return h


def site_for(directory: Directory, patient: PatientInfo, today: date, seed: int) -> Site:
    """A clinic in a region drawn for the patient: a children's polyclinic for a child."""
    rng = random.Random(f"site:{seed}:{patient.snils}")
    region = rng.choice(sorted(directory.organisations))
    kinds = directory.organisations[region]
    child = age_on(patient.birth_date, today) < calendar.ADULT_AGE
    preferred = ("children_polyclinic", "polyclinic") if child else ("polyclinic", "hospital")
    clinics = next((kinds[k] for k in preferred if kinds.get(k)), next(iter(kinds.values())))
    clinic = rng.choice(clinics)
    district = directory.doctor(rng, clinic, PEDIATRICIAN if child else THERAPIST, GP, THERAPIST)
    laboratory = rng.choice(kinds.get("laboratory") or [clinic])
    hospital = rng.choice(kinds.get("hospital") or [clinic])
    return Site(clinic, district, laboratory, hospital, region)


# -- writing --------------------------------------------------------------------------------------

MODELS: dict[str, type] = {
    "visit": m.Visit,
    "diagnosis": m.Diagnosis,
    "lab_report": m.LabReport,
    "observation": m.Observation,
    "immunization": m.Immunization,
    "prescription": m.Prescription,
    "checkup": m.Checkup,
    "referral": m.Referral,
    "allergy": m.Allergy,
    "insurance_policy": m.InsurancePolicy,
    "clinic_attachment": m.ClinicAttachment,
    "service_record": m.ServiceRecord,
    "document": m.Document,
}
# Parents first: their ids are needed by the rows that refer to them.
WRITE_ORDER = ("visit", "lab_report", *(t for t in TABLES if t not in ("visit", "lab_report")))
DOCUMENT_TITLES = {"protocol": "Протокол осмотра", "discharge": "Выписной эпикриз"}


def _clean(row: Row) -> Row:
    if "_visit" in row:
        visit = row["_visit"]
        row["visit_id"] = visit["id"] if visit is not None else None
    if "_report" in row:
        row["report_id"] = row["_report"]["id"]
    return {key: value for key, value in row.items() if not key.startswith("_")}


def _write_core(session: Session, rows: dict[str, list[Row]]) -> None:
    connection = session.connection()
    for table in WRITE_ORDER:
        batch = rows[table]
        if not batch:
            continue
        model_table = MODELS[table].__table__
        values = [_clean(row) for row in batch]
        if table in ("visit", "lab_report"):
            statement = insert(model_table).returning(model_table.c.id, sort_by_parameter_order=True)
            for row, new_id in zip(batch, connection.execute(statement, values).scalars(), strict=True):
                row["id"] = new_id
        else:
            connection.execute(insert(model_table), values)


def _documents(h: History) -> None:
    """One PDF per kind, stored once per patient, for the visits that produced a document."""
    from portal import uploads
    from portal.documents.service import storage_purpose

    stored: dict[str, tuple[str, int]] = {}
    for kind, visit in h.docs:
        if kind not in stored:
            data = resources.files("portal.demodata").joinpath(f"data/demo_{kind}.pdf").read_bytes()
            stored[kind] = (uploads.store(data, storage_purpose(h.patient.id)), len(data))
        key, size = stored[kind]
        title = DOCUMENT_TITLES[kind]
        day = visit["started_at"].astimezone(MSK).date()
        filename = f"{title} {day:%d.%m.%Y}.pdf"
        h.rows["document"].append(
            {
                "patient_id": h.patient.id,
                "kind": kind,
                "title": title,
                "document_date": day,
                "organisation_id": visit["organisation_id"],
                "uploaded_by_id": None,
                "storage_key": key,
                "filename": filename,
                "content_type": "application/pdf",
                "size": size,
                "keep_until": None,
                "search_text": f"{title} {filename}".casefold(),
            }
        )


def counts(rows: dict[str, list[Row]]) -> dict[str, int]:
    return {table: len(batch) for table, batch in rows.items()}


def add_history(session: Session, patient: PatientInfo, site: Site, directory: Directory, today: date,
                seed: int, profile: Profile = Profile()) -> dict[str, int]:  # fmt: skip
    """One patient's history, with PDF documents when the profile asks for them."""
    h = build_history(patient, site, directory, today, seed, profile)
    if profile.documents:
        _documents(h)
    _write_core(session, h.rows)
    return counts(h.rows)


def _chunks(items: Iterable[PatientInfo], size: int) -> Iterator[list[PatientInfo]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bulk_history(session: Session, patients: Iterable[PatientInfo], directory: Directory, today: date,
                 seed: int, profile: Profile = Profile(), batch: int = 500) -> dict[str, int]:  # fmt: skip
    """The Core path: histories for many patients, written ``batch`` patients at a time with
    ``executemany`` (ids of visits and reports come back through RETURNING)."""
    total = dict.fromkeys(TABLES, 0)
    for chunk in _chunks(patients, batch):
        rows: dict[str, list[Row]] = {table: [] for table in TABLES}
        for patient in chunk:
            site = site_for(directory, patient, today, seed)
            h = build_history(patient, site, directory, today, seed, profile)
            for table, batch_rows in h.rows.items():
                rows[table].extend(batch_rows)
        _write_core(session, rows)
        for table, batch_rows in rows.items():
            total[table] += len(batch_rows)
    return total


def patients_without_history(session: Session, snils: Iterable[str] | None = None) -> list[PatientInfo]:
    """Patients (all, or those with these SNILS) without a history yet. Every history has a clinic
    attachment (a young adult's may have no visit), so that is what marks one."""
    query = select(m.Patient.id, m.Patient.birth_date, m.Patient.sex, m.Patient.snils).order_by(m.Patient.id)
    if snils is not None:
        query = query.where(m.Patient.snils.in_(list(snils)))
    attached = set(session.scalars(select(m.ClinicAttachment.patient_id).distinct()))
    return [PatientInfo(*row) for row in session.execute(query) if row.id not in attached]


# -- the demo -------------------------------------------------------------------------------------

DEMO_SEED = 2026


def _practitioner_for(session: Session, directory: Directory, account, organisation_id: int) -> Staff:
    """The demo doctor's own entry in the directory, linked to the account."""
    found = session.scalar(select(m.Practitioner).where(m.Practitioner.account_id == account.id))
    if found is None:
        found = m.Practitioner(
            surname=account.surname,
            name=account.name,
            patronymic=account.patronymic,
            specialty=THERAPIST,
            specialty_code=code_for_name(THERAPIST),
            registration_number=f"77-{int(account.snils[:9]) % 10**7:07d}",
            organisation_id=organisation_id,
            account_id=account.id,
        )
        session.add(found)
        session.flush()
    staff = Staff(found.id, found.organisation_id, found.specialty)
    directory.staff.setdefault(found.organisation_id, {}).setdefault(found.specialty, []).append(staff)
    return staff


def seed_demo_history(session: Session, today: date) -> dict[str, int]:
    """Histories for the demo cards that have none: full ones for the demo patient Смирнова
    Елена and the guardian's children Дарья and Максим, lighter ones for everyone else."""
    from portal.auth.models import Account
    from portal.identifiers import make_snils

    directory = ensure_directory(session)
    orgs = demo_organisations()
    accounts = {
        a.email: a for a in session.scalars(select(Account).where(Account.email.in_([email_of(p) for p in PEOPLE])))
    }
    by_key = {p.key: accounts.get(email_of(p)) for p in PEOPLE}
    if by_key["doctor_b"] is not None:
        _practitioner_for(session, directory, by_key["doctor_b"], orgs["B"].id)
    district = _practitioner_for(session, directory, by_key["doctor"], orgs["A"].id) if by_key["doctor"] else None

    full_snils = {make_snils(PEOPLE[0].snils9): "patient", **{make_snils(c[5]): c[0] for c in CHILDREN}}
    wanted = [make_snils(p.snils9) for p in PEOPLE if p.verified] + [make_snils(c[5]) for c in CHILDREN]
    wanted += [p["snils"] for p in synthetic_patients(DEMO_PATIENTS)]
    total: dict[str, int] = dict.fromkeys(TABLES, 0)
    light: list[PatientInfo] = []
    moscow = directory.organisations.get("77", {})
    for patient in patients_without_history(session, wanted):
        key = full_snils.get(patient.snils)
        if key is None or district is None:
            light.append(patient)
            continue
        rng = random.Random(f"demo-site:{key}")
        doctor = district if key == "patient" else directory.doctor(rng, orgs["A"].id, PEDIATRICIAN, THERAPIST)
        site = Site(orgs["A"].id, doctor, (moscow.get("laboratory") or [orgs["A"].id])[0], orgs["B"].id, "77")
        profile = {
            "patient": Profile(years=5, conditions=("E03.9", "D50.9", "J30.1"), allergies=("Амоксициллин",),
                               inpatient=True, documents=True),
            "child_9": Profile(conditions=("L20.8",), allergies=("Белок коровьего молока",), documents=True,
                               skip_vaccines=("BCG-R",)),
            "child_16": Profile(conditions=("H52.1",), documents=True, skip_vaccines=("DT-R3",)),
        }[key]  # fmt: skip
        for table, n in add_history(session, patient, site, directory, today, DEMO_SEED, profile).items():
            total[table] += n
    for table, n in bulk_history(session, light, directory, today, DEMO_SEED, Profile(light=True)).items():
        total[table] += n
    return total
