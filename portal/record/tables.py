"""One table per section, for the section's list page and an entry's related entries: the rows
written in Python (a list page shows up to 25, each with links, dates and texts in words; built
in the template they cost more than the rest of the page). Clinical text is in Russian: in
another interface language it is marked lang="ru" so a screen reader reads it right. Cells are as
``portal.formatting.table_cell`` takes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask_babel import get_locale, get_translations
from markupsafe import Markup

from portal.formatting import data_table, format_date, format_datetime, rubles
from portal.record import catalog, listing
from portal.rendering import url_maker


class _Texts:
    """The request's catalog, as the templates' ``_`` and ``ngettext`` give it: the catalog's
    text is markup we wrote, the values put into it are escaped."""

    def __init__(self) -> None:
        translations = get_translations()
        self.one, self.many = translations.ugettext, translations.ungettext

    def __call__(self, text: str, **values: object) -> Markup:
        return Markup(self.one(text)) % values  # noqa: S704

    def plural(self, singular: str, plural: str, num: int) -> Markup:
        return Markup(self.many(singular, plural, num)) % {"num": num}  # noqa: S704


def section_table(key: str, entries: Sequence, patient_id: int) -> Markup:
    """The table of ``key``'s ``entries`` (rows or objects as the section's list query gives)."""
    _ = _Texts()
    locale = str(get_locale() or "ru")
    ru = None if locale == "ru" else "ru"
    url = url_maker("record.entry", "entry_id", patient_id=patient_id, section=key)
    caption, headers, row = _SECTIONS[key](_, ru, locale)
    return data_table(caption, headers, [row(e, url(e.id)) for e in entries], caption_class="visually-hidden")


Row = Callable[[object, str], list]


def _visits(_, ru, _locale) -> tuple[Markup, list, Row]:
    kinds = {
        "clinic": _("At the clinic"),
        "home": _("Home visit"),
        "telemedicine": _("Telemedicine"),
        "inpatient": _("Hospital stay"),
    }
    headers = [_("Date and time"), _("Doctor"), _("Specialty"), _("Organisation"), _("Kind")]
    return (
        _("Visits"),
        headers,
        lambda e, url: [
            (format_datetime(e.started_at, "short"), url),
            (e.practitioner.short_name, None, ru),
            (e.practitioner.specialty, None, ru),
            (e.organisation.name, None, ru),
            kinds.get(e.kind, e.kind),
        ],
    )


def _diagnoses(_, ru, _locale) -> tuple[Markup, list, Row]:
    active, resolved = _("active"), _("resolved")
    headers = [_("Diagnosis"), _("ICD-10 code"), _("Since"), _("Status"), _("Recorded by")]
    return (
        _("Diagnoses"),
        headers,
        lambda e, url: [
            (e.title, url, ru),
            e.code,
            format_date(e.onset_on, "short"),
            active if e.status == "active" else resolved,
            (f"{e.practitioner.short_name}, {e.practitioner.specialty}", None, ru),
        ],
    )


def _results(_, ru, locale) -> tuple[Markup, list, Row]:
    """Rows of the shown columns (listing.AS_ROWS), the laboratory as ``organisation_name``."""
    within = _("All values within the reference range")
    ngettext = _.plural  # the name pybabel extracts plural texts by

    def outcome(e):
        if e.kind == "instrumental":
            return (e.conclusion or "—", None, ru)
        if e.flagged:
            return ngettext(
                "%(num)s value outside the reference range", "%(num)s values outside the reference range", e.flagged
            )
        return within

    headers = [_("Test or study"), _("Date"), _("Result"), _("Laboratory")]
    return (
        _("Test results"),
        headers,
        lambda e, url: [
            (catalog.panel_name(e.code, locale), url),
            format_date(e.taken_at, "short"),
            outcome(e),
            (e.organisation_name, None, ru),
        ],
    )


def _vaccinations(_, ru, _locale) -> tuple[Markup, list, Row]:
    confirmed, unconfirmed = _("confirmed"), _("not confirmed")

    def where(e):
        if e.organisation:
            return (e.organisation.name, None, ru)
        return (e.place, None, ru) if e.place else "—"

    headers = [_("Vaccine"), _("Date"), _("Dose"), _("Series"), _("Where"), _("Status")]
    return (
        _("Vaccinations"),
        headers,
        lambda e, url: [
            (e.vaccine, url, ru),
            format_date(e.given_on, "short"),
            e.dose_label or e.dose_number or "—",
            e.series or "—",
            where(e),
            confirmed if e.confirmed else unconfirmed,
        ],
    )


def _prescriptions(_, ru, _locale) -> tuple[Markup, list, Row]:
    states = {
        "active": _("active"),
        "expired": _("expired"),
        "blocked": _("expired, blocked"),
        "cancelled": _("cancelled"),
    }
    headers = [_("Medicine"), _("Issued"), _("Dose"), _("Valid until"), _("Status"), _("Doctor")]
    return (
        _("Prescriptions"),
        headers,
        lambda e, url: [
            (f"{e.drug}, {e.form}", url, ru),
            format_date(e.issued_on, "short"),
            (e.dose, None, ru),
            format_date(e.valid_until, "short"),
            states[listing.prescription_state(e)],
            (e.practitioner.short_name, None, ru),
        ],
    )


def _checkups(_, ru, _locale) -> tuple[Markup, list, Row]:
    in_progress = _("in progress")
    headers = [_("Check-up"), _("Started"), _("Completed"), _("Health group"), _("Organisation")]
    return (
        _("Check-ups"),
        headers,
        lambda e, url: [
            (_("Check-up %(year)s, stage %(stage)s", year=e.year, stage=e.stage), url),
            format_date(e.started_on, "short"),
            format_date(e.completed_on, "short") if e.completed_on else in_progress,
            e.health_group or "—",
            (e.organisation.name, None, ru),
        ],
    )


def _referrals(_, ru, _locale) -> tuple[Markup, list, Row]:
    statuses = {"issued": _("valid"), "used": _("used"), "cancelled": _("cancelled")}
    headers = [_("Referral to"), _("Issued"), _("Valid until"), _("Status"), _("Doctor")]
    return (
        _("Referrals"),
        headers,
        lambda e, url: [
            (e.target, url, ru),
            format_date(e.issued_on, "short"),
            format_date(e.valid_until, "short"),
            statuses.get(e.status, e.status),
            (e.practitioner.short_name, None, ru),
        ],
    )


def _allergies(_, ru, _locale) -> tuple[Markup, list, Row]:
    categories = {"medication": _("medicine"), "food": _("food"), "environment": _("environment")}
    severities = {"mild": _("mild"), "moderate": _("moderate"), "severe": _("severe")}
    headers = [_("Substance"), _("Kind"), _("Reaction"), _("Severity"), _("Recorded")]
    return (
        _("Allergies"),
        headers,
        lambda e, url: [
            (e.substance, url, ru),
            categories.get(e.category, e.category),
            (e.reaction or "—", None, ru),
            severities.get(e.severity, e.severity),
            format_date(e.recorded_on, "short"),
        ],
    )


def _services(_, ru, _locale) -> tuple[Markup, list, Row]:
    payers = {"oms": _("compulsory insurance"), "vmi": _("voluntary insurance"), "paid": _("paid by you")}
    headers = [_("Service"), _("Date"), _("Organisation"), _("Cost"), _("Paid by")]
    return (
        _("Services received"),
        headers,
        lambda e, url: [
            (e.name, url, ru),
            format_date(e.provided_on, "short"),
            (e.organisation.name, None, ru),
            rubles(e.cost_kopecks),
            payers.get(e.paid_by, e.paid_by),
        ],
    )


_SECTIONS = {
    "visits": _visits,
    "diagnoses": _diagnoses,
    "results": _results,
    "vaccinations": _vaccinations,
    "prescriptions": _prescriptions,
    "checkups": _checkups,
    "referrals": _referrals,
    "allergies": _allergies,
    "services": _services,
}
