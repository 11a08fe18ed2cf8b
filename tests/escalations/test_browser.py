"""The inbox in a real headless Chromium: htmx swaps a 409 and a 422 in place, keyboard
shortcuts work, the list refreshes without losing the open case or the scroll position."""

import re
import shutil

import pytest
from django.conf import settings
from django.db import connections

from apps.escalations.models import Escalation
from apps.escalations.services import escalation_claim
from tests.escalations.factories import escalate

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason="needs Chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, client, member):
    """A browser tab signed in as ``member`` (the session cookie of a logged-in test client)."""
    client.force_login(member)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.base = live_server.url
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    # Let the requests in flight (a refresh, the badge) finish before the server goes away:
    # a request thread cut off would keep its database connection open.
    tab.wait_for_load_state("networkidle")
    context.close()
    # While Playwright's loop runs, the ORM keeps its connection in that context: close it
    # here, or it outlives the test database.
    connections.close_all()
    assert errors == []


def test_a_claim_someone_else_won_shows_who_in_the_panel(page, workflow, teammate):
    escalation = escalate(workflow, "INV-1")
    page.goto(f"{page.base}/inbox/?tab=unassigned")
    escalation_claim(escalation=escalation, user=teammate)  # Ana is quicker

    page.locator(f"#escalation-{escalation.pk} [data-action=claim]").click()

    alert = page.locator("#inbox-panel .alert--error")
    alert.wait_for()
    assert re.fullmatch(r"Claimed by Ana Ruiz at \d\d:\d\d\.", alert.inner_text())
    # The 409 also said the case changed: the list refreshed and it left Unassigned.
    page.locator(f"#escalation-{escalation.pk}").wait_for(state="detached")


def test_a_resolve_missing_its_note_shows_the_message_next_to_the_field(page, workflow):
    escalation = escalate(workflow, "INV-1")
    page.goto(f"{page.base}/inbox/{escalation.pk}/")

    page.check("#resolve-form input[value=skipped]")
    page.click("#resolve-form button[type=submit]")

    error = page.locator("#resolve-form .field--note .field__error")
    error.wait_for()
    assert error.inner_text() == "Say why the step is skipped."
    assert Escalation.objects.get(pk=escalation.pk).status == Escalation.Status.OPEN


def test_keyboard_opens_and_claims_and_the_address_follows(page, member, workflow):
    first = escalate(workflow, "INV-1")
    second = escalate(workflow, "INV-2")
    page.goto(f"{page.base}/inbox/?tab=unassigned")

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.locator(f"#inbox-panel[data-pk='{second.pk}']").wait_for()
    assert page.url.endswith(f"/inbox/{second.pk}/?tab=unassigned")
    page.keyboard.press("c")
    page.locator("#inbox-panel .alert--success").wait_for()

    assert Escalation.objects.get(pk=second.pk).assignee == member
    assert Escalation.objects.get(pk=first.pk).assignee is None
    page.keyboard.press("Escape")
    page.wait_for_url(f"{page.base}/inbox/?tab=unassigned")
    page.go_back()
    page.locator(f"#inbox-panel[data-pk='{second.pk}']").wait_for()


def test_the_list_refreshes_itself_keeping_the_open_case_filters_and_scroll(page, workflow):
    for n in range(30):
        escalate(workflow, f"INV-{n:02}")
    page.goto(f"{page.base}/inbox/?tab=all&q=INV&per_page=100")
    page.locator("#inbox-table .open-link").nth(2).click()
    page.locator("#inbox-panel.is-open").wait_for()
    page.evaluate("window.scrollTo(0, 500)")
    stamp = page.locator("#inbox-list").get_attribute("data-updated")
    newcomer = escalate(workflow, "INV-NEW")

    page.evaluate("htmx.trigger(document.body, 'escalationChanged')")  # as a 10 s tick would
    page.locator(f"#escalation-{newcomer.pk}").wait_for(state="attached")

    assert page.locator("#inbox-list").get_attribute("data-updated") != stamp
    assert page.locator("#inbox-panel.is-open").count() == 1
    assert page.evaluate("window.scrollY") == 500
    assert page.input_value("#id_q") == "INV"
    assert "/inbox/" in page.url and "q=INV" in page.url
