"""The layout's fixed parts are rendered once per language, theme and script root ({% static %},
``portal.rendering.StaticFragments``): each reader still gets their language, their theme and
nobody else's name, token or count."""

from __future__ import annotations

import re

from tests.conftest import csrf_token


def test_fixed_parts_follow_language_and_theme_and_nothing_personal_is_kept(app, demo, login):
    first, second = demo["patient"], demo["guardian"]
    one, two = login(first), login(second)
    two.set_cookie("lang", "en")
    two.set_cookie("theme", "high-contrast")
    for _ in range(2):  # the second round is served from the kept fragments
        mine, theirs = one.get("/").get_data(as_text=True), two.get("/").get_data(as_text=True)
        assert "Перейти к основному содержанию" in mine and "Skip to main content" in theirs
        assert 'lang="ru"' in mine and 'lang="en"' in theirs
        assert "themes/default." in mine and "themes/high-contrast." in theirs
        assert first.surname in mine and first.surname not in theirs
        assert second.surname in theirs and second.surname not in mine
        # Each page carries its own reader's CSRF token, in every form and the meta tag. A token
        # is the session's secret signed with the second it was issued (itsdangerous): compare
        # the secret, the part before the first dot, so a request in the next second still matches.
        secrets = []
        for client, page in ((one, mine), (two, theirs)):
            tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
            tokens |= set(re.findall(r'<meta name="csrf-token" content="([^"]+)"', page))
            assert tokens and {token.split(".")[0] for token in tokens} == {csrf_token(client).split(".")[0]}
            secrets.append(csrf_token(client).split(".")[0])
        assert secrets[0] != secrets[1]
    fragments = app.jinja_env.static_fragments
    assert {key[1][:2] for key in fragments} == {("ru", "default"), ("en", "high-contrast")}


def test_a_fragment_is_kept_per_key_and_the_store_is_bounded(app):
    from portal.rendering import StaticFragments

    template = app.jinja_env.from_string("{% static key %}{{ value }}{% endstatic %}|{{ value }}")
    with app.test_request_context("/"):
        assert template.render(key="a", value="1") == "1|1"
        assert template.render(key="a", value="2") == "1|2"  # kept for the key; outside it, live
        assert template.render(key="b", value="3") == "3|3"
        app.jinja_env.static_fragments.update({("x", n): "" for n in range(StaticFragments.LIMIT)})
        assert template.render(key="c", value="4") == "4|4"
        assert len(app.jinja_env.static_fragments) == 1
