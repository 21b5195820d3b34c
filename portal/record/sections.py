"""The names of the card's sections, as people read them."""

from flask_babel import lazy_gettext as _l

LABELS = {
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
