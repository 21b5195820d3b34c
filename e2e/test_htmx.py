"""The htmx pattern: with JavaScript a part of the page is swapped in place (no full load), the URL
follows, focus goes where the user expects and screen readers hear the result; without
JavaScript the same links and forms work as ordinary navigation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

NEXT_PAGE = {"ru": "Следующая страница", "en": "Next page"}
SIGN_IN_BUTTON = {"ru": "Войти", "en": "Sign in"}
QUERY = "детская"
LIVE_REGION_WITHIN_MS = 2000  # screen readers hear the result promptly
IDLE = "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def drop_expected_status_logs(check, *statuses: int) -> None:
    """Chromium logs "Failed to load resource: ... status of 400" for a form answered with 400 on
    purpose (the test asserts that status itself); drop one such line per expected response."""
    for status in statuses:
        prefix = f"Failed to load resource: the server responded with a status of {status} "
        for i, message in enumerate(check.console_errors):
            if message.startswith(prefix):
                del check.console_errors[i]
                break


def results_heading(page) -> str:
    return " ".join(page.locator("#results-heading").inner_text().split())


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_search_as_you_type_swaps_results_in_place(make_check, lang):
    check = make_check(lang=lang, js=True)
    page = check.page
    check.goto("/clinics")
    before = results_heading(page)
    page.evaluate("window.__marker = 1")
    documents = []
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)

    page.locator("#q").click()
    page.keyboard.type(QUERY, delay=30)
    page.wait_for_function(
        "before => { const h = document.getElementById('results-heading');"
        f" return h && h.textContent.trim().replace(/\\s+/g, ' ') !== before && {IDLE}; }}",
        arg=before,
        timeout=5000,
    )

    assert page.evaluate("window.__marker") == 1, "the search reloaded the whole page"
    assert documents == [], f"a full page load happened: {documents}"
    page.wait_for_function("q => new URLSearchParams(location.search).get('q') === q", arg=QUERY, timeout=5000)
    assert query_of(page.url).get("q") == [QUERY]
    assert page.evaluate("document.activeElement && document.activeElement.id") == "q", (
        "focus must stay in the search field while the user types"
    )
    assert page.locator("#q").input_value() == QUERY

    names = page.locator("#results tbody th").all_inner_texts()
    assert names and all("детск" in n.casefold() for n in names), names
    heading = results_heading(page)
    page.wait_for_function(
        "t => (document.getElementById('live-region').textContent || '').trim().replace(/\\s+/g, ' ') === t",
        arg=heading,
        timeout=LIVE_REGION_WITHIN_MS,
    )
    check.assert_clean(axe=False)


def test_next_page_with_js_swaps_results_and_moves_focus(make_check):
    check = make_check(lang="ru", js=True)
    page = check.page
    check.goto("/clinics")
    first_names = page.locator("#results tbody th").all_inner_texts()
    page.evaluate("window.__marker = 1")
    page.locator("nav.pagination").get_by_role("link", name=NEXT_PAGE["ru"]).click()
    page.wait_for_function(
        f"first => {{ const th = document.querySelector('#results tbody th');"
        f" return th && th.textContent !== first && {IDLE}; }}",
        arg=first_names[0],
        timeout=5000,
    )
    assert page.evaluate("window.__marker") == 1, "following the pagination link reloaded the whole page"
    assert "after" in query_of(page.url), f"the URL should follow the page of results: {page.url}"
    assert page.evaluate("!!(document.activeElement && document.activeElement.closest('#results'))"), (
        "focus should move into the new results, got " + page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    )
    second_names = page.locator("#results tbody th").all_inner_texts()
    assert second_names and not set(second_names) & set(first_names)
    assert results_heading(page).startswith("Организации 21–")
    check.assert_clean(axe=False)


def test_next_page_without_js_is_a_normal_navigation(make_check):
    check = make_check(lang="en", js=False)
    page = check.page
    check.goto("/clinics")
    first_names = page.locator("#results tbody th").all_inner_texts()
    with page.expect_navigation():
        page.locator("nav.pagination").get_by_role("link", name=NEXT_PAGE["en"]).click()
    assert "after" in query_of(page.url)
    second_names = page.locator("#results tbody th").all_inner_texts()
    assert second_names and not set(second_names) & set(first_names)
    assert results_heading(page).startswith("Organisations 21–")
    check.assert_clean(axe=False)


def test_search_without_js_submits_a_full_page(make_check):
    check = make_check(lang="ru", js=False)
    page = check.page
    check.goto("/clinics")
    page.locator("#q").fill(QUERY)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Поиск", exact=True).click()
    assert navigation.value.status == 200
    assert query_of(page.url).get("q") == [QUERY]
    assert page.locator("#q").input_value() == QUERY
    names = page.locator("#results tbody th").all_inner_texts()
    assert names and all("детск" in n.casefold() for n in names), names
    assert len(names) < 41
    check.assert_clean(axe=False)


def test_sign_in_errors_swap_only_the_form(make_check):
    check = make_check(lang="ru", js=True)
    page = check.page
    check.goto("/auth/sign-in")
    page.evaluate("window.__marker = 1; document.querySelector('h1').dataset.marker = 'kept'")
    with page.expect_response(lambda r: r.request.method == "POST" and "/auth/sign-in" in r.url) as answer:
        page.get_by_role("button", name=SIGN_IN_BUTTON["ru"], exact=True).click()
    assert answer.value.status == 400
    assert answer.value.request.headers.get("hx-request") == "true", "the form was not sent by htmx"
    body = answer.value.text()
    assert "<html" not in body.lower() and 'id="sign-in"' in body, "the server should answer htmx with the form only"
    page.locator("#error-summary").wait_for(state="visible", timeout=5000)
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'error-summary'", timeout=5000
    )
    assert page.evaluate("window.__marker") == 1
    assert page.locator("h1").get_attribute("data-marker") == "kept", "more than #sign-in was replaced"
    assert page.locator("#sign-in").count() == 1 and page.locator("#error-summary").count() == 1
    assert page.title().startswith("Ошибка: "), "the title says there is an error, as on a full page"
    drop_expected_status_logs(check, 400)
    check.assert_clean(axe=False)


def test_no_htmx_history_cache_in_browser_storage(make_check):
    check = make_check(lang="ru", js=True)
    page = check.page
    seen: list[dict] = []

    def storage(step: str) -> None:
        keys = page.evaluate("({session: Object.keys(sessionStorage), local: Object.keys(localStorage)})")
        seen.append({"after": step, **keys})

    check.goto("/")
    check.goto("/clinics")
    page.locator("#q").click()
    page.keyboard.type(QUERY, delay=20)
    page.wait_for_function("q => new URLSearchParams(location.search).get('q') === q", arg=QUERY, timeout=5000)
    page.wait_for_function("() => " + IDLE, timeout=5000)
    storage("search")
    check.goto("/clinics")
    page.locator("nav.pagination a").first.click()
    page.wait_for_function("() => new URLSearchParams(location.search).has('after')", timeout=5000)
    page.wait_for_function("() => " + IDLE, timeout=5000)
    storage("next page")
    page.go_back()  # htmx restores history from its cache, if it keeps one
    page.wait_for_load_state("load")
    page.wait_for_function("() => " + IDLE, timeout=5000)
    storage("back")
    check.goto("/auth/sign-in")
    storage("another page")
    leaks = [s for s in seen if "htmx-history-cache" in s["session"] + s["local"]]
    assert not leaks, f"htmx keeps page snapshots (patient data) in browser storage: {leaks}"
    check.assert_clean(axe=False)
