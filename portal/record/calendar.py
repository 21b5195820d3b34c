"""The national immunisation calendar (приказ Минздрава России от 06.12.2021 № 1122н,
Приложение 1) as data, and which vaccinations are done, due, overdue or planned for a person.

The due/overdue rule is an engineering convention (DOMAIN.md §4), not part of the order: an item
is due from ``birth + age`` (or from the previous dose plus the minimum interval, when that is
later) and overdue after a grace period: 1 month for items up to 6 months of age, 3 months for
12–20 months, 12 months from 6 years. Risk-group items («по показаниям») are never overdue.
Adults: Td every 10 years after the last revaccination; flu once a season, planned each autumn.
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

ADULT_AGE = 18
TD_INTERVAL_YEARS = 10
FLU_SEASON_START = (9, 1)  # the campaign opens in September
FLU_SEASON_END = (3, 1)  # and a dose given after August counts for the season
FLU_FROM_MONTHS = 6
FLU_ADULT_CALENDAR_AGE = 60  # adults from 60 are in the calendar; younger ones by indication


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def _localised(ru: str, en: str, locale: str | None) -> str:
    return en if (locale or "ru").lower().startswith("en") else ru


@dataclass(frozen=True)
class CalendarItem:
    code: str
    target: str  # disease key: HepB, BCG, PCV, DTP, Polio, Hib, MMR, DT, Td, Flu
    dose_label: str  # V1, V2… (vaccination), R1, R2… (revaccination)
    months: int  # age: months, plus ``days``
    ru: str
    en: str
    days: int = 0
    risk_group: bool = False  # only for risk groups: «по показаниям»
    previous: str | None = None  # the dose that must come first (its code)
    min_interval_days: int = 0  # after the previous dose
    until_months: int | None = None  # not given after this age if missed

    def name(self, locale: str | None = None) -> str:
        return _localised(self.ru, self.en, locale)

    def due_age(self, birth_date: date) -> date:
        return add_months(birth_date, self.months) + timedelta(days=self.days)

    @property
    def grace_months(self) -> int:
        if self.months <= 6:
            return 1
        if self.months <= 20:
            return 3
        return 12


_Y = 12  # months in a year

CALENDAR: tuple[CalendarItem, ...] = (
    CalendarItem("HepB-1", "HepB", "V1", 0, "Первая вакцинация против вирусного гепатита B", "Hepatitis B, 1st dose"),
    CalendarItem("BCG", "BCG", "V1", 0, "Вакцинация против туберкулёза", "Tuberculosis (BCG)", days=3),
    CalendarItem(
        "HepB-2",
        "HepB",
        "V2",
        1,
        "Вторая вакцинация против вирусного гепатита B",
        "Hepatitis B, 2nd dose",
        previous="HepB-1",
        min_interval_days=28,
    ),
    CalendarItem(
        "HepB-3r",
        "HepB",
        "V3",
        2,
        "Третья вакцинация против вирусного гепатита B (группы риска)",
        "Hepatitis B, 3rd dose (risk groups)",
        risk_group=True,
        previous="HepB-2",
        min_interval_days=28,
    ),
    CalendarItem("PCV-1", "PCV", "V1", 2, "Первая вакцинация против пневмококковой инфекции", "Pneumococcal, 1st dose"),
    CalendarItem(
        "DTP-1",
        "DTP",
        "V1",
        3,
        "Первая вакцинация против дифтерии, коклюша, столбняка",
        "Diphtheria, pertussis, tetanus, 1st dose",
    ),
    CalendarItem("Polio-1", "Polio", "V1", 3, "Первая вакцинация против полиомиелита", "Polio, 1st dose"),
    CalendarItem(
        "Hib-1",
        "Hib",
        "V1",
        3,
        "Первая вакцинация против гемофильной инфекции типа b",
        "Haemophilus influenzae type b, 1st dose",
        until_months=5 * _Y,
    ),
    CalendarItem(
        "DTP-2",
        "DTP",
        "V2",
        4,
        "Вторая вакцинация против дифтерии, коклюша, столбняка",
        "Diphtheria, pertussis, tetanus, 2nd dose",
        days=15,
        previous="DTP-1",
        min_interval_days=45,
    ),
    CalendarItem(
        "Polio-2",
        "Polio",
        "V2",
        4,
        "Вторая вакцинация против полиомиелита",
        "Polio, 2nd dose",
        days=15,
        previous="Polio-1",
        min_interval_days=45,
    ),
    CalendarItem(
        "Hib-2",
        "Hib",
        "V2",
        4,
        "Вторая вакцинация против гемофильной инфекции типа b",
        "Haemophilus influenzae type b, 2nd dose",
        days=15,
        previous="Hib-1",
        min_interval_days=45,
        until_months=5 * _Y,
    ),
    CalendarItem(
        "PCV-2",
        "PCV",
        "V2",
        4,
        "Вторая вакцинация против пневмококковой инфекции",
        "Pneumococcal, 2nd dose",
        days=15,
        previous="PCV-1",
        min_interval_days=56,
        until_months=5 * _Y,
    ),
    CalendarItem(
        "DTP-3",
        "DTP",
        "V3",
        6,
        "Третья вакцинация против дифтерии, коклюша, столбняка",
        "Diphtheria, pertussis, tetanus, 3rd dose",
        previous="DTP-2",
        min_interval_days=45,
    ),
    CalendarItem(
        "HepB-3",
        "HepB",
        "V3",
        6,
        "Третья вакцинация против вирусного гепатита B",
        "Hepatitis B, 3rd dose",
        previous="HepB-2",
        min_interval_days=60,
    ),
    CalendarItem(
        "Polio-3",
        "Polio",
        "V3",
        6,
        "Третья вакцинация против полиомиелита",
        "Polio, 3rd dose",
        previous="Polio-2",
        min_interval_days=45,
    ),
    CalendarItem(
        "Hib-3",
        "Hib",
        "V3",
        6,
        "Третья вакцинация против гемофильной инфекции типа b",
        "Haemophilus influenzae type b, 3rd dose",
        previous="Hib-2",
        min_interval_days=45,
        until_months=5 * _Y,
    ),
    CalendarItem(
        "MMR-1", "MMR", "V1", 12, "Вакцинация против кори, краснухи, эпидемического паротита", "Measles, mumps, rubella"
    ),
    CalendarItem(
        "HepB-4r",
        "HepB",
        "V4",
        12,
        "Четвёртая вакцинация против вирусного гепатита B (группы риска)",
        "Hepatitis B, 4th dose (risk groups)",
        risk_group=True,
        previous="HepB-3r",
        min_interval_days=28,
    ),
    CalendarItem(
        "PCV-R",
        "PCV",
        "R1",
        15,
        "Ревакцинация против пневмококковой инфекции",
        "Pneumococcal, booster",
        previous="PCV-2",
        min_interval_days=120,
        until_months=5 * _Y,
    ),
    CalendarItem(
        "DTP-R1",
        "DTP",
        "R1",
        18,
        "Первая ревакцинация против дифтерии, коклюша, столбняка",
        "Diphtheria, pertussis, tetanus, 1st booster",
        previous="DTP-3",
        min_interval_days=365,
    ),
    CalendarItem(
        "Polio-R1",
        "Polio",
        "R1",
        18,
        "Первая ревакцинация против полиомиелита",
        "Polio, 1st booster",
        previous="Polio-3",
        min_interval_days=365,
    ),
    CalendarItem(
        "Hib-R",
        "Hib",
        "R1",
        18,
        "Ревакцинация против гемофильной инфекции типа b",
        "Haemophilus influenzae type b, booster",
        previous="Hib-3",
        min_interval_days=365,
        until_months=5 * _Y,
    ),
    CalendarItem(
        "Polio-R2",
        "Polio",
        "R2",
        20,
        "Вторая ревакцинация против полиомиелита",
        "Polio, 2nd booster",
        previous="Polio-R1",
        min_interval_days=60,
    ),
    CalendarItem(
        "MMR-2",
        "MMR",
        "R1",
        6 * _Y,
        "Ревакцинация против кори, краснухи, эпидемического паротита",
        "Measles, mumps, rubella, booster",
        previous="MMR-1",
        min_interval_days=180,
    ),
    CalendarItem(
        "Polio-R3",
        "Polio",
        "R3",
        6 * _Y,
        "Третья ревакцинация против полиомиелита",
        "Polio, 3rd booster",
        previous="Polio-R2",
        min_interval_days=60,
    ),
    CalendarItem(
        "DT-R2",
        "DT",
        "R2",
        6 * _Y,
        "Вторая ревакцинация против дифтерии, столбняка",
        "Diphtheria, tetanus, 2nd booster",
        previous="DTP-R1",
        min_interval_days=365,
    ),
    CalendarItem("BCG-R", "BCG", "R1", 6 * _Y, "Ревакцинация против туберкулёза", "Tuberculosis (BCG), booster"),
    CalendarItem(
        "DT-R3",
        "DT",
        "R3",
        14 * _Y,
        "Третья ревакцинация против дифтерии, столбняка",
        "Diphtheria, tetanus, 3rd booster",
        previous="DT-R2",
        min_interval_days=365,
    ),
)

ITEMS: dict[str, CalendarItem] = {item.code: item for item in CALENDAR}

TD = CalendarItem(
    "Td-10y",
    "Td",
    "R",
    24 * _Y,
    "Ревакцинация против дифтерии, столбняка (каждые 10 лет)",
    "Diphtheria, tetanus booster (every 10 years)",
)
FLU = CalendarItem("Flu", "Flu", "V", FLU_FROM_MONTHS, "Вакцинация против гриппа (ежегодно)", "Influenza (every year)")

# Disease names, for a vaccination someone adds by hand.
TARGETS: dict[str, tuple[str, str]] = {
    "HepB": ("Вирусный гепатит B", "Hepatitis B"),
    "BCG": ("Туберкулёз", "Tuberculosis"),
    "PCV": ("Пневмококковая инфекция", "Pneumococcal disease"),
    "DTP": ("Дифтерия, коклюш, столбняк", "Diphtheria, pertussis, tetanus"),
    "Polio": ("Полиомиелит", "Polio"),
    "Hib": ("Гемофильная инфекция типа b", "Haemophilus influenzae type b"),
    "MMR": ("Корь, краснуха, эпидемический паротит", "Measles, mumps, rubella"),
    "DT": ("Дифтерия, столбняк", "Diphtheria, tetanus"),
    "Td": ("Дифтерия, столбняк (взрослые)", "Diphtheria, tetanus (adults)"),
    "Flu": ("Грипп", "Influenza"),
}

# Vaccines registered in Russia, for the demo data and as suggestions.
VACCINES: dict[str, tuple[str, ...]] = {
    "HepB": ("Регевак В", "Энджерикс В", "Вакцина гепатита B рекомбинантная"),
    "BCG": ("БЦЖ-М", "БЦЖ"),
    "PCV": ("Превенар 13", "Синфлорикс"),
    "DTP": ("АКДС", "Инфанрикс", "Пентаксим"),
    "Polio": ("Полимилекс", "Имовакс Полио", "Бивак полио"),
    "Hib": ("Акт-ХИБ", "Хиберикс"),
    "MMR": ("Вактривир", "Приорикс"),
    "DT": ("АДС-М",),
    "Td": ("АДС-М",),
    "Flu": ("Ультрикс Квадри", "Совигрипп", "Флю-М", "Гриппол плюс"),
}


def target_name(target: str, locale: str | None = None) -> str:
    names = TARGETS.get(target)
    return _localised(*names, locale) if names else target


@dataclass(frozen=True)
class DueItem:
    code: str
    target: str
    dose_label: str
    label_ru: str
    label_en: str
    due_from: date
    status: str  # done, due, overdue, planned
    by_indication: bool = False  # «по показаниям»: never overdue
    given_on: date | None = None
    overdue_from: date | None = None

    def name(self, locale: str | None = None) -> str:
        return _localised(self.label_ru, self.label_en, locale)


def age_years(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def _status(due_from: date, overdue_from: date | None, on: date) -> str:
    if on < due_from:
        return "planned"
    if overdue_from is not None and on >= overdue_from:
        return "overdue"
    return "due"


def due(birth_date: date, given: Iterable[tuple[str, str | None, date]], on: date) -> list[DueItem]:
    """The calendar for a person born on ``birth_date`` as of ``on``, in calendar order.

    ``given`` holds (target, dose_label, given_on) of the vaccinations recorded. A child's
    items are listed while they are under 18; an adult sees the childhood doses recorded, the
    next Td booster and this season's flu vaccination.
    """
    given = list(given)
    doses: dict[tuple[str, str | None], date] = {}
    for target, label, given_on in given:
        key = (target, label)
        if key not in doses or given_on < doses[key]:
            doses[key] = given_on
    age_months = (on.year - birth_date.year) * 12 + on.month - birth_date.month - (on.day < birth_date.day)
    adult = age_years(birth_date, on) >= ADULT_AGE
    result: list[DueItem] = []
    for item in CALENDAR:
        given_on = doses.get((item.target, item.dose_label))
        due_from = item.due_age(birth_date)
        if item.previous and (previous := doses.get((ITEMS[item.previous].target, ITEMS[item.previous].dose_label))):
            due_from = max(due_from, previous + timedelta(days=item.min_interval_days))
        if given_on is not None:
            result.append(_item(item, due_from, "done", given_on=given_on))
            continue
        if adult or (item.until_months is not None and age_months >= item.until_months):
            continue
        overdue_from = None if item.risk_group else add_months(due_from, item.grace_months)
        result.append(_item(item, due_from, _status(due_from, overdue_from, on), overdue_from=overdue_from))
    if adult:
        result.append(_td(birth_date, given, on))
    if age_months >= FLU_FROM_MONTHS:
        result.append(_flu(birth_date, given, on))
    return result


def _item(item: CalendarItem, due_from: date, status: str, **extra) -> DueItem:
    return DueItem(
        item.code, item.target, item.dose_label, item.ru, item.en, due_from, status, item.risk_group, **extra
    )


def _td(birth_date: date, given: list[tuple[str, str | None, date]], on: date) -> DueItem:
    """The next diphtheria–tetanus booster: 10 years after the last one (the one at 14 years,
    or an adult Td), planned until then."""
    boosters = [day for target, _, day in given if target in ("DT", "Td") and day <= on]
    last = max(boosters, default=None)
    due_from = add_months(last, TD_INTERVAL_YEARS * 12) if last else TD.due_age(birth_date)
    due_from = max(due_from, add_months(birth_date, ADULT_AGE * 12))
    overdue_from = add_months(due_from, TD.grace_months)
    return _item(TD, due_from, _status(due_from, overdue_from, on), overdue_from=overdue_from)


def flu_season_start(on: date) -> date:
    """1 September of the season ``on`` belongs to (a season runs September to August)."""
    year = on.year if (on.month, on.day) >= FLU_SEASON_START else on.year - 1
    return date(year, *FLU_SEASON_START)


def _flu(birth_date: date, given: list[tuple[str, str | None, date]], on: date) -> DueItem:
    """Due from September to February unless a dose was given for the season (from late August,
    when the campaign's vaccine arrives); from March, planned for the next September."""
    season = flu_season_start(on)
    if on >= date(season.year + 1, *FLU_SEASON_END):
        season = date(on.year, *FLU_SEASON_START)
    counted_from = season - timedelta(days=31)
    this_season = [day for target, _, day in given if target == "Flu" and counted_from <= day <= on]
    by_indication = ADULT_AGE <= age_years(birth_date, on) < FLU_ADULT_CALENDAR_AGE
    if this_season:
        status, given_on = "done", min(this_season)
    else:
        status, given_on = ("planned" if on < season else "due"), None
    return DueItem(FLU.code, "Flu", FLU.dose_label, FLU.ru, FLU.en, season, status, by_indication, given_on)
