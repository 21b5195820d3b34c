"""Route inventory: every endpoint has a reviewed access decision. A new route without one fails
the build (SECURITY.md check 22); what each protected route answers each actor is in
tests/authz_matrix.toml."""

from __future__ import annotations

from portal.access import is_public, requirement

# Reviewed: these show no personal or medical data. Adding a line here is a security review.
PUBLIC_ENDPOINTS = {
    "assets.serve",
    "directory.clinics",
    # Doctors' names, specialties and positions, and an organisation's hours, accessibility and
    # prices: the public directory a clinic publishes; no patient data. The citizen's own clinic
    # comes first only for the signed-in citizen, and nothing on the page says which it is to others.
    "directory.doctors",
    "directory.organisation",
    "auth.confirm_email",
    "auth.confirm_link",
    "auth.demo_sign_in",
    "auth.forgot",
    "auth.register",
    "auth.registered",
    "auth.reset",
    "auth.reset_link",
    "auth.sign_in",
    "auth.sign_out",
    # Sign-in providers: start sends the visitor to the provider (a POST with the CSRF token); the
    # callback answers only the flow its own session started (state checked once) and shows nothing
    # but the outcome (docs/sign_in_providers.md).
    "providers.start",
    "providers.callback",
    "audit.public_key",  # the audit log's public signing key
    "certificates.verify",  # a document's type, number, dates and issuer; no medical data
    # The ICD-10 reference book (open data of the Ministry of Health): its search, the combobox's
    # options and a code's page. Nothing personal; rate-limited.
    "mkb10.code",
    "mkb10.index",
    "mkb10.search",
    "notify.outbox",
    "hotline.contacts",
    # A staff invitation's link: it keeps the token out of the address (into the session), then
    # shows the invitation (a name, an organisation, roles) to whoever holds the link; nothing else.
    "invitation.open_link",
    "invitation.show",
    "web.accessibility",
    "web.csp_report",
    "web.display_settings",
    "web.healthz",
    "web.home",
    "web.privacy",
    "web.set_language",
}


def undecided(app) -> set[str]:
    return {endpoint for endpoint, view in app.view_functions.items() if not requirement(view)}


def test_every_endpoint_has_an_access_decision(app):
    assert undecided(app) == set()


def test_public_endpoints_are_exactly_the_reviewed_list(app):
    public = {endpoint for endpoint, view in app.view_functions.items() if is_public(view)}
    assert public == PUBLIC_ENDPOINTS


def test_a_route_without_a_decision_is_caught(app_factory):
    app = app_factory()
    app.add_url_rule("/forgotten", "forgotten", lambda: "medical data")
    assert undecided(app) == {"forgotten"}


def test_plugin_routes_are_in_the_inventory(app_factory):
    app = app_factory(TESTING_PLUGINS=["tests.fixture_plugins.everything"])
    assert {"everything.index", "everything.boom"} <= set(app.view_functions)
    assert undecided(app) == set()


def test_no_flask_default_static_route(app):
    assert "static" not in app.view_functions
