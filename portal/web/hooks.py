"""The core's own contributions, made through the same hooks plugins use."""

from __future__ import annotations

from pathlib import Path

from flask_babel import gettext as _

from portal.config import ROOT
from portal.plugin_api import Blueprint, Link, NavItem, Page, Theme, hookimpl
from portal.rendering import path_for

THEMES_DIR = ROOT / "themes"


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from portal.audit.views import bp as audit
    from portal.auth.views import bp as auth
    from portal.certificates.views import bp as certificates
    from portal.clinic.views import bp as clinic
    from portal.consent.views import bp as consent
    from portal.consent.views import clinic_bp as opt_outs
    from portal.corrections.views import bp as corrections
    from portal.documents.views import bp as documents
    from portal.export.views import bp as export
    from portal.mkb10.views import bp as mkb10
    from portal.notify.views import bp as notify
    from portal.profile.views import bp as profile
    from portal.record.vaccination_add import bp as vaccinations
    from portal.record.views import bp as record
    from portal.sharing.views import bp as sharing
    from portal.web.views import bp as web

    return [
        web,
        auth,
        consent,
        record,
        sharing,
        audit,
        clinic,
        notify,
        documents,
        certificates,
        export,
        corrections,
        vaccinations,
        profile,
        opt_outs,
        mkb10,
    ]


@hookimpl
def register_themes() -> list[Theme]:
    from flask_babel import lazy_gettext as _l

    def theme(name: str, label, description) -> Theme:
        return Theme(name, label, Path(THEMES_DIR / name / "theme.css"), description)

    return [
        theme("default", _l("Standard"), _l("Dark text on a light background.")),
        theme("high-contrast", _l("High contrast"), _l("White text on black, contrast of at least 7 to 1.")),
        theme("large-text", _l("Large text"), _l("Text and controls one and a half times larger.")),
    ]


@hookimpl
def navigation_items(page: Page) -> list[NavItem]:
    items = [NavItem(_("Home"), path_for("web.home"), 10, "web.home")]
    user = page.user
    if user is None:
        items.append(NavItem(_("Sign in"), path_for("auth.sign_in"), 90, "auth.sign_in"))
        return items
    items.append(NavItem(_("My cards"), path_for("record.cards"), 20, "record.cards"))
    if "registrar" in user.roles:
        items.append(NavItem(_("Identity checks"), path_for("clinic.verifications"), 40, "clinic.verifications"))
        items.append(NavItem(_("Legal representatives"), path_for("clinic.guardianships"), 42, "clinic.guardianships"))
        items.append(NavItem(_("Certificate requests"), path_for("certificates.queue"), 43, "certificates.queue"))
        items.append(NavItem(_("Opt-outs"), path_for("opt_outs.queue"), 44, "opt_outs.queue"))
        items.append(NavItem(_("Error reports"), path_for("corrections.queue"), 44, "corrections.queue"))
        items.append(NavItem(_("Attachment"), path_for("clinic.attachments"), 44, "clinic.attachments"))
    if user.roles & {"doctor", "nurse"}:
        items.append(NavItem(_("Emergency access"), path_for("clinic.emergency"), 45, "clinic.emergency"))
    items.append(NavItem(_("Profile"), path_for("profile.profile"), 78, "profile.profile"))
    items.append(NavItem(_("Security"), path_for("auth.security"), 80, "auth.security"))
    return items


@hookimpl
def footer_links(page: Page) -> list[Link]:
    return [
        Link(_("Accessibility statement"), path_for("web.accessibility"), 10),
        Link(_("Privacy notice"), path_for("web.privacy"), 20),
        Link(_("Display settings"), path_for("web.display_settings"), 30),
        Link(_("ICD-10 reference"), path_for("mkb10.index"), 40),
    ]
