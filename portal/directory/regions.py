"""Regions of the Russian Federation by their two-digit code (the ones the directory knows)."""

from flask_babel import lazy_gettext as _l

REGIONS = {
    "77": _l("Moscow"),
    "50": _l("Moscow Oblast"),
    "78": _l("Saint Petersburg"),
    "16": _l("Republic of Tatarstan"),
    "54": _l("Novosibirsk Oblast"),
}

KINDS = {
    "polyclinic": _l("Polyclinic"),
    "children_polyclinic": _l("Children's polyclinic"),
    "hospital": _l("Hospital"),
    "laboratory": _l("Laboratory"),
    "dental": _l("Dental clinic"),
}
