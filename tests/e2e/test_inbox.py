"""The inbox end to end in a real headless Chromium: an operator signs in, claims an escalated
case, fixes the field its bound read and resumes it; a real RQ worker finishes the run; a
teammate in a second browser sees the claim in place. Screenshots go to tests/e2e/artifacts/."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts import roles
from apps.escalations.models import Escalation
from apps.runs.models import Run
from apps.runs.services import run_start
from tests.factories import TeamFactory, UserFactory, workflow_with_steps

pytestmark = pytest.mark.django_db(transaction=True)

# The server answers quickly; the margin is for a loaded machine, not for sleeping.
expect.set_options(timeout=10_000)

PASSWORDS = {"olivia": "olivia-secret-1", "ana": "ana-secret-2"}


@pytest.fixture
def team():
    return TeamFactory(name="Accounts payable", slug="ap")


@pytest.fixture
def olivia(team):
    return UserFactory(
        username="olivia",
        first_name="Olivia",
        last_name="Stone",
        password=PASSWORDS["olivia"],
        team=team,
        role=roles.OPERATOR,
    )


@pytest.fixture
def ana(team):
    return UserFactory(
        username="ana",
        first_name="Ana",
        last_name="Ruiz",
        password=PASSWORDS["ana"],
        team=team,
        role=roles.OPERATOR,
    )


@pytest.fixture
def escalated(team, drain) -> dict[str, Escalation]:
    """Two invoices over the limit, escalated by the engine itself (a real worker ran them)."""
    workflow = workflow_with_steps(
        {
            "key": "check",
            "name": "Check amount",
            "action": "rules.check",
            "bounds": ["amount <= 10000"],
        },
        {
            "key": "normalise",
            "name": "Normalise amount",
            "action": "data.set",
            "config": {"set": {"amount_cents": "round(amount * 100)"}},
        },
        team=team,
        name="Invoice approval",
    )
    cases = {"INV-1001": 12500, "INV-1002": 48000}
    runs = [
        run_start(workflow=workflow, external_id=case, data={"amount": amount, "vendor": "ACME"})[0]
        for case, amount in cases.items()
    ]
    drain()
    escalations = {e.run.external_id: e for e in Escalation.objects.select_related("run")}
    assert sorted(escalations) == sorted(cases)
    for run in runs:
        run.refresh_from_db()
        assert run.status == Run.Status.ESCALATED
    assert {e.status for e in escalations.values()} == {Escalation.Status.OPEN}
    assert {e.reason for e in escalations.values()} == {Escalation.Reason.OUT_OF_BOUNDS}
    return escalations


def sign_in(page, username: str) -> None:
    """Through the real login form, sent there by the inbox itself."""
    page.goto(f"{page.base}/inbox/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/inbox/$"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    page.click("form.auth__card button[type=submit]")
    expect(page).to_have_url(f"{page.base}/inbox/")


def screenshot_whole_panel(page, *, path) -> None:
    """The open panel, all of it: it scrolls inside the window, so the window grows for the shot."""
    viewport = page.viewport_size
    height = page.locator("#inbox-panel").evaluate("panel => panel.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": height + 64})
    page.locator("#inbox-panel").screenshot(path=path)
    page.set_viewport_size(viewport)


def test_operator_claims_fixes_and_resumes_a_case_the_worker_finishes_it_a_teammate_sees_the_claim(
    new_page, artifacts, drain, escalated, olivia, ana
):
    case, other = escalated["INV-1001"], escalated["INV-1002"]
    a, b = new_page(), new_page()
    sign_in(a, "olivia")
    sign_in(b, "ana")

    # A: the Unassigned tab, then the case beside the list.
    a.click("#tab-unassigned")
    expect(a).to_have_url(f"{a.base}/inbox/?tab=unassigned")
    expect(a.locator("#tab-unassigned")).to_have_attribute("aria-current", "page")
    row = a.locator(f"#escalation-{case.pk}")
    expect(row).to_be_visible()
    expect(a.locator(f"#escalation-{other.pk}")).to_be_visible()
    row.locator(".open-link").click()
    panel = a.locator(f"#inbox-panel[data-pk='{case.pk}']")
    expect(panel).to_be_visible()
    expect(a).to_have_url(f"{a.base}/inbox/{case.pk}/?tab=unassigned")
    expect(row).to_have_class(re.compile(r"\bis-active\b"))
    expect(panel.locator(".bound--broken code")).to_have_text("amount <= 10000")
    a.screenshot(path=artifacts / "inbox.png", full_page=True)

    # B (Ana) has the same case open before Olivia claims it.
    b.goto(f"{b.base}/inbox/{case.pk}/?tab=unassigned")
    b_claim = b.locator("#inbox-panel [data-action=claim]")
    expect(b_claim).to_be_visible()

    # A claims.
    a.locator("#inbox-panel [data-action=claim]").click()
    expect(panel.locator(".alert--success")).to_have_text("You have the case now.")
    expect(panel.locator(".panel__head .badge")).to_have_text("Claimed")
    holder = panel.locator(".facts--panel > div").filter(has=a.locator("dt", has_text="With"))
    expect(holder.locator("dd")).to_have_text("Olivia Stone you")
    expect(row).to_have_count(0)  # the list refreshed: no longer unassigned
    case.refresh_from_db()
    assert case.status == Escalation.Status.CLAIMED
    assert case.assignee == olivia

    # B tries to claim: the 409 is swapped into the panel, without a page load.
    b.evaluate("window.beforeClaim = true")
    with b.expect_response(re.compile(rf"/inbox/{case.pk}/claim/")) as claim:
        b_claim.click()
    assert claim.value.status == 409
    claimed_at = timezone.localtime(case.claimed_at).strftime("%H:%M")
    expect(b.locator("#inbox-panel .alert--error")).to_have_text(
        f"Claimed by Olivia Stone at {claimed_at}."
    )
    expect(b.locator("#inbox-panel .panel__head .badge")).to_have_text("Claimed")
    expect(b.locator("#resolve-form")).to_have_count(0)
    assert b.evaluate("window.beforeClaim") is True
    expect(b).to_have_url(f"{b.base}/inbox/{case.pk}/?tab=unassigned")
    case.refresh_from_db()
    assert case.assignee == olivia

    # A fixes the amount and resumes.
    amount = panel.locator("#resolve-form input[name='data.amount']")
    expect(amount).to_have_value("12500")
    amount.fill("9000")
    panel.locator("#resolve-form input[name=resolution][value=resumed]").check()
    screenshot_whole_panel(a, path=artifacts / "detail.png")
    with a.expect_response(re.compile(rf"/inbox/{case.pk}/resolve/")) as resolve:
        panel.locator("#resolve-form button[type=submit]").click()
    assert resolve.value.status == 200
    expect(panel.locator(".alert--success")).to_have_text("Resolved: Resumed after editing data.")

    # A real worker runs the step again and the next one: the run completes.
    drain()
    run = Run.objects.get(pk=case.run_id)
    assert run.status == Run.Status.COMPLETED
    assert run.data["amount"] == 9000
    assert run.data["amount_cents"] == 900000

    # The case has left the list (Unassigned and Mine); the other one is still waiting.
    a.reload()
    expect(a.locator("#tab-unassigned")).to_have_attribute("aria-current", "page")
    expect(a.locator(f"#escalation-{other.pk}")).to_be_visible()
    expect(a.locator(f"#escalation-{case.pk}")).to_have_count(0)
    a.click("#tab-mine")
    expect(a).to_have_url(re.compile(rf"/inbox/{case.pk}/\?tab=mine$"))
    expect(a.locator("#tab-mine")).to_have_attribute("aria-current", "page")
    expect(a.locator("#inbox-table")).to_contain_text("Nothing here")
    expect(a.locator(f"#escalation-{case.pk}")).to_have_count(0)
    # The panel's timeline shows the edit.
    expect(panel.locator(".timeline .diff li")).to_have_text("amount 12500 → 9000")

    # The run page: completed, the edit on its timeline, the data set by the next step.
    panel.locator("#panel-title a").click()
    expect(a).to_have_url(f"{a.base}/runs/{run.pk}/")
    expect(a.locator(".run-head .badge")).to_have_text("Completed")
    timeline = a.locator("#timeline")
    expect(timeline).to_contain_text("amount: 12500 → 9000")
    expect(timeline.locator(".timeline__item--completed")).to_have_count(1)
    expect(a.locator("table.kv")).to_contain_text("900000")
