"""Page weight budgets, measured as a browser transfers them (Chromium's own Accept-Encoding).

First visit (empty cache): everything the page pulls in, compressed, ≤ 45 KiB.
A later page (assets cached): only its HTML crosses the network, ≤ 12 KiB compressed; CSS and JS
come from the cache (they are fingerprinted and served as immutable for a year).
Slow 3G: the home page's first visit reaches ``load`` in under 4 s.

The numbers are printed (``pytest -s``) and written to ``reports/page-weights.txt``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from e2e.conftest import new_context

PUBLIC_PAGES = ["/", "/auth/sign-in", "/accessibility", "/privacy", "/clinics"]
FIRST_VISIT_BUDGET = 45 * 1024
LATER_HTML_BUDGET = 12 * 1024
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 51200, "uploadThroughput": 51200}
SLOW_3G_LOAD_BUDGET_S = 4.0
REPORT = Path(__file__).resolve().parents[1] / "reports" / "page-weights.txt"

MEASURED: dict[str, dict[str, int]] = {}


@dataclass
class Transfer:
    url: str
    resource_type: str
    body_bytes: int = 0  # encoded (compressed) body received over the network
    from_cache: bool = False
    content_encoding: str | None = None


@dataclass
class Recorder:
    """Every request of one page: Playwright gives the encoded body size, CDP says whether the
    response came from the browser's cache (Playwright has no flag for that)."""

    transfers: dict[str, Transfer] = field(default_factory=dict)
    cached_ids: set[str] = field(default_factory=set)
    cached_urls: set[str] = field(default_factory=set)

    def attach(self, page) -> None:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.requestServedFromCache", lambda e: self.cached_ids.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._on_cdp_response)
        page.on("requestfinished", self._on_finished)
        self.cdp = cdp

    def _on_cdp_response(self, event) -> None:
        response = event["response"]
        if (
            event["requestId"] in self.cached_ids
            or response.get("fromDiskCache")
            or response.get("fromMemoryCache")
            or response.get("fromPrefetchCache")
        ):
            self.cached_urls.add(response["url"])

    def _on_finished(self, request) -> None:
        sizes = request.sizes()
        response = request.response()
        headers = response.all_headers() if response else {}
        self.transfers[request.url] = Transfer(
            url=request.url,
            resource_type=request.resource_type,
            body_bytes=max(sizes["responseBodySize"], 0),  # Playwright reports a cache hit as minus the headers
            content_encoding=headers.get("content-encoding"),
        )

    def settle(self, page) -> None:
        page.wait_for_load_state("networkidle")  # the favicon is fetched after load
        for transfer in self.transfers.values():
            transfer.from_cache = transfer.url in self.cached_urls or (
                transfer.body_bytes == 0 and transfer.resource_type != "document"
            )

    def reset(self) -> None:
        self.transfers.clear()
        self.cached_ids.clear()
        self.cached_urls.clear()

    def network(self) -> list[Transfer]:
        return [t for t in self.transfers.values() if not t.from_cache]

    def describe(self) -> str:
        return "\n".join(
            f"  {t.resource_type:<10} {t.body_bytes:>7} B {'(cache)' if t.from_cache else '':<8}"
            f"{t.content_encoding or '-':<5} {t.url}"
            for t in self.transfers.values()
        )


@pytest.fixture(scope="module", autouse=True)
def weights_report():
    yield
    if not MEASURED:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{path} {m.get('first_visit_bytes', '-')} {m.get('html_bytes', '-')}"
        for path, m in sorted(MEASURED.items(), key=lambda item: (item[0] not in PUBLIC_PAGES, item[0]))
    ]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\npage weights (path first_visit_bytes html_bytes), written to {REPORT}:\n" + "\n".join(lines))


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_first_visit_and_a_later_page_within_budget(browser, base_url, path):
    later = PUBLIC_PAGES[(PUBLIC_PAGES.index(path) + 1) % len(PUBLIC_PAGES)]
    context = new_context(browser, base_url, lang="ru", fresh=True)
    try:
        page = context.new_page()
        recorder = Recorder()
        recorder.attach(page)

        # First visit, empty cache.
        response = page.goto(path)
        assert response.status == 200
        recorder.settle(page)
        document = recorder.transfers[response.url]
        total = sum(t.body_bytes for t in recorder.transfers.values())
        print(f"\nfirst visit {path}: {total} B compressed in total\n{recorder.describe()}")
        request_encoding = response.request.all_headers().get("accept-encoding", "")
        assert document.content_encoding in ("br", "gzip", "zstd"), (
            f"HTML sent uncompressed (browser asked for {request_encoding!r})"
        )
        assert all(
            t.content_encoding for t in recorder.transfers.values() if t.resource_type in ("stylesheet", "script")
        ), "CSS/JS sent uncompressed:\n" + recorder.describe()
        assert total <= FIRST_VISIT_BUDGET, (
            f"first visit of {path}: {total} B > {FIRST_VISIT_BUDGET} B\n{recorder.describe()}"
        )
        MEASURED.setdefault(path, {})["first_visit_bytes"] = total

        # A later page in the same context: assets must come from the cache.
        recorder.reset()
        response = page.goto(later)
        assert response.status == 200
        recorder.settle(page)
        print(f"later page {later}:\n{recorder.describe()}")
        refetched = [
            t for t in recorder.network() if t.resource_type in ("stylesheet", "script", "font", "image", "other")
        ]
        assert not refetched, "fetched again instead of taken from the cache:\n" + recorder.describe()
        statics = [t for t in recorder.transfers.values() if t.resource_type in ("stylesheet", "script")]
        assert statics, "the later page loaded no CSS/JS at all: the measurement is not seeing them"
        html = recorder.transfers[response.url]
        assert html.content_encoding in ("br", "gzip", "zstd")
        assert html.body_bytes <= LATER_HTML_BUDGET, f"HTML of {later}: {html.body_bytes} B > {LATER_HTML_BUDGET} B"
        MEASURED.setdefault(later, {})["html_bytes"] = html.body_bytes
    finally:
        context.close()


def test_home_loads_within_4_seconds_on_slow_3g(browser, base_url):
    context = new_context(browser, base_url, lang="ru", fresh=True)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        started = time.monotonic()
        response = page.goto("/", wait_until="load")
        wall = time.monotonic() - started
        assert response.status == 200
        timing = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {load: n.loadEventStart, bytes: n.encodedBodySize}; }"
        )
        load_s = timing["load"] / 1000
        print(f"\nslow 3G home page: load event at {load_s:.2f} s after navigation start ({wall:.2f} s wall clock)")
        assert load_s > 0.4, "the network emulation did not apply (no 400 ms latency)"
        assert load_s < SLOW_3G_LOAD_BUDGET_S, f"home page on slow 3G: load at {load_s:.2f} s"
    finally:
        context.close()


CARD_PAGES = [
    "/card/{patient}",
    "/card/{patient}/results",
    "/card/{patient}/results/{report}",
    # booking: the longest step lists (every dentist; a whole day's times of any dentist) and the ticket
    "/card/{patient}/appointments/book/doctor?specialty=62",
    "/card/{patient}/appointments/book/time?specialty=62&doctor=any&date={day}",
    "/card/{patient}/appointments/{appointment}",
]


def _signed_in_visits(browser, base_url, app, path: str, label: str, expected: tuple[str, ...] = ()) -> dict:
    """The demo patient's first visit of ``path`` (≤ 45 KiB compressed with everything, showing
    each of ``expected``) and a later one (≤ 12 KiB of HTML, compressed): the bytes of each."""
    from e2e.test_signed_in_pages import signed_in

    context = signed_in(browser, base_url, app, "patient", "complete", lang="ru", fresh=True)
    try:
        page = context.new_page()
        recorder = Recorder()
        recorder.attach(page)
        response = page.goto(path)
        assert response.status == 200
        recorder.settle(page)
        content = page.content()
        assert all(part in content for part in expected), expected
        total = sum(t.body_bytes for t in recorder.transfers.values())
        print(f"\nfirst visit {label}: {total} B compressed in total\n{recorder.describe()}")
        assert total <= FIRST_VISIT_BUDGET, f"first visit of {path}: {total} B\n{recorder.describe()}"
        recorder.reset()
        response = page.goto(path)
        recorder.settle(page)
        html = recorder.transfers[response.url]
        assert html.content_encoding in ("br", "gzip", "zstd")
        assert html.body_bytes <= LATER_HTML_BUDGET, f"HTML of {path}: {html.body_bytes} B > {LATER_HTML_BUDGET} B"
        return {"first_visit_bytes": total, "html_bytes": html.body_bytes}
    finally:
        context.close()


@pytest.mark.parametrize("template", CARD_PAGES)
def test_signed_in_card_pages_within_budget(browser, base_url, live_app, template):
    """The dashboard and the results pages of the demo patient's card, which has years of history:
    first visit ≤ 45 KiB compressed with everything, a later visit ≤ 12 KiB of HTML."""
    import sqlalchemy as sa

    from e2e.test_signed_in_pages import email_of_key
    from portal.auth.models import Account
    from portal.database import db
    from portal.record.models import LabReport

    with live_app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        report = db.session.scalar(
            sa.select(LabReport.id).where(LabReport.patient_id == patient).order_by(LabReport.taken_at.desc()).limit(1)
        )
        from datetime import UTC

        from portal import clock
        from portal.appointments.models import Appointment, Slot
        from portal.directory.models import Practitioner

        appointment = db.session.scalar(sa.select(Appointment.id).where(Appointment.patient_id == patient).limit(1))
        first = db.session.scalar(
            sa.select(Slot.starts_at)
            .join(Practitioner, Practitioner.id == Slot.practitioner_id)
            .where(Practitioner.specialty_code == "62", Slot.status == "free", Slot.starts_at > clock.now())
            .order_by(Slot.starts_at)
            .limit(1)
        )
        day = clock.local_date(first.replace(tzinfo=UTC)).isoformat()
        db.session.remove()
    path = template.format(patient=patient, report=report, appointment=appointment, day=day)
    MEASURED[template] = _signed_in_visits(browser, base_url, live_app, path, template)


@pytest.fixture(scope="module")
def plugin_portal(seeded_instance, tmp_path_factory, sms_gateway):
    """A portal with four plugins: the hotline (a dashboard card and a footer link) and three
    test-only ones: ``styled``, whose pages bring their own CSS and JS, ``latest_results``, a
    dashboard card that reads the card through the facade, and ``slots_plugin``, a section of
    the card, a card action and a profile field. Its address and its app."""
    import shutil
    import threading

    from werkzeug.serving import make_server

    from e2e.conftest import SECRET
    from portal import create_app

    base = tmp_path_factory.mktemp("e2e-plugin") / "instance"
    shutil.copytree(seeded_instance, base)
    app = create_app(
        {
            "TESTING": True,  # TESTING_PLUGINS is refused otherwise
            "TESTING_PLUGINS": [
                "tests.fixture_plugins.styled",
                "tests.fixture_plugins.latest_results",
                "tests.fixture_plugins.slots_plugin",
            ],
            "DATABASE_URL": f"sqlite:///{base / 'e2e.db'}",
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(base),
            "RATELIMIT_ENABLED": False,
            "SMS_GATEWAY": "generic",
            "SMS_GATEWAY_URL": sms_gateway,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


@pytest.fixture(scope="module")
def plugin_base_url(plugin_portal):
    return plugin_portal[0]


def test_a_plugin_page_with_its_own_css_and_js_within_budget(browser, plugin_base_url):
    """A plugin's stylesheet and script count in the first visit (≤ 45 KiB with everything), come
    compressed, run under the CSP, and are taken from the cache on the plugin's next page."""
    from e2e.conftest import CSP_LISTENER

    context = new_context(browser, plugin_base_url, lang="ru", fresh=True)
    context.add_init_script(CSP_LISTENER)
    try:
        page = context.new_page()
        recorder = Recorder()
        recorder.attach(page)
        response = page.goto("/styled/")
        assert response.status == 200
        recorder.settle(page)
        own = [t for t in recorder.transfers.values() if "/assets/plugins/styled/" in t.url]
        assert {t.resource_type for t in own} == {"stylesheet", "script"}, recorder.describe()
        assert all(t.content_encoding and t.body_bytes > 0 for t in own), recorder.describe()
        total = sum(t.body_bytes for t in recorder.transfers.values())
        print(f"\nfirst visit /styled/: {total} B compressed in total\n{recorder.describe()}")
        assert total <= FIRST_VISIT_BUDGET, f"first visit of /styled/: {total} B\n{recorder.describe()}"
        assert page.text_content("#styled-script-status") == "The plugin's script ran."
        assert page.evaluate("getComputedStyle(document.querySelector('.styled-note')).borderInlineStartStyle") == (
            "solid"
        )
        assert page.evaluate("window.__cspViolations") == []
        MEASURED["/styled/"] = {"first_visit_bytes": total}

        recorder.reset()
        response = page.goto("/styled/more")
        recorder.settle(page)
        refetched = [t for t in recorder.network() if t.resource_type in ("stylesheet", "script")]
        assert not refetched, "fetched again instead of taken from the cache:\n" + recorder.describe()
        html = recorder.transfers[response.url]
        assert html.body_bytes <= LATER_HTML_BUDGET, f"HTML of /styled/more: {html.body_bytes} B"
        MEASURED["/styled/"]["html_bytes"] = html.body_bytes
    finally:
        context.close()


@pytest.mark.parametrize("template", ["/", "/card/{patient}"])
def test_pages_with_four_plugins_within_budget(browser, plugin_portal, template):
    """The home page with the plugins' dashboard cards and the card's overview with a plugin's
    section and action, signed in as the demo patient: first visit ≤ 45 KiB compressed with
    everything, a later visit ≤ 12 KiB of HTML."""
    import sqlalchemy as sa

    from e2e.test_signed_in_pages import email_of_key
    from portal.auth.models import Account
    from portal.database import db

    base_url, app = plugin_portal
    with app.app_context():
        patient = db.session.scalar(sa.select(Account.patient_id).where(Account.email == email_of_key("patient")))
        db.session.remove()
    path = template.format(patient=patient)
    expected = ('id="card-hotline"', 'id="card-latest-results"') if template == "/" else ("/more/",)  # its section
    MEASURED[f"{template} (four plugins)"] = _signed_in_visits(browser, base_url, app, path, template, expected)
