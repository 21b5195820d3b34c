"""The lines of «Кто смотрел мою карту» as HTML table rows, written in Python: a page of the log
has twenty lines, each with a moment, a person, an action and a reason in words, and building
them in the template cost a quarter of the page. The texts are the catalog's, as the template
would show them; every value put into them is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import get_translations
from markupsafe import Markup, escape

from portal.audit.access_log import AccessEntry
from portal.formatting import format_date, format_datetime
from portal.rendering import url_maker


def rows(entries: Iterable[AccessEntry], patient_id: int, labels: Mapping[str, object]) -> Markup:
    catalog = get_translations()

    def _(text: str, **values: object) -> Markup:
        return Markup(catalog.ugettext(text)) % values  # noqa: S704 (the catalog's text; values escaped)

    roles = {
        "self": _("you"),
        "guardian": _("legal representative"),
        "trusted": _("trusted person"),
        "clinician": _("clinician"),
        "emergency": _("emergency access"),
        "registrar": _("registrar"),
        "org_admin": _("organisation admin"),
        "accountant": _("accountant"),
        "operator": _("the clinic"),
        "none": _("no access"),
        "anonymous": _("not signed in"),
    }
    actions = {"read": _("opened"), "add": _("added an entry to"), "write": _("changed"), "export": _("exported")}
    proof_url = url_maker("audit.proof", "event_id", patient_id=patient_id)
    proof, you, unknown = _("Proof"), _("You"), _("Unknown")
    html = []
    for e in entries:
        when = format_datetime(e.created_at, "short")
        if e.actor_name is None:
            who = you
        else:
            who = escape(e.actor_name or unknown) + Markup(", ") + roles.get(e.actor_role, e.actor_role)
            if e.organisation:
                who += Markup(", ") + e.organisation
        of_record = _("of the record of %(time)s", time=when)
        html.append(
            f'\n    <tr>\n      <th scope="row">{escape(when)}</th>\n      <td>{who}</td>'
            f"\n      <td>{_what(e, labels, actions, _)}</td>\n      <td>{_why(e, roles, _)}</td>"
            f'\n      <td><a href="{escape(proof_url(e.event_id))}">{proof}<span class="visually-hidden"> '
            f"{of_record}</span></a></td>\n    </tr>"
        )
    return Markup("".join(html))  # noqa: S704 (every part escaped above)


def _what(e: AccessEntry, labels: Mapping[str, object], actions: Mapping[str, Markup], _) -> Markup:
    if e.action.startswith("grant."):
        person = e.grantee_name or _("a trusted person")
        if e.action == "grant.created":
            text = _("shared the card with %(name)s", name=person)
        elif e.action == "grant.changed":
            text = _("changed the access of %(name)s", name=person)
        else:
            text = _("ended the access of %(name)s", name=person)
        if e.terms and e.action != "grant.revoked":
            sections = Markup(", ").join(Markup("«%s»") % labels.get(key, key) for key in sorted(e.terms.sections))
            level = _("view and add entries") if e.terms.level == "add" else _("view")
            until = _("until %(date)s", date=format_date(e.terms.expires_on))
            text += Markup(": ") + sections + Markup("; ") + level + Markup(", ") + until
        return text
    if e.action.startswith(("appointment.", "care.")):
        return _appointment(e, _)
    if e.export_format and e.outcome != "denied":
        if e.export_format == "ips":
            return _("exported the card as a FHIR file (International Patient Summary)")
        return _("exported the card as a PDF summary")
    done = _("tried to open, refused:") if e.outcome == "denied" else actions.get(e.action, escape(e.action))
    return done + Markup(" «%s»") % labels.get(e.section, e.section)


def _why(e: AccessEntry, roles: Mapping[str, Markup], _) -> Markup:
    if e.request_number:
        return _("for the request %(number)s", number=e.request_number)
    if e.reason:
        return escape(e.reason)
    if e.action.startswith(("appointment.", "care.")):
        return _("appointments")
    if e.action.startswith("grant."):
        return _("trusted persons")
    return roles.get(e.actor_role, Markup("—"))


def N_(text: str) -> str:
    """Marks a text for the catalog (pybabel's default keyword); translated where it is shown."""
    return text


_APPOINTMENT_TEXTS = {
    "appointment.booked": N_("booked an appointment with %(doctor)s on %(time)s"),
    "appointment.rescheduled": N_("moved the appointment to %(time)s with %(doctor)s"),
    "appointment.rebooked": N_("moved the appointment to %(time)s with %(doctor)s"),
    "appointment.cancelled": N_("cancelled the appointment with %(doctor)s on %(time)s"),
    "appointment.cancelled_by_clinic": N_("the clinic cancelled the appointment with %(doctor)s on %(time)s"),
    "appointment.arrived": N_("marked arrival for the appointment with %(doctor)s on %(time)s"),
    "appointment.completed": N_("marked the appointment with %(doctor)s on %(time)s as completed"),
    "appointment.no_show": N_("marked the appointment with %(doctor)s on %(time)s as missed"),
}


def _appointment(e: AccessEntry, _) -> Markup:
    """An appointment booked, moved, cancelled or marked, or the care it opened or ended."""
    doctor = e.doctor_name or _("a doctor")
    at = format_datetime(e.appointment_at, "short") if e.appointment_at else ""
    if e.action == "care.opened":
        return _(
            "the appointment with %(doctor)s on %(time)s opens the card to this doctor from %(start)s until %(end)s",
            doctor=doctor,
            time=at,
            start=format_date(e.opens_from),
            end=format_date(e.opens_until),
        )
    if e.action == "care.ended":
        return _(
            "the appointment with %(doctor)s on %(time)s was cancelled: the card no longer opens to this doctor "
            "through it",
            doctor=doctor,
            time=at,
        )
    if e.outcome != "success":
        return _("tried to book an appointment: the time was taken")
    text = _APPOINTMENT_TEXTS.get(e.action, N_("changed the appointment with %(doctor)s on %(time)s"))
    return _(text, doctor=doctor, time=at)
