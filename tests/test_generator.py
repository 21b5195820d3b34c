"""The synthetic-data generator: pure functions only, no database."""

from __future__ import annotations

import re
from datetime import date
from math import gcd

import pytest

from portal.demodata.synthetic import (
    FEMALE_NAMES,
    MALE_NAMES,
    ORGANISATION_KINDS,
    REFERENCE_DATE,
    REGIONS,
    SNILS_SPAN,
    SNILS_START,
    SNILS_STRIDE,
    feminine_surname,
    organisations,
    patients,
)
from portal.directory.models import organisation_search_text as search_text
from portal.identifiers import is_valid_snils, snils_checksum

PHONE = re.compile(r"\+7[3489][0-9]{9}")
FRMO_OID = re.compile(r"1\.2\.643\.5\.1\.13\.13\.12\.2\.([0-9]{2})\.[0-9]+")
# Surname endings that are only masculine or only feminine; -енко, -ых and the like are both.
MASCULINE_ENDINGS = ("ов", "ев", "ёв", "ин", "ын", "ский", "цкий", "ской")
FEMININE_ENDINGS = ("ова", "ева", "ёва", "ина", "ына", "ская", "цкая")


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@pytest.fixture(scope="module")
def many_patients() -> list[dict]:
    return list(patients(2000))


def test_patients_are_deterministic_for_a_seed() -> None:
    assert list(patients(200, seed=7)) == list(patients(200, seed=7))


def test_another_seed_gives_other_patients() -> None:
    first = list(patients(200, seed=7))
    second = list(patients(200, seed=8))
    assert first != second
    assert {p["snils"] for p in first}.isdisjoint({p["snils"] for p in second})


def test_smaller_run_is_a_prefix_of_a_larger_one() -> None:
    # The demo's 20 patients must be the first 20 of a benchmark load with the same seed.
    assert list(patients(20)) == list(patients(300))[:20]


def test_patient_count_and_keys(many_patients: list[dict]) -> None:
    assert len(many_patients) == 2000
    expected = {"surname", "name", "patronymic", "birth_date", "sex", "snils"}
    assert all(set(p) == expected for p in many_patients)


def test_snils_valid_unique_and_checked(many_patients: list[dict]) -> None:
    numbers = [p["snils"] for p in many_patients]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert re.fullmatch(r"[0-9]{11}", number), number
        # Above 001-001-998 the check number is really verified, not waved through.
        assert int(number[:9]) > 1_001_998, number
        assert int(number[9:]) == snils_checksum(number[:9]), number
        assert is_valid_snils(number)


def test_snils_unique_for_a_huge_run_without_generating_it() -> None:
    # Generating 10**8 patients is too slow for a test; check the index -> number map instead:
    # a stride coprime with the span makes it a bijection on range(SPAN).
    assert gcd(SNILS_STRIDE, SNILS_SPAN) == 1
    assert SNILS_SPAN >= 100_000_000
    assert SNILS_START > 1_001_998
    assert SNILS_START + SNILS_SPAN - 1 <= 999_999_999


def test_sex_matches_name_surname_and_patronymic(many_patients: list[dict]) -> None:
    for p in many_patients:
        assert p["sex"] in ("M", "F")
        if p["sex"] == "M":
            assert p["name"] in MALE_NAMES, p
            assert not p["surname"].endswith(FEMININE_ENDINGS), p
            assert p["patronymic"] is None or p["patronymic"].endswith("ич"), p
        else:
            assert p["name"] in FEMALE_NAMES, p
            assert not p["surname"].endswith(MASCULINE_ENDINGS), p
            assert p["patronymic"] is None or p["patronymic"].endswith("на"), p


def test_both_sexes_and_feminine_forms_occur(many_patients: list[dict]) -> None:
    sexes = [p["sex"] for p in many_patients]
    assert 0.35 < sexes.count("M") / len(sexes) < 0.6
    assert any(p["surname"].endswith("ова") for p in many_patients if p["sex"] == "F")
    assert any(p["surname"].endswith("ов") for p in many_patients if p["sex"] == "M")


def test_a_few_patients_have_no_patronymic(many_patients: list[dict]) -> None:
    missing = sum(p["patronymic"] is None for p in many_patients)
    assert 0 < missing < len(many_patients) * 0.1


def test_ages_span_0_to_95(many_patients: list[dict]) -> None:
    assert all(isinstance(p["birth_date"], date) for p in many_patients)
    ages = [age_on(p["birth_date"], REFERENCE_DATE) for p in many_patients]
    assert min(ages) == 0
    assert max(ages) == 95
    assert all(p["birth_date"] <= REFERENCE_DATE for p in many_patients)


@pytest.mark.parametrize(
    ("masculine", "feminine"),
    [
        ("Иванов", "Иванова"),
        ("Соловьёв", "Соловьёва"),
        ("Никитин", "Никитина"),
        ("Вишневский", "Вишневская"),
        ("Высоцкий", "Высоцкая"),
        ("Донской", "Донская"),
        ("Шевченко", "Шевченко"),
        ("Седых", "Седых"),
    ],
)
def test_feminine_surname(masculine: str, feminine: str) -> None:
    assert feminine_surname(masculine) == feminine


def test_patients_rejects_negative_count() -> None:
    with pytest.raises(ValueError):
        list(patients(-1))


def test_organisations_are_deterministic_and_seed_dependent() -> None:
    assert organisations(5) == organisations(5)
    assert organisations(5) != organisations(6)


def test_organisations_shape() -> None:
    orgs = organisations()
    assert 35 <= len(orgs) <= 45
    oids = [org["oid"] for org in orgs]
    assert len(set(oids)) == len(oids)
    for org in orgs:
        match = FRMO_OID.fullmatch(org["oid"])
        assert match, org["oid"]
        assert match.group(1) == org["region_code"]
        assert PHONE.fullmatch(org["phone"]), org["phone"]
        assert org["kind"] in ORGANISATION_KINDS
        assert org["region_code"] in REGIONS
        assert org["name"] and org["city"] and org["address"]
        assert org["search_text"] == search_text(org["name"], org["city"], org["address"])


def test_organisations_cover_regions_and_kinds() -> None:
    orgs = organisations()
    assert {org["region_code"] for org in orgs} == set(REGIONS)
    assert {org["kind"] for org in orgs} == set(ORGANISATION_KINDS)
    # Two cities may both have a «Городская поликлиника № 4», but not one city.
    assert len({(org["name"], org["city"]) for org in orgs}) == len(orgs)


def test_search_text_is_casefolded() -> None:
    text = search_text("ГБУЗ «Городская поликлиника № 12 ДЗМ»", "Москва", "ул. Ёлочная, д. 5")
    assert text == "гбуз «городская поликлиника № 12 дзм» москва ул. ёлочная, д. 5"
