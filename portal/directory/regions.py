"""Labels the directory shows: regions of the Russian Federation by their two-digit code (the ones
the directory knows), kinds of organisation, accessibility features and weekdays."""

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

# The building's accessibility, as the organisation's page names each feature.
ACCESSIBILITY = {
    "step_free_entrance": _l("Step-free entrance"),
    "lift": _l("Lift"),
    "hearing_loop": _l("Hearing loop"),
    "accessible_toilet": _l("Accessible toilet"),
    "disabled_parking": _l("Parking for disabled people"),
}

WEEKDAYS = {
    1: _l("Monday"),
    2: _l("Tuesday"),
    3: _l("Wednesday"),
    4: _l("Thursday"),
    5: _l("Friday"),
    6: _l("Saturday"),
    7: _l("Sunday"),
}
