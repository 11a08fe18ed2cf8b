"""Who may see and do what: sign-in, team scope (404 for another team's case, read and
every action, however the id is found), CSRF on every POST, no trace on any page."""

import pytest
from django.test import Client

from apps.accounts.roles import OPERATOR, SUPERVISOR
from apps.escalations.models import Comment, Escalation
from apps.runs.models import RunEvent
from tests.escalations.factories import escalate, htmx
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACTIONS = {
    "claim": {},
    "release": {},
    "assign": {"assignee": "ME"},
    "comment": {"text": "Mine now."},
    "resolve": {"resolution": "cancelled", "note": "Not yours."},
}


@pytest.fixture
def theirs(other_workflow):
    """A case of the Claims team."""
    return escalate(other_workflow, "CLM-1")


def untouched(escalation) -> None:
    fresh = Escalation.objects.get(pk=escalation.pk)
    assert fresh.status == Escalation.Status.OPEN
    assert fresh.assignee is None
    assert not Comment.objects.filter(escalation=escalation).exists()
    assert list(fresh.run.events.values_list("kind", flat=True)) == [
        RunEvent.Kind.CREATED,
        RunEvent.Kind.ESCALATED,
    ]


@pytest.mark.parametrize("path", ["/inbox/", "/inbox/1/", "/inbox/badge/", "/escalations/"])
def test_anonymous_reads_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("action", [*ACTIONS, "bulk"])
def test_anonymous_posts_are_sent_to_sign_in_and_change_nothing(client, theirs, action):
    path = "/inbox/bulk/" if action == "bulk" else f"/inbox/{theirs.pk}/{action}/"

    response = client.post(path, {"action": "claim", "ids": [theirs.pk]}, headers=htmx())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    untouched(theirs)


def test_another_teams_case_is_404_to_read_as_page_panel_or_list_refresh(client, member, theirs):
    client.force_login(member)
    path = f"/inbox/{theirs.pk}/"

    assert client.get(path).status_code == 404
    assert client.get(path, headers=htmx("inbox-panel")).status_code == 404
    assert client.get(path, headers=htmx("inbox-list")).status_code == 404
    assert b"CLM-1" not in client.get("/inbox/", {"tab": "all", "status": "any"}).content


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("as_htmx", [True, False])
def test_every_action_on_another_teams_case_is_404_and_changes_nothing(
    client, member, outsider, theirs, action, as_htmx
):
    client.force_login(member)
    data = {k: (member.pk if v == "ME" else v) for k, v in ACTIONS[action].items()}

    response = client.post(f"/inbox/{theirs.pk}/{action}/", data, headers=htmx() if as_htmx else {})

    assert response.status_code == 404
    assert b"Traceback" not in response.content
    untouched(theirs)


def test_guessing_ids_finds_nothing_of_another_team(client, member, workflow, theirs):
    mine = escalate(workflow, "INV-1")
    client.force_login(member)

    for pk in range(1, max(mine.pk, theirs.pk) + 5):
        status = client.post(f"/inbox/{pk}/claim/", headers=htmx()).status_code
        assert status == (200 if pk == mine.pk else 404), pk
    untouched(theirs)


def test_bulk_with_one_id_of_another_team_is_404_and_changes_nothing(
    client, member, workflow, theirs
):
    mine = escalate(workflow, "INV-1")
    client.force_login(member)

    response = client.post(
        "/inbox/bulk/", {"action": "claim", "ids": [mine.pk, theirs.pk]}, headers=htmx()
    )

    assert response.status_code == 404
    untouched(theirs)
    assert Escalation.objects.get(pk=mine.pk).assignee is None


def test_a_supervisor_operator_may_read_and_act_on_every_team(client, theirs):
    client.force_login(UserFactory(roles=[OPERATOR, SUPERVISOR]))

    assert client.get(f"/inbox/{theirs.pk}/").status_code == 200
    assert client.post(f"/inbox/{theirs.pk}/comment/", {"text": "Seen."}).status_code == 302


def test_staff_status_widens_nothing_another_teams_case_is_404(client, member, theirs):
    member.is_staff = True
    member.save()
    client.force_login(member)

    assert client.get(f"/inbox/{theirs.pk}/").status_code == 404
    assert client.post(f"/inbox/{theirs.pk}/comment/", {"text": "Seen."}).status_code == 404
    untouched(theirs)


def test_csrf_is_enforced_on_actions_and_the_token_in_the_header_is_accepted(member, workflow):
    escalation = escalate(workflow, "INV-1")
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    page = client.get(f"/inbox/{escalation.pk}/")
    token = client.cookies["csrftoken"].value
    # The page carries the token for htmx in hx-headers on <body>.
    assert b"""hx-headers='{"X-CSRFToken": """ in page.content

    for action in ("claim", "comment", "resolve", "release", "assign"):
        assert client.post(f"/inbox/{escalation.pk}/{action}/", headers=htmx()).status_code == 403
    bulk = client.post("/inbox/bulk/", {"action": "claim", "ids": [escalation.pk]})
    assert bulk.status_code == 403
    assert Escalation.objects.get(pk=escalation.pk).assignee is None

    response = client.post(
        f"/inbox/{escalation.pk}/claim/", headers={**htmx(), "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert Escalation.objects.get(pk=escalation.pk).assignee == member


@pytest.mark.parametrize(
    "params",
    [
        {"page": "-1"},
        {"per_page": "abc"},
        {"per_page": "100000"},
        {"sort": "run__data"},
        {"workflow": "x"},
        {"assignee": "999999"},
        {"priority": "99"},
        {"status": "nope"},
        {"tab": "everything"},
        {"q": "%' OR 1=1 --"},
    ],
)
def test_odd_querystrings_never_break_the_list(client, member, workflow, params):
    escalate(workflow, "INV-1")
    client.force_login(member)

    response = client.get("/inbox/", params)

    assert response.status_code == 200
    assert b"Traceback" not in response.content


def test_a_resolve_with_odd_input_is_refused_not_a_server_error(client, member, workflow):
    escalation = escalate(workflow, "INV-1")
    client.force_login(member)

    for data in (
        {"resolution": "exploded"},
        {"resolution": "done_by_hand", "minutes": "ten", "note": "x"},
        {"resolution": "done_by_hand", "minutes": "1e400", "note": "x"},
        {"resolution": "resumed", "data.amount": "1" * 5000},
    ):
        response = client.post(f"/inbox/{escalation.pk}/resolve/", data, headers=htmx())
        assert response.status_code == 422, data
    assert Escalation.objects.get(pk=escalation.pk).status == Escalation.Status.OPEN
