"""The inbox list: tabs and their counts, filters, sorting, pages, htmx regions, queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import SUPERVISOR
from apps.escalations.models import Escalation
from tests.escalations.factories import escalate, htmx
from tests.factories import UserFactory, workflow_with_steps

pytestmark = pytest.mark.django_db

URL = "/inbox/"
CASES = ("INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "CLM-1")


def rows(html: str) -> list[str]:
    """Case ids in the order the table shows them."""
    return re.findall(r'class="open-link"[^>]*>([^<]+)</a>', html)


def cases(client, **params) -> set[str]:
    response = client.get(URL, params)
    assert response.status_code == 200
    return set(rows(response.content.decode()))


def claim(escalation, user):
    Escalation.objects.filter(pk=escalation.pk).update(
        status=Escalation.Status.CLAIMED, assignee=user, claimed_at=timezone.now()
    )


def resolve(escalation, user=None):
    Escalation.objects.filter(pk=escalation.pk).update(
        status=Escalation.Status.RESOLVED,
        assignee=user,
        resolved_at=timezone.now(),
        resolution=Escalation.Resolution.CANCELLED,
    )


@pytest.fixture
def inbox(member, teammate, workflow, other_workflow):
    """Mine (INV-1), unassigned (INV-2, INV-3 overdue), Ana's (INV-4), resolved (INV-5), and
    another team's case (CLM-1)."""
    made = {
        "INV-1": escalate(workflow, "INV-1"),
        "INV-2": escalate(workflow, "INV-2"),
        "INV-3": escalate(workflow, "INV-3", overdue=True),
        "INV-4": escalate(workflow, "INV-4"),
        "INV-5": escalate(workflow, "INV-5"),
        "CLM-1": escalate(other_workflow, "CLM-1"),
    }
    claim(made["INV-1"], member)
    claim(made["INV-4"], teammate)
    resolve(made["INV-5"], member)
    return made


def test_url_names_and_the_old_address_redirects_keeping_the_query(client, member):
    assert reverse("inbox:list") == URL
    assert reverse("inbox:detail", args=[7]) == "/inbox/7/"
    client.force_login(member)

    response = client.get("/escalations/", {"reason": "timeout"})

    assert response.status_code == 302
    assert response["Location"] == "/inbox/?reason=timeout"


def test_tabs_list_mine_unassigned_overdue_and_all_of_my_teams(client, member, inbox):
    client.force_login(member)

    assert cases(client, tab="mine") == {"INV-1"}
    assert cases(client, tab="unassigned") == {"INV-2", "INV-3"}
    assert cases(client, tab="overdue") == {"INV-3"}
    assert cases(client, tab="all") == {"INV-1", "INV-2", "INV-3", "INV-4"}


def test_tabs_show_live_counts_from_one_aggregate(client, member, inbox):
    client.force_login(member)

    html = client.get(URL, {"tab": "all"}).content.decode()

    counts = dict(re.findall(r'id="tab-(\w+)">\s*[^<]+<span class="tab__count[^"]*">(\d+)', html))
    assert counts == {"mine": "1", "unassigned": "2", "overdue": "1", "all": "4"}
    assert 'class="tab is-active"' in html
    assert re.search(r'class="tab is-active" href="\?tab=all"', html)


def test_tab_counts_follow_the_filters_but_not_the_status(client, member, workflow, inbox):
    escalate(workflow, "INV-9", reason=Escalation.Reason.TIMEOUT, summary="ERP timed out.")
    client.force_login(member)

    html = client.get(URL, {"tab": "all", "reason": "timeout", "status": "resolved"}).content
    counts = dict(re.findall(rb'id="tab-(\w+)">\s*[^<]+<span class="tab__count[^"]*">(\d+)', html))

    assert counts == {b"mine": b"0", b"unassigned": b"1", b"overdue": b"0", b"all": b"1"}


def test_default_tab_is_mine_when_i_have_cases_else_unassigned(client, member, teammate, inbox):
    client.force_login(member)
    assert set(rows(client.get(URL).content.decode())) == {"INV-1"}

    client.force_login(UserFactory(username="newbie", team=inbox["INV-1"].team))
    assert set(rows(client.get(URL).content.decode())) == {"INV-2", "INV-3"}


def test_status_filter_narrows_a_tab_and_defaults_to_unresolved(client, member, inbox):
    client.force_login(member)

    assert cases(client, tab="all", status="open") == {"INV-2", "INV-3"}
    assert cases(client, tab="all", status="claimed") == {"INV-1", "INV-4"}
    assert cases(client, tab="all", status="resolved") == {"INV-5"}
    assert cases(client, tab="all", status="any") == {"INV-1", "INV-2", "INV-3", "INV-4", "INV-5"}
    assert cases(client, tab="mine", status="resolved") == {"INV-5"}


def test_filters_by_workflow_reason_priority_and_assignee(client, member, teammate, team, workflow):
    second = workflow_with_steps({"action": "rules.check"}, team=team, name="Vendor onboarding")
    escalate(workflow, "INV-1", reason=Escalation.Reason.TIMEOUT, summary="Timed out.")
    escalate(workflow, "INV-2", reason=Escalation.Reason.PERMANENT_ERROR, summary="Refused.")
    urgent = escalate(second, "INV-3", priority=Escalation.Priority.URGENT)
    claim(urgent, teammate)
    client.force_login(member)

    assert cases(client, tab="all", reason="timeout") == {"INV-1"}
    assert cases(client, tab="all", workflow=second.pk) == {"INV-3"}
    assert cases(client, tab="all", priority=4) == {"INV-3"}
    assert cases(client, tab="all", assignee=teammate.pk) == {"INV-3"}
    assert cases(client, tab="all", reason="timeout", workflow=second.pk) == set()


def test_search_matches_the_case_id_and_the_summary(client, member, workflow):
    escalate(workflow, "INV-2041", summary="Check amount stopped the case.")
    escalate(workflow, "INV-7", summary="The ERP answered 503 Service Unavailable.")
    client.force_login(member)

    assert cases(client, tab="all", q="2041") == {"INV-2041"}
    assert cases(client, tab="all", q="service unavailable") == {"INV-7"}
    assert cases(client, tab="all", q="  inv-  ") == {"INV-2041", "INV-7"}


def test_a_filter_on_another_teams_workflow_or_person_is_ignored(
    client, member, outsider, other_workflow, workflow
):
    escalate(workflow, "INV-1")
    client.force_login(member)

    assert cases(client, tab="all", workflow=other_workflow.pk) == {"INV-1"}
    assert cases(client, tab="all", assignee=outsider.pk) == {"INV-1"}


def test_sorts_by_due_by_default_and_by_priority_opened_and_workflow(
    client, member, team, workflow
):
    second = workflow_with_steps({"action": "rules.check"}, team=team, name="Aardvark intake")
    escalate(workflow, "INV-1", priority=Escalation.Priority.LOW)  # due in 8 h
    escalate(workflow, "INV-2", priority=Escalation.Priority.URGENT)  # due in 1 h
    escalate(second, "INV-3", priority=Escalation.Priority.NORMAL)  # due in 4 h
    client.force_login(member)

    def order(**params):
        return rows(client.get(URL, {"tab": "all", **params}).content.decode())

    assert order() == ["INV-2", "INV-3", "INV-1"]
    assert order(sort="-due_at") == ["INV-1", "INV-3", "INV-2"]
    assert order(sort="-priority") == ["INV-2", "INV-3", "INV-1"]
    assert order(sort="priority") == ["INV-1", "INV-3", "INV-2"]
    assert order(sort="opened_at") == ["INV-1", "INV-2", "INV-3"]
    assert order(sort="-opened_at") == ["INV-3", "INV-2", "INV-1"]
    assert order(sort="workflow")[0] == "INV-3"
    assert order(sort="bogus") == ["INV-2", "INV-3", "INV-1"]


def test_pages_of_25_with_htmx_links_that_keep_the_query(client, member, workflow):
    for n in range(30):
        escalate(workflow, f"INV-{n:02}")
    client.force_login(member)

    first = client.get(URL, {"tab": "all", "reason": "out_of_bounds"}).content.decode()
    second = client.get(URL, {"tab": "all", "reason": "out_of_bounds", "page": 2}).content.decode()

    assert len(rows(first)) == 25
    assert len(rows(second)) == 5
    assert (
        'href="?tab=all&amp;reason=out_of_bounds&amp;page=2" '
        'hx-get="?tab=all&amp;reason=out_of_bounds&amp;page=2" hx-target="#inbox-list" '
        'hx-swap="outerHTML" hx-push-url="true"' in first
    )
    assert len(rows(client.get(URL, {"tab": "all", "page": 99}).content.decode())) == 5
    assert len(rows(client.get(URL, {"tab": "all", "page": "x"}).content.decode())) == 25
    assert len(rows(client.get(URL, {"tab": "all", "per_page": 0}).content.decode())) == 1


def test_sort_links_swap_the_list_push_the_url_and_start_again_at_page_one(
    client, member, workflow
):
    escalate(workflow, "INV-1")
    client.force_login(member)

    html = client.get(URL, {"tab": "all", "page": 1, "q": "INV"}).content.decode()

    assert (
        '<a href="?tab=all&amp;q=INV&amp;sort=priority"\n'
        '         hx-get="?tab=all&amp;q=INV&amp;sort=priority"\n'
        '         hx-target="#inbox-list" hx-swap="outerHTML" hx-push-url="true">Priority</a>'
        in html
    )


def test_the_full_page_has_filters_poller_flash_list_and_an_empty_panel(client, member, inbox):
    client.force_login(member)

    html = client.get(URL, {"tab": "unassigned", "q": "INV"}).content.decode()

    assert html.startswith("<!doctype html>")
    assert 'id="inbox-filters"' in html
    assert 'hx-push-url="true"' in html
    assert re.search(r'id="inbox-poller" hidden\s+hx-get="" hx-target="#inbox-list"', html)
    assert "every 10s" in html and "escalationChanged from:body" in html
    assert '<aside id="inbox-panel" class="inbox__panel" aria-label="Case detail">' in html
    assert 'id="inbox-flash"' in html
    assert "/static/js/inbox.js" in html
    assert '"403|409|422", "swap": true' in html  # refusals, conflicts, invalid forms
    assert '<input type="hidden" name="tab" value="unassigned">' in html


def test_an_htmx_request_for_the_list_gets_only_the_list_region(client, member, inbox):
    client.force_login(member)

    response = client.get(URL, {"tab": "overdue", "sort": "-priority"}, headers=htmx("inbox-list"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<body" not in html
    assert html.lstrip().startswith('<section id="inbox-list"')
    assert rows(html) == ["INV-3"]
    # The filter form learns the tab and sort the list is on, out of band.
    assert 'id="inbox-filter-state" hx-swap-oob="true"' in html
    assert '<input type="hidden" name="sort" value="-priority">' in html
    assert "HX-Request" in response["Vary"] and "HX-Target" in response["Vary"]


def test_a_history_restore_gets_the_full_page(client, member, inbox):
    client.force_login(member)
    headers = {**htmx("inbox-list"), "HX-History-Restore-Request": "true"}

    html = client.get(URL, headers=headers).content.decode()

    assert html.startswith("<!doctype html>")


def test_rows_show_reason_priority_due_avatar_case_workflow_and_summary(
    client, member, teammate, workflow
):
    mine = escalate(workflow, "INV-1", priority=Escalation.Priority.HIGH, overdue=True)
    theirs = escalate(workflow, "INV-2")
    nobodys = escalate(workflow, "INV-3", summary="x" * 300)
    claim(mine, member)
    claim(theirs, teammate)
    client.force_login(member)

    html = client.get(URL, {"tab": "all"}).content.decode()

    assert re.search(rf'<tr id="escalation-{mine.pk}" class="is-overdue (even|odd)"', html)
    assert re.search(rf'<tr id="escalation-{theirs.pk}" class="(even|odd)" data-pk', html)
    assert '<span class="reason reason--out_of_bounds">Out of bounds</span>' in html
    assert '<span class="priority priority--3">High</span>' in html
    assert html.count("overdue-tag") == 1
    assert 'title="Ana Ruiz" aria-label="Ana Ruiz">AR</span>' in html
    assert 'aria-label="Olivia Stone">OS</span> <span class="you">you</span>' in html
    assert "Invoice approval" in html
    assert ">" + "x" * 109 + "…</span>" in html
    detail = f"/inbox/{nobodys.pk}/?tab=all"
    assert (
        f'<a class="open-link" href="{detail}" hx-get="{detail}" hx-target="#inbox-panel"' in html
    )
    # An open case has a one-click claim; a claimed one does not.
    assert html.count('data-action="claim"') == 1
    assert f'hx-post="/inbox/{nobodys.pk}/claim/?tab=all"' in html
    assert f'name="ids" value="{nobodys.pk}" form="bulk-form"' in html


def test_the_bulk_bar_offers_teammates_only(client, member, teammate, outsider, inbox):
    client.force_login(member)

    html = client.get(URL).content.decode()
    start = html.index('id="bulk-assignee"')
    bulk_select = html[start : html.index("</select>", start)]

    assert f'<option value="{teammate.pk}">Ana Ruiz</option>' in bulk_select
    assert f'<option value="{member.pk}">Olivia Stone</option>' in bulk_select
    assert "Carl" not in bulk_select


def test_supervisors_see_escalations_of_every_team(client, inbox):
    client.force_login(UserFactory(role=SUPERVISOR))
    assert cases(client, tab="all") == {"INV-1", "INV-2", "INV-3", "INV-4", "CLM-1"}


def test_staff_status_alone_shows_only_the_users_own_teams(client, inbox):
    client.force_login(UserFactory(is_staff=True, team=inbox["INV-1"].team))
    assert cases(client, tab="all") == {"INV-1", "INV-2", "INV-3", "INV-4"}


def test_the_list_uses_the_same_number_of_queries_for_5_or_40_rows_of_any_page_size(
    client, member, teammate, team, workflow
):
    other = workflow_with_steps({"action": "rules.check"}, team=team, name="Vendor onboarding")
    people = [member, teammate, UserFactory(team=team), UserFactory(team=team)]

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            escalation = escalate(workflow if i % 2 else other, f"Q-{i}")
            if i % 3:
                claim(escalation, people[i % len(people)])

    def count(**params) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"tab": "all", **params})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    client.force_login(member)
    add(5, 0)
    few = count()
    full_page_of_few = count(per_page=100)
    filtered_few = count(workflow=workflow.pk, assignee=teammate.pk, q="Q-")
    add(35, 5)

    assert len(rows(client.get(URL, {"tab": "all", "per_page": 100}).content.decode())) == 40
    assert count() == few
    assert count(per_page=100) == full_page_of_few == few
    assert count(workflow=workflow.pk, assignee=teammate.pk, q="Q-") == filtered_few
    with CaptureQueriesContext(connection) as ctx:
        client.get(URL, {"tab": "all"}, headers=htmx("inbox-list"))
    partial = len(ctx.captured_queries)
    assert partial <= few
    print(f"inbox list: {few} queries (full page), {partial} (htmx list region)")


def test_the_nav_badge_counts_what_waits_for_me_and_flags_overdue(client, member, inbox):
    client.force_login(member)

    html = client.get(reverse("inbox:badge"), headers=htmx("inbox-badge")).content.decode().strip()

    assert html.startswith('<span id="inbox-badge" class="nav-badge nav-badge--overdue"')
    assert 'hx-trigger="escalationChanged from:body, every 60s"' in html
    assert "3 cases wait for you, 1 overdue" in html  # mine + two unassigned


def test_the_nav_links_the_inbox_with_a_badge_that_loads_itself(client, member):
    client.force_login(member)

    html = client.get(reverse("runs:list")).content.decode()

    assert '<a href="/inbox/" >Inbox <span id="inbox-badge"' in html
    assert 'hx-get="/inbox/badge/" hx-trigger="load, escalationChanged from:body' in html
