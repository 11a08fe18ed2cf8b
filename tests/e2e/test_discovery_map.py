"""The process map page in a real headless Chromium, on the public helpdesk log."""

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.discovery.models import EventLog
from tests.e2e.conftest import ARTIFACTS
from tests.factories import TeamFactory, UserFactory

CHROMIUM = Path("/usr/bin/chromium")
HELPDESK = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "event-logs"
    / "helpdesk.xes.gz"
)
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(not HELPDESK.exists(), reason=f"public log not found at {HELPDESK}"),
]


@pytest.fixture
def helpdesk_map(transactional_db):
    team = TeamFactory(name="Support", slug="support")
    UserFactory(username="ines", team=team, password="pw", is_staff=False)
    out = StringIO()
    call_command("import_event_log", "helpdesk", str(HELPDESK), "--team", "support", stdout=out)
    log = EventLog.objects.get(pk=int(out.getvalue()))
    closed = next(a for a in log.discovery["activity_counts"] if a["activity"] == "Closed")
    return {
        "slug": "helpdesk",
        "closed_cases": closed["cases"],
        "bottleneck": log.discovery["bottleneck"],
    }


def test_map_page_draws_the_helpdesk_log_and_lists_cases_on_click(live_server, helpdesk_map):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the database work is done above.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "ines")
        page.fill("input[name=password]", "pw")
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/discovery/{helpdesk_map['slug']}/")
        page.wait_for_selector("#process-map[data-ready='1']", timeout=15000)

        count = "() => window.handoffProcessMap.nodes('.activity').length"
        assert page.evaluate(count) == 14
        assert page.locator("#process-map canvas").count() >= 1
        assert "Resolve ticket" in page.locator(".finding--bottleneck").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "discovery-map.png"), full_page=True)

        # Fewer activities with the slider.
        page.locator("#activities-slider").fill("50")
        page.wait_for_function("() => window.handoffProcessMap.nodes('.activity').length === 7")
        assert page.locator("#activities-out").inner_text() == "50%"
        page.locator("#activities-slider").fill("100")
        page.wait_for_function("() => window.handoffProcessMap.nodes('.activity').length === 14")

        # Performance: the bottleneck edge is labelled with its median wait.
        page.check("input[value=performance]", force=True)
        label = page.evaluate(
            "() => window.handoffProcessMap.edges('.bottleneck')[0].data('label')"
        )
        assert label == "30.0 d"

        # A click on an activity lists the cases behind it. (The snippets return nothing: a
        # cytoscape collection is a large object graph for Playwright to serialise.)
        page.evaluate("() => { window.handoffProcessMap.$id('Closed').emit('tap'); }")
        page.wait_for_selector("#cases-panel .cases li")
        assert page.locator(".cases__title").inner_text() == "Closed"
        closed = helpdesk_map["closed_cases"]
        assert f"{closed} cases" in page.locator("#cases-panel").inner_text()

        # And on a path.
        page.evaluate("() => { window.handoffProcessMap.edges('.bottleneck')[0].emit('tap'); }")
        page.wait_for_selector(".cases__title:has-text('Resolve ticket → Closed')")
        bottleneck_cases = helpdesk_map["bottleneck"]["cases"]
        assert f"{bottleneck_cases} cases" in page.locator("#cases-panel").inner_text()
        browser.close()
    assert errors == []
    assert all(url.startswith(live_server.url) for url in requests)  # nothing from elsewhere
