"""The demo people: who they are, their e-mail addresses and the one demo password. Data only, so
the demo mode's sign-in list reads it without loading the generator."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

DEMO_PATIENTS = 20
DEMO_PASSWORD = "Zelenyi-Sad-2026!"  # noqa: S105 - shown in the README; demo accounts only


@dataclass(frozen=True)
class DemoPerson:
    key: str
    surname: str
    name: str
    patronymic: str
    sex: str
    age_days: int
    snils9: str
    role_label: object
    factor: str = "sms"
    staff: tuple[tuple[str, str], ...] = ()  # (role, organisation: "A" or "B")
    verified: bool = True
    consent: bool = True


PEOPLE = (
    DemoPerson("patient", "Смирнова", "Елена", "Викторовна", "F", 38 * 365 + 40, "002000011", _l("patient")),
    DemoPerson(
        "guardian",
        "Кузнецов",
        "Андрей",
        "Игоревич",
        "M",
        41 * 365 + 100,
        "002000012",
        _l("parent of two children"),
        factor="email",
    ),
    DemoPerson(
        "trusted",
        "Павлова",
        "Ольга",
        "Сергеевна",
        "F",
        63 * 365 + 7,
        "002000013",
        _l("trusted person of Elena Smirnova"),
    ),
    DemoPerson(
        "doctor",
        "Соколов",
        "Дмитрий",
        "Александрович",
        "M",
        45 * 365,
        "002000014",
        _l("doctor, clinic A"),
        factor="totp",
        staff=(("doctor", "A"),),
    ),
    DemoPerson(
        "nurse",
        "Морозова",
        "Наталья",
        "Павловна",
        "F",
        33 * 365,
        "002000015",
        _l("nurse, clinic A"),
        factor="totp",
        staff=(("nurse", "A"),),
    ),
    DemoPerson(
        "doctor_b",
        "Волков",
        "Сергей",
        "Николаевич",
        "M",
        52 * 365,
        "002000016",
        _l("doctor, clinic B"),
        factor="totp",
        staff=(("doctor", "B"),),
    ),
    DemoPerson(
        "registrar",
        "Лебедева",
        "Ирина",
        "Владимировна",
        "F",
        29 * 365,
        "002000017",
        _l("registrar"),
        factor="totp",
        staff=(("registrar", "A"),),
    ),
    DemoPerson(
        "org_admin",
        "Новиков",
        "Павел",
        "Олегович",
        "M",
        47 * 365,
        "002000018",
        _l("organisation admin"),
        factor="totp",
        staff=(("org_admin", "A"),),
    ),
    DemoPerson(
        "auditor",
        "Федорова",
        "Светлана",
        "Игоревна",
        "F",
        50 * 365,
        "002000019",
        _l("auditor"),
        factor="totp",
        staff=(("auditor", "A"),),
    ),
    DemoPerson(
        "accountant",
        "Захарова",
        "Анна",
        "Михайловна",
        "F",
        44 * 365 + 200,
        "002000031",
        _l("accountant, clinic A"),
        factor="totp",
        staff=(("accountant", "A"),),
    ),
    DemoPerson(
        "applicant",
        "Орлов",
        "Игорь",
        "Денисович",
        "M",
        27 * 365,
        "002000020",
        _l("waiting for an identity check"),
        verified=False,
        consent=False,
    ),
)
CHILDREN = (  # (key, name, patronymic, sex, age in days, SNILS nine digits)
    ("child_9", "Дарья", "Андреевна", "F", 9 * 365 + 120, "002000021"),
    ("child_16", "Максим", "Андреевич", "M", 16 * 365 + 60, "002000022"),
)


def email_of(person: DemoPerson) -> str:
    return f"{person.key.replace('_', '-')}@example.ru"
