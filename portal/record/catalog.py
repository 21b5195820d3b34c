"""Laboratory tests and instrumental studies: LOINC codes, UCUM units and typical adult reference
ranges (DOMAIN.md §3). The ranges are for the demo's high/low flags only: real laboratories print
their own, and an Observation keeps the range the laboratory reported.

LOINC codes are © Regenstrief Institute: see LOINC_ATTRIBUTION.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOINC_ATTRIBUTION = (
    "This material contains content from LOINC (http://loinc.org). LOINC is copyright © "
    "Regenstrief Institute, Inc. and the Logical Observation Identifiers Names and Codes (LOINC) "
    "Committee and is available at no cost under the license at http://loinc.org/license. "
    "LOINC® is a registered United States trademark of Regenstrief Institute, Inc."
)

Range = tuple[float | None, float | None]


def _localised(ru: str, en: str, locale: str | None) -> str:
    return en if (locale or "ru").lower().startswith("en") else ru


# UCUM codes as a Russian or an English laboratory form prints them. FHIR keeps the UCUM code;
# people read these. A code not listed is shown as it is.
UNIT_LABELS: dict[str, tuple[str, str]] = {
    "%": ("%", "%"),
    "10*9/L": ("×10⁹/л", "×10⁹/L"),
    "10*12/L": ("×10¹²/л", "×10¹²/L"),
    "g/L": ("г/л", "g/L"),
    "mg/L": ("мг/л", "mg/L"),
    "ug/L": ("мкг/л", "µg/L"),
    "ng/mL": ("нг/мл", "ng/mL"),
    "mmol/L": ("ммоль/л", "mmol/L"),
    "umol/L": ("мкмоль/л", "µmol/L"),
    "pmol/L": ("пмоль/л", "pmol/L"),
    "U/L": ("Ед/л", "U/L"),
    "m[IU]/L": ("мМЕ/л", "mIU/L"),
    "mm/h": ("мм/ч", "mm/h"),
    "mm[Hg]": ("мм рт. ст.", "mmHg"),
    "kg/m2": ("кг/м²", "kg/m²"),
    "kg": ("кг", "kg"),
    "cm": ("см", "cm"),
    "/min": ("уд/мин", "/min"),
    "Cel": ("°C", "°C"),
}


def unit_label(ucum: str | None, locale: str | None = None) -> str:
    """«10*9/L» → «×10⁹/л» (Russian) or «×10⁹/L» (English); an unknown code as it is."""
    if not ucum:
        return ""
    labels = UNIT_LABELS.get(ucum)
    return _localised(*labels, locale) if labels else ucum


@dataclass(frozen=True)
class LabTest:
    """One measured quantity. ``ranges`` maps sex ('M', 'F') to (low, high); None is an open end."""

    code: str
    ru: str
    en: str
    unit: str  # UCUM
    ranges: dict[str, Range] = field(hash=False, compare=False)

    def name(self, locale: str | None = None) -> str:
        return _localised(self.ru, self.en, locale)

    def range_for(self, sex: str | None) -> Range:
        return self.ranges.get(sex or "", self.ranges.get("M", (None, None)))


@dataclass(frozen=True)
class Panel:
    """A laboratory panel or an instrumental study, the code of a LabReport."""

    code: str
    ru: str
    en: str
    kind: str  # lab, instrumental
    tests: tuple[str, ...] = ()

    def name(self, locale: str | None = None) -> str:
        return _localised(self.ru, self.en, locale)


def _both(low: float | None, high: float | None) -> dict[str, Range]:
    return {"M": (low, high), "F": (low, high)}


_TESTS = (
    LabTest("718-7", "Гемоглобин", "Hemoglobin", "g/L", {"M": (130, 170), "F": (120, 150)}),
    LabTest("789-8", "Эритроциты", "Erythrocytes", "10*12/L", {"M": (4.3, 5.7), "F": (3.8, 5.1)}),
    LabTest("6690-2", "Лейкоциты", "Leukocytes", "10*9/L", _both(4.0, 9.0)),
    LabTest("777-3", "Тромбоциты", "Platelets", "10*9/L", _both(150, 400)),
    LabTest("4544-3", "Гематокрит", "Hematocrit", "%", {"M": (40, 50), "F": (36, 46)}),
    LabTest("30341-2", "СОЭ", "Erythrocyte sedimentation rate", "mm/h", {"M": (None, 15), "F": (None, 20)}),
    LabTest("14771-0", "Глюкоза натощак", "Fasting glucose", "mmol/L", _both(3.9, 5.5)),
    LabTest("14749-6", "Глюкоза", "Glucose", "mmol/L", _both(3.9, 7.8)),
    LabTest("4548-4", "Гликированный гемоглобин", "Hemoglobin A1c", "%", _both(4.0, 5.6)),
    LabTest("14647-2", "Холестерин общий", "Total cholesterol", "mmol/L", _both(None, 5.2)),
    LabTest("22748-8", "Холестерин ЛПНП", "LDL cholesterol", "mmol/L", _both(None, 3.0)),
    LabTest("14646-4", "Холестерин ЛПВП", "HDL cholesterol", "mmol/L", {"M": (1.0, None), "F": (1.2, None)}),
    LabTest("14927-8", "Триглицериды", "Triglycerides", "mmol/L", _both(None, 1.7)),
    LabTest("14682-9", "Креатинин", "Creatinine", "umol/L", {"M": (62, 115), "F": (53, 97)}),
    LabTest("22664-7", "Мочевина", "Urea", "mmol/L", _both(2.5, 8.3)),
    LabTest(
        "98979-8",
        "Скорость клубочковой фильтрации (CKD-EPI)",
        "eGFR (CKD-EPI 2021)",
        "mL/min/{1.73_m2}",
        _both(90, None),
    ),
    LabTest("1742-6", "АЛТ", "ALT", "U/L", {"M": (None, 41), "F": (None, 33)}),
    LabTest("1920-8", "АСТ", "AST", "U/L", {"M": (None, 40), "F": (None, 32)}),
    LabTest("14631-6", "Билирубин общий", "Total bilirubin", "umol/L", _both(3.4, 20.5)),
    LabTest("3016-3", "Тиреотропный гормон (ТТГ)", "Thyrotropin (TSH)", "m[IU]/L", _both(0.4, 4.0)),
    LabTest("14920-3", "Тироксин свободный (Т4 св.)", "Free thyroxine (free T4)", "pmol/L", _both(9.0, 19.0)),
    LabTest("1988-5", "С-реактивный белок", "C-reactive protein", "mg/L", _both(None, 5)),
    LabTest("2823-3", "Калий", "Potassium", "mmol/L", _both(3.5, 5.1)),
    LabTest("2951-2", "Натрий", "Sodium", "mmol/L", _both(136, 145)),
    LabTest("2276-4", "Ферритин", "Ferritin", "ug/L", {"M": (30, 400), "F": (13, 150)}),
    LabTest("2885-2", "Общий белок", "Total protein", "g/L", _both(64, 83)),
    LabTest("14933-6", "Мочевая кислота", "Uric acid", "umol/L", {"M": (202, 416), "F": (143, 339)}),
    LabTest("1989-3", "Витамин D (25-OH)", "25-hydroxyvitamin D", "ng/mL", _both(30, 100)),
    # Vital signs a nurse measures (the clinicians' workspace): typical adult ranges.
    LabTest("8480-6", "Систолическое давление", "Systolic blood pressure", "mm[Hg]", _both(90, 139)),
    LabTest("8462-4", "Диастолическое давление", "Diastolic blood pressure", "mm[Hg]", _both(60, 89)),
    LabTest("8867-4", "Пульс", "Heart rate", "/min", _both(60, 90)),
    LabTest("8310-5", "Температура тела", "Body temperature", "Cel", _both(36.0, 37.0)),
    LabTest("59408-5", "Сатурация (SpO₂)", "Oxygen saturation (SpO₂)", "%", _both(95, None)),
    LabTest("29463-7", "Масса тела", "Body weight", "kg", _both(None, None)),
    LabTest("8302-2", "Рост", "Body height", "cm", _both(None, None)),
    LabTest("15074-8", "Глюкоза крови (глюкометр)", "Blood glucose (meter)", "mmol/L", _both(3.9, 7.8)),
)
# The vital signs panel: what a nurse measures at an appointment, one report per measuring.
VITALS_PANEL = "85353-1"
VITALS = ("8480-6", "8462-4", "8867-4", "8310-5", "59408-5", "29463-7", "8302-2", "15074-8")

TESTS: dict[str, LabTest] = {t.code: t for t in _TESTS}


def _single(code: str) -> Panel:
    test = TESTS[code]
    return Panel(code, test.ru, test.en, "lab", (code,))


_PANELS = (
    Panel(
        "58410-2",
        "Общий анализ крови",
        "Complete blood count",
        "lab",
        ("718-7", "789-8", "6690-2", "777-3", "4544-3", "30341-2"),
    ),
    Panel("24331-1", "Липидограмма", "Lipid panel", "lab", ("14647-2", "22748-8", "14646-4", "14927-8")),
    Panel(
        "24323-8",
        "Биохимический анализ крови",
        "Comprehensive metabolic panel",
        "lab",
        ("14771-0", "14682-9", "22664-7", "1742-6", "1920-8", "14631-6", "2885-2", "2823-3", "2951-2", "14933-6"),
    ),
    _single("14771-0"),
    _single("4548-4"),
    _single("3016-3"),
    _single("14920-3"),
    _single("1988-5"),
    _single("2276-4"),
    _single("1989-3"),
    _single("98979-8"),
    Panel(VITALS_PANEL, "Показатели жизнедеятельности", "Vital signs", "vitals", VITALS),
    Panel("11524-6", "Электрокардиография", "Electrocardiogram", "instrumental"),
    Panel("36643-5", "Рентгенография органов грудной клетки", "Chest X-ray", "instrumental"),
    Panel("34552-0", "Эхокардиография", "Echocardiography", "instrumental"),
)

PANELS: dict[str, Panel] = {p.code: p for p in _PANELS}


def flag(value: float | None, low: float | None, high: float | None) -> str | None:
    """'low' below the range, 'high' above it, None within it (or with no value or no range)."""
    if value is None:
        return None
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return None


def test_name(code: str, locale: str | None = None) -> str:
    test = TESTS.get(code)
    return test.name(locale) if test else code


def panel_name(code: str, locale: str | None = None) -> str:
    panel = PANELS.get(code)
    return panel.name(locale) if panel else code
