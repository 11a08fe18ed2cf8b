"""Browser fixtures for the end-to-end tests: Debian's Chromium driven by Playwright for Python,
against pytest-django's live server."""

from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser(monkeypatch):
    # `make test` installs it (bin/ensure-chromium): a missing browser is a broken setup.
    assert CHROMIUM.exists(), (
        f"needs Chromium at {CHROMIUM}: run `make test` or bin/ensure-chromium"
    )
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps (and the in-process RQ worker) are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()
    # While Playwright's loop ran, the ORM kept its connection in that context: close it here,
    # or it outlives the test database.
    connections.close_all()


@pytest.fixture
def new_page(browser, live_server):
    """Open a tab in a fresh browser context (its own cookies: one person each).

    Every tab records page errors and the address of each request; at teardown the test fails
    if a script raised or anything was loaded from outside the live server.
    """
    opened = []

    def open_tab():
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.base = live_server.url
        tab.errors, tab.requests = [], []
        tab.on("pageerror", lambda error: tab.errors.append(str(error)))
        tab.on("request", lambda request: tab.requests.append(request.url))
        opened.append((context, tab))
        return tab

    yield open_tab
    for context, tab in opened:
        # Let the requests in flight (a refresh, the badge) finish before the server goes
        # away: a request thread cut off would keep its database connection open.
        tab.wait_for_load_state("networkidle")
        context.close()
    connections.close_all()
    for _, tab in opened:
        assert tab.errors == []
        assert [url for url in tab.requests if not url.startswith(live_server.url)] == []
