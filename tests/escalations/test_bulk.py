"""Bulk actions: one POST, each selected escalation through its own service, one summary."""

import re

import pytest
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.runs.models import Run
from tests.escalations.factories import escalate, htmx

pytestmark = pytest.mark.django_db

URL = "/inbox/bulk/"


def bulk(client, action, escalations, plain=False, **data):
    payload = {"action": action, "ids": [e.pk for e in escalations], **data}
    if plain:
        return client.post(URL + "?tab=all", payload)
    return client.post(URL, payload, headers=htmx("inbox-flash"))


@pytest.fixture
def four(workflow):
    return [escalate(workflow, f"INV-{n}") for n in range(1, 5)]


def test_bulk_claim_says_how_many_and_who_had_the_others(client, member, teammate, four):
    client.force_login(teammate)
    client.post(f"/inbox/{four[3].pk}/claim/", headers=htmx())
    client.force_login(member)

    response = bulk(client, "claim", four)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "escalationChanged"
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="inbox-flash"')
    assert re.search(
        r"<strong>3 claimed; 1 already claimed by Ana Ruiz at \d\d:\d\d\.</strong>", html
    )
    assert re.search(r'<li><span class="case-id">INV-4</span> Claimed by Ana Ruiz at', html)
    assert Escalation.objects.filter(assignee=member).count() == 3
    assert Escalation.objects.get(pk=four[3].pk).assignee == teammate


def test_bulk_assign_gives_the_cases_to_a_teammate(client, member, teammate, four):
    client.force_login(member)

    response = bulk(client, "assign", four[:2], assignee=teammate.pk)

    assert "<strong>2 assigned to Ana Ruiz.</strong>" in response.content.decode()
    assert Escalation.objects.filter(assignee=teammate).count() == 2


def test_bulk_assign_needs_a_teammate(client, member, outsider, four):
    client.force_login(member)

    missing = bulk(client, "assign", four[:1])
    stranger = bulk(client, "assign", four[:1], assignee=outsider.pk)

    assert missing.status_code == 422
    assert "Choose who takes the selected cases." in missing.content.decode()
    assert stranger.status_code == 422
    assert not Escalation.objects.filter(assignee__isnull=False).exists()


def test_bulk_retry_resolves_each_and_reports_the_ones_it_could_not(client, member, teammate, four):
    client.force_login(teammate)
    client.post(f"/inbox/{four[0].pk}/claim/", headers=htmx())
    client.force_login(member)

    html = bulk(client, "retry", four).content.decode()

    assert re.search(r"<strong>3 sent to retry; 1 already claimed by Ana Ruiz at \d\d:\d\d\.", html)
    assert Escalation.objects.filter(resolution=Escalation.Resolution.RETRIED).count() == 3
    assert Run.objects.filter(status=Run.Status.RUNNING).count() == 3


def test_bulk_on_already_resolved_cases_says_so(client, member, teammate, four):
    client.force_login(teammate)
    bulk(client, "retry", four[:2])
    # Refusals are grouped by their message, which names the minute: keep both in one.
    Escalation.objects.filter(pk__in=[e.pk for e in four[:2]]).update(resolved_at=timezone.now())
    client.force_login(member)

    html = bulk(client, "claim", four[:2]).content.decode()

    assert 'class="alert alert--error"' in html
    assert re.search(
        r"<strong>0 claimed; 2 already resolved by Ana Ruiz at \d\d:\d\d \(Step retried\)\.", html
    )


def test_bulk_with_nothing_selected_asks_for_a_selection(client, member, four):
    client.force_login(member)

    response = client.post(URL, {"action": "claim"}, headers=htmx("inbox-flash"))

    assert response.status_code == 422
    assert "Select at least one escalation first." in response.content.decode()


def test_a_plain_bulk_post_redirects_to_the_list_with_the_summary(client, member, four):
    client.force_login(member)

    response = bulk(client, "claim", four[:2], plain=True)

    assert response.status_code == 302
    assert response["Location"] == "/inbox/?tab=all"
    assert "2 claimed." in client.get(response["Location"]).content.decode()
