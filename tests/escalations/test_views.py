import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.escalations.services import escalation_open
from apps.runs.services import run_start
from tests.factories import TeamFactory, UserFactory, workflow_with_steps

pytestmark = pytest.mark.django_db

URL = "/escalations/"


def escalate(
    workflow,
    external_id: str,
    reason=Escalation.Reason.RETRIES_EXHAUSTED,
    summary="Step failed 3 attempts.",
    **kwargs,
) -> Escalation:
    run, _ = run_start(workflow=workflow, external_id=external_id, data={"amount": 1})
    return escalation_open(run=run, reason=reason, summary=summary, **kwargs)


@pytest.fixture
def team():
    return TeamFactory(name="Accounts payable", slug="ap")


@pytest.fixture
def member(team):
    return UserFactory(username="olivia", team=team)


@pytest.fixture
def workflow(team):
    return workflow_with_steps({"action": "rules.check"}, team=team, name="Invoice approval")


@pytest.fixture
def other_workflow():
    return workflow_with_steps(
        {"action": "rules.check"},
        team=TeamFactory(name="Claims", slug="claims"),
        name="Claims intake",
    )


def cases(client, **params) -> set[str]:
    html = client.get(URL, params).content.decode()
    return {c for c in ("INV-1", "INV-2", "INV-3", "CLM-1") if c in html}


def test_anonymous_user_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_escalation_list_url_name():
    assert reverse("escalations:list") == URL


def test_escalation_list_shows_only_the_users_teams(client, member, workflow, other_workflow):
    escalate(workflow, "INV-1")
    escalate(other_workflow, "CLM-1")
    client.force_login(member)
    assert cases(client) == {"INV-1"}


def test_staff_see_escalations_of_every_team(client, workflow, other_workflow):
    escalate(workflow, "INV-1")
    escalate(other_workflow, "CLM-1")
    client.force_login(UserFactory(is_staff=True))
    assert cases(client) == {"INV-1", "CLM-1"}


def test_row_links_to_the_run_and_shows_reason_summary_and_status(client, member, workflow):
    escalation = escalate(
        workflow,
        "INV-1",
        reason=Escalation.Reason.OUT_OF_BOUNDS,
        summary="Check limit stopped the case: total <= 100 does not hold.",
    )
    client.force_login(member)

    html = client.get(URL).content.decode()

    assert f'id="escalation-{escalation.pk}"' in html
    assert f'href="{escalation.run.get_absolute_url()}"' in html
    assert '<span class="reason reason--out_of_bounds">Out of bounds</span>' in html
    assert "total &lt;= 100 does not hold." in html
    assert '<span class="badge badge--open">Open</span>' in html
    assert "Invoice approval" in html
    assert "Unassigned" in html


def test_only_unresolved_escalations_are_listed_by_default(client, member, workflow):
    escalate(workflow, "INV-1")
    claimed = escalate(workflow, "INV-2")
    resolved = escalate(workflow, "INV-3")
    Escalation.objects.filter(pk=claimed.pk).update(
        status=Escalation.Status.CLAIMED, assignee=member
    )
    Escalation.objects.filter(pk=resolved.pk).update(
        status=Escalation.Status.RESOLVED, resolved_at=timezone.now()
    )
    client.force_login(member)

    assert cases(client) == {"INV-1", "INV-2"}
    assert cases(client, status="claimed") == {"INV-2"}
    assert cases(client, status="resolved") == {"INV-3"}
    assert cases(client, status="all") == {"INV-1", "INV-2", "INV-3"}


def test_escalation_list_filters_by_reason_and_workflow(client, member, team, workflow):
    second = workflow_with_steps({"action": "rules.check"}, team=team, name="Vendor onboarding")
    escalate(workflow, "INV-1", reason=Escalation.Reason.TIMEOUT)
    escalate(workflow, "INV-2", reason=Escalation.Reason.PERMANENT_ERROR)
    escalate(second, "INV-3", reason=Escalation.Reason.TIMEOUT)
    client.force_login(member)

    assert cases(client, reason="timeout") == {"INV-1", "INV-3"}
    assert cases(client, workflow=second.pk) == {"INV-3"}
    assert cases(client, reason="timeout", workflow=workflow.pk) == {"INV-1"}


def test_overdue_escalations_are_highlighted(client, member, workflow):
    late = escalate(workflow, "INV-1")
    on_time = escalate(workflow, "INV-2")
    Escalation.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    client.force_login(member)

    html = client.get(URL).content.decode()

    assert re.search(rf'<tr id="escalation-{late.pk}" class="is-overdue\b', html)
    assert re.search(rf'<tr id="escalation-{on_time.pk}" class="(even|odd)"', html)
    assert html.count("overdue-tag") == 1


def test_escalation_list_sorts_by_priority(client, member, workflow):
    escalate(workflow, "INV-1", priority=Escalation.Priority.LOW)
    escalate(workflow, "INV-2", priority=Escalation.Priority.URGENT)
    client.force_login(member)

    html = client.get(URL, {"sort": "-priority"}).content.decode()

    assert html.index("INV-2") < html.index("INV-1")


def test_escalation_list_query_count_does_not_grow_with_rows(client, member, workflow):
    for n in range(3):
        escalate(workflow, f"A-{n}")
    client.force_login(member)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for n in range(20):
        escalate(workflow, f"B-{n}")
    Escalation.objects.filter(run__external_id__startswith="B-").update(assignee=member)
    assert count() == few


@pytest.mark.parametrize(
    "column",
    ["opened_at", "case", "workflow", "reason", "status", "-priority", "due_at", "assignee"],
)
def test_escalation_list_sorts_by_every_column(client, member, workflow, column):
    escalate(workflow, "INV-1")
    client.force_login(member)
    response = client.get(URL, {"sort": column})
    assert response.status_code == 200
    assert b"INV-1" in response.content
