"""The names of the card's sections, as people read them."""

from collections.abc import Iterator, Mapping

from flask import has_app_context
from flask_babel import lazy_gettext as _l

CORE_LABELS = {
    "summary": _l("Summary"),
    "visits": _l("Visits and examination reports"),
    "diagnoses": _l("Diagnoses"),
    "results": _l("Test results"),
    "vaccinations": _l("Vaccinations"),
    "prescriptions": _l("Prescriptions"),
    "checkups": _l("Check-ups"),
    "referrals": _l("Referrals"),
    "allergies": _l("Allergies"),
    "insurance": _l("Insurance"),
    "documents": _l("Documents"),
    "services": _l("Services received and their cost"),
    "appointments": _l("Appointments"),
    "access_log": _l("Who opened my card"),
    # Not sections of the card one can share, but named in «Кто смотрел мою карту»:
    "certificates": _l("Certificates and extracts"),
    "corrections": _l("Error reports"),
}

BASES = {
    "self": _l("your card"),
    "guardian": _l("your child"),
    "trusted": _l("shared with you"),
    "clinician": _l("your patient"),
    "emergency": _l("emergency access"),
}


class SectionLabels(Mapping):
    """The names of the sections: the core's and, in an app, those of the sections plugins add
    (``record_sections``), so every list that names a section (the access log, the sharing form,
    the export) names a plugin's by its title."""

    def _all(self) -> Mapping[str, object]:
        if not has_app_context():
            return CORE_LABELS
        from portal.record.plugin_sections import plugin_sections

        added = plugin_sections()
        return {**CORE_LABELS, **{key: s.title for key, s in added.items()}} if added else CORE_LABELS

    def __getitem__(self, key: str) -> object:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


LABELS = SectionLabels()
