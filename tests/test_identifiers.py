"""SNILS and ENP validation against the test values in DOMAIN.md, section 1.6."""

from __future__ import annotations

import pytest

from portal.identifiers import (
    enp_check_digit,
    format_snils,
    is_valid_enp,
    is_valid_snils,
    make_snils,
    snils_checksum,
    snils_digits,
)

VALID_SNILS = [
    "112-233-445 95",  # official example, sum 95
    "123-456-789 64",  # sum 165 -> 64
    "987-654-321 83",  # sum 285 -> 83
    "100-018-999 00",  # sum exactly 100 -> 00
    "200-899-999 00",  # sum 201 -> 201 mod 101 = 100 -> 00
]
INVALID_SNILS = [
    "112-233-445 96",  # should be 95
    "123-456-789 65",  # should be 64
    "987-654-321 38",  # check digits swapped (83)
    "100-018-999 01",  # sum 100 must give 00
    "112-233-445",  # only 9 digits
]
VALID_ENP = [
    "7700000000000016",
    "5001001002003008",
    "1234567890123452",
    "7809123456789013",
    "5060181590830166",
    "8451999122899990",  # the FFOMS worked example
]
INVALID_ENP = [
    "7700000000000017",  # check digit should be 6
    "1234567890123425",  # last two digits transposed
    "5001001002003080",  # last two digits transposed
    "123456789012345",  # 15 digits
    "77000000000000A6",  # non-digit
]


def weighted_sum(nine: str) -> int:
    """The SNILS weighted sum, written out here so the test data below can be checked."""
    return sum(int(digit) * weight for digit, weight in zip(nine, range(9, 0, -1), strict=True))


@pytest.mark.parametrize("value", VALID_SNILS)
def test_valid_snils(value: str) -> None:
    assert is_valid_snils(value)


@pytest.mark.parametrize("value", INVALID_SNILS)
def test_invalid_snils(value: str) -> None:
    assert not is_valid_snils(value)


@pytest.mark.parametrize(
    ("nine", "total", "expected"),
    [
        ("112233445", 95, 95),
        ("001580434", 99, 99),  # the largest sum that is its own check number
        ("100018999", 100, 0),
        ("001590407", 101, 0),
        ("001680164", 102, 1),  # just past the special cases: 102 mod 101
        ("123456789", 165, 64),
        ("200899999", 201, 0),  # remainder 100 -> 00
        ("009688483", 202, 0),  # remainder 0
        ("987654321", 285, 83),
        ("198985996", 302, 0),  # remainder 100 again, from a larger sum
    ],
)
def test_snils_checksum(nine: str, total: int, expected: int) -> None:
    assert weighted_sum(nine) == total
    assert snils_checksum(nine) == expected


def test_snils_weights_count_from_the_end() -> None:
    # Weights 1..9 from the start (a common mistake) give 285 -> 83 for this number.
    assert snils_checksum("123456789") == 64
    assert not is_valid_snils("123-456-789 83")


@pytest.mark.parametrize(
    "value",
    ["001-001-998 00", "001-001-998 57", "001-001-998 99", "000-000-000 00", "000-123-456 12"],
)
def test_numbers_up_to_001_001_998_are_not_checked(value: str) -> None:
    assert is_valid_snils(value)


def test_first_checked_number_is_001_001_999() -> None:
    assert snils_checksum("001001999") == 65
    assert is_valid_snils("001-001-999 65")
    assert not is_valid_snils("001-001-999 00")


@pytest.mark.parametrize("nine", ["12345678", "1234567890", "12345678a", "123 45678", ""])
def test_snils_checksum_rejects_malformed_input(nine: str) -> None:
    with pytest.raises(ValueError):
        snils_checksum(nine)


@pytest.mark.parametrize(
    "text",
    [
        "112-233-445 95",
        "11223344595",
        "112 233 445 95",
        "112-233-445-95",
        " 112-233-445  95 ",
        "112233445 95",
    ],
)
def test_snils_digits_accepts_separators(text: str) -> None:
    assert snils_digits(text) == "11223344595"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "112-233-445",
        "1122334459",
        "112233445950",
        "112-233-445 9a",
        "112.233.445 95",
        "١١٢٢٣٣٤٤٥٩٥",  # Arabic-Indic digits are digits to str.isdigit(), not to us
    ],
)
def test_snils_digits_rejects_other_shapes(text: str | None) -> None:
    assert snils_digits(text) is None


def test_is_valid_snils_handles_none_and_garbage() -> None:
    assert not is_valid_snils(None)
    assert not is_valid_snils("")
    assert not is_valid_snils("abc-def-ghi jk")


@pytest.mark.parametrize("text", ["11223344595", "112-233-445 95", "112 233 445 95"])
def test_format_snils(text: str) -> None:
    assert format_snils(text) == "112-233-445 95"


def test_format_snils_keeps_leading_zeros() -> None:
    assert format_snils("00100199965") == "001-001-999 65"


@pytest.mark.parametrize("text", ["112233445", "112-233-445 9", "x1223344595"])
def test_format_snils_rejects_wrong_length(text: str) -> None:
    with pytest.raises(ValueError):
        format_snils(text)


@pytest.mark.parametrize(
    ("nine", "expected"),
    [("112233445", "11223344595"), ("100018999", "10001899900"), ("001580434", "00158043499")],
)
def test_make_snils(nine: str, expected: str) -> None:
    assert make_snils(nine) == expected
    assert is_valid_snils(expected)


def test_make_snils_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        make_snils("11223344")


def test_enp_worked_example() -> None:
    assert enp_check_digit("845199912289999") == 0


@pytest.mark.parametrize("value", VALID_ENP)
def test_valid_enp(value: str) -> None:
    assert enp_check_digit(value[:15]) == int(value[15])
    assert is_valid_enp(value)


@pytest.mark.parametrize("value", INVALID_ENP)
def test_invalid_enp(value: str) -> None:
    assert not is_valid_enp(value)


def test_enp_catches_every_single_digit_error() -> None:
    # Luhn detects any one wrong digit; a check that missed some would let typos through.
    valid = "7809123456789013"
    for position in range(16):
        for digit in "0123456789":
            if digit == valid[position]:
                continue
            typo = valid[:position] + digit + valid[position + 1 :]
            assert not is_valid_enp(typo), typo


def test_enp_ignores_spaces_between_groups() -> None:
    assert is_valid_enp("7700 0000 0000 0016")
    assert not is_valid_enp("7700 0000 0000 0017")


@pytest.mark.parametrize("text", [None, "", "77000000000000016", "7700-0000-0000-0016"])
def test_enp_rejects_other_shapes(text: str | None) -> None:
    assert not is_valid_enp(text)


@pytest.mark.parametrize("fifteen", ["77000000000000", "7700000000000001", "77000000000000A"])
def test_enp_check_digit_rejects_malformed_input(fifteen: str) -> None:
    with pytest.raises(ValueError):
        enp_check_digit(fifteen)
