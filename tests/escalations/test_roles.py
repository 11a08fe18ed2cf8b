"""Roles in the services: who may act on a case, checked by the services themselves; the views
answer 403 (with the reason) for a case the user may see but not act on, and 404 for one of a
team they may not see. Staff status widens nothing: seeing every team takes
``accounts.view_all_teams`` (the supervisor group)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils.html import escape

from apps.accounts.models import Team
from apps.accounts.roles import IMPLEMENTER, MANAGER, OPERATOR, SUPERVISOR
from apps.accounts.selectors import sees_all_teams
from apps.escalations.models import Comment, Escalation
from apps.escalations.permissions import (
    IMPLEMENTERS_READ,
    MANAGERS_READ,
    OPERATORS_ONLY,
    can_act_on_cases,
)
from apps.escalations.services import (
    escalation_assign,
    escalation_claim,
    escalation_comment,
    escalation_release,
    escalation_resolve,
)
from apps.runs.models import Run, RunEvent
from tests.escalations.factories import BOUND, escalate, htmx
from tests.factories import UserFactory, workflow_with_steps

pytestmark = pytest.mark.django_db

ACTIONS = ("claim", "release", "assign", "comment", "resolve", "bulk")
CASE_ACTIONS = ACTIONS[:-1]
NOT_OPERATOR_OF_AP = "You are not an operator of Accounts payable."


# ---------------------------------------------------------------------------------------------
# People and helpers


@pytest.fixture
def people(team, other_team, member, outsider):
    """Everyone the rule tells apart, by what they are to the Accounts payable team."""

    def user(username, **fields):
        return UserFactory(username=username, **fields)

    return {
        "operator": member,
        "outsider": outsider,  # an operator of Claims
        "manager": user("maria", team=team, role=MANAGER, is_staff=True),
        "implementer": user("tom", team=team, role=IMPLEMENTER, is_staff=True),
        "implementer_operator": user("ivy", team=team, roles=[IMPLEMENTER, OPERATOR]),
        "manager_operator": user("mo", team=team, roles=[MANAGER, OPERATOR]),
        "no_role": user("nora", team=team),
        "supervisor_operator": user("sam", team=other_team, roles=[OPERATOR, SUPERVISOR]),
        "supervisor": user("sue", team=other_team, role=SUPERVISOR),
        "staff_outsider": user("stan", team=other_team, role=OPERATOR, is_staff=True),
        "superuser": user("root", is_staff=True, is_superuser=True),
    }


ALLOWED = ("operator", "implementer_operator", "supervisor_operator", "superuser")
READ_ONLY = {
    "manager": MANAGERS_READ,
    "manager_operator": MANAGERS_READ,
    "implementer": IMPLEMENTERS_READ,
    "no_role": OPERATORS_ONLY,
    "supervisor": OPERATORS_ONLY,  # sees every team, acts on none
}
UNSEEN = ("outsider", "staff_outsider")


@pytest.fixture
def case(workflow):
    """An open case of Accounts payable."""
    return escalate(workflow, "INV-1")


def post(client, escalation, action, *, assignee, as_htmx=True):
    """The action's POST with input that holds (release and bulk claim need nothing more)."""
    data = {
        "claim": {},
        "release": {},
        "assign": {"assignee": assignee.pk},
        "comment": {"text": "Looked at it."},
        "resolve": {"resolution": "cancelled", "note": "Duplicate invoice."},
        "bulk": {"action": "claim", "ids": [escalation.pk]},
    }[action]
    url = "/inbox/bulk/" if action == "bulk" else f"/inbox/{escalation.pk}/{action}/"
    headers = htmx("inbox-flash" if action == "bulk" else "inbox-panel") if as_htmx else {}
    return client.post(url, data, headers=headers)


def untouched(escalation) -> None:
    fresh = Escalation.objects.get(pk=escalation.pk)
    assert fresh.status == Escalation.Status.OPEN
    assert fresh.assignee is None and fresh.resolved_by is None
    assert not Comment.objects.filter(escalation=escalation).exists()
    assert fresh.run.status == Run.Status.ESCALATED
    assert list(fresh.run.events.values_list("kind", flat=True)) == [
        RunEvent.Kind.CREATED,
        RunEvent.Kind.ESCALATED,
    ]


def action_urls(escalation) -> list[str]:
    return [f"/inbox/{escalation.pk}/{action}/" for action in CASE_ACTIONS]


# ---------------------------------------------------------------------------------------------
# The rule


def test_the_supervisor_group_holds_view_all_teams_and_staff_status_does_not(people):
    assert sees_all_teams(people["supervisor"]) and sees_all_teams(people["supervisor_operator"])
    assert sees_all_teams(people["superuser"])
    for name in ("manager", "implementer", "staff_outsider", "operator"):
        assert not sees_all_teams(people[name]), name


def test_the_rule_by_role_and_team(people, team, other_team):
    allowed = {name for name, user in people.items() if can_act_on_cases(user, team)}
    assert allowed == set(ALLOWED)
    # Claims' own operators act on Claims' cases, Accounts payable's do not.
    assert can_act_on_cases(people["outsider"], other_team)
    assert not can_act_on_cases(people["operator"], other_team)


def test_an_inactive_superuser_may_not_act(people, team):
    root = people["superuser"]
    root.is_active = False
    assert not can_act_on_cases(root, team)


# ---------------------------------------------------------------------------------------------
# Through the views


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", ALLOWED)
def test_allowed_people_may_do_every_action(client, people, case, who, action):
    user, operator = people[who], people["operator"]
    if action == "release":
        Escalation.objects.filter(pk=case.pk).update(
            status=Escalation.Status.CLAIMED, assignee=user, claimed_at=case.opened_at
        )
    client.force_login(user)

    response = post(client, case, action, assignee=operator)

    assert response.status_code == 200, response.content.decode()[:2000]
    fresh = Escalation.objects.get(pk=case.pk)
    expected = {
        "claim": lambda: fresh.assignee == user,
        "release": lambda: fresh.status == Escalation.Status.OPEN and fresh.assignee is None,
        "assign": lambda: fresh.assignee == operator,
        "comment": lambda: fresh.comments.filter(author=user).exists(),
        "resolve": lambda: (
            fresh.resolution == Escalation.Resolution.CANCELLED
            and fresh.resolved_by == user
            and fresh.run.status == Run.Status.CANCELLED
        ),
        "bulk": lambda: fresh.assignee == user,
    }[action]
    assert expected()


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", READ_ONLY)
def test_read_only_people_get_403_with_the_reason_on_every_action_and_nothing_changes(
    client, people, case, who, action
):
    client.force_login(people[who])

    response = post(client, case, action, assignee=people["operator"])

    assert response.status_code == 403
    html = response.content.decode()
    assert READ_ONLY[who] in html
    # The region htmx swaps: the panel, or the flash line of a bulk action.
    region = '<div id="inbox-flash"' if action == "bulk" else '<aside id="inbox-panel"'
    assert html.lstrip().startswith(region)
    untouched(case)


@pytest.mark.parametrize("action", ACTIONS)
def test_a_refusal_on_a_plain_post_is_a_403_page_with_the_reason(client, people, case, action):
    client.force_login(people["manager"])

    response = post(client, case, action, assignee=people["operator"], as_htmx=False)

    assert response.status_code == 403
    html = response.content.decode()
    assert html.startswith("<!doctype html>")
    assert MANAGERS_READ in html
    untouched(case)


def test_the_demo_case_a_teams_own_non_staff_manager_cannot_cancel_it(client, team, case):
    manager = UserFactory(username="lead", team=team, role=MANAGER)
    client.force_login(manager)

    response = client.post(
        f"/inbox/{case.pk}/resolve/", {"resolution": "cancelled", "note": "Stop."}
    )

    assert response.status_code == 403
    untouched(case)


@pytest.mark.parametrize("who", UNSEEN)
def test_another_teams_operator_learns_nothing_by_guessing_ids(client, people, case, who):
    client.force_login(people[who])

    for headers in ({}, htmx("inbox-panel"), htmx("inbox-list")):
        assert client.get(f"/inbox/{case.pk}/", headers=headers).status_code == 404
    for action in ACTIONS:
        for as_htmx in (True, False):
            response = post(client, case, action, assignee=people[who], as_htmx=as_htmx)
            assert response.status_code == 404, (action, as_htmx)
    # A case that does not exist answers the same.
    assert client.post(f"/inbox/{case.pk + 1000}/claim/").status_code == 404
    assert b"INV-1" not in client.get("/inbox/", {"tab": "all", "status": "any"}).content
    untouched(case)


def test_a_supervisor_reads_every_team_but_a_bulk_over_two_teams_is_refused_whole(
    client, people, case, other_workflow
):
    theirs = escalate(other_workflow, "CLM-1")
    client.force_login(people["supervisor"])
    assert client.get(f"/inbox/{case.pk}/").status_code == 200
    assert client.get(f"/inbox/{theirs.pk}/").status_code == 200

    response = client.post(
        "/inbox/bulk/",
        {"action": "claim", "ids": [case.pk, theirs.pk]},
        headers=htmx("inbox-flash"),
    )

    assert response.status_code == 403
    assert OPERATORS_ONLY in response.content.decode()
    untouched(case)
    untouched(theirs)


def test_a_supervisor_operator_comments_on_another_teams_case(client, people, case):
    client.force_login(people["supervisor_operator"])

    response = post(client, case, "comment", assignee=people["operator"])

    assert response.status_code == 200
    assert case.comments.get().author == people["supervisor_operator"]


def test_staff_status_alone_shows_only_the_users_own_teams(client, people, case, other_workflow):
    theirs = escalate(other_workflow, "CLM-1")
    client.force_login(people["staff_outsider"])

    listed = client.get("/inbox/", {"tab": "all", "status": "any"}).content.decode()

    assert "CLM-1" in listed and "INV-1" not in listed
    assert client.get(f"/inbox/{theirs.pk}/").status_code == 200
    assert client.get(f"/inbox/{case.pk}/").status_code == 404


# ---------------------------------------------------------------------------------------------
# What the pages show


def action_forms(html: str, escalation) -> set[str]:
    return {
        action for action in CASE_ACTIONS if f'hx-post="/inbox/{escalation.pk}/{action}/' in html
    }


def test_a_manager_reads_the_case_and_the_list_without_any_action_button(client, people, case):
    client.force_login(people["manager"])

    page = client.get(f"/inbox/{case.pk}/")
    panel = client.get(f"/inbox/{case.pk}/", headers=htmx("inbox-panel"))

    assert page.status_code == panel.status_code == 200
    for html in (page.content.decode(), panel.content.decode()):
        assert escape(case.summary) in html and escape(BOUND) in html  # reads everything
        assert action_forms(html, case) == set()
        assert 'data-action="claim"' not in html
        assert 'name="resolution"' not in html and 'name="text"' not in html
        assert MANAGERS_READ in html
    listed = page.content.decode()
    assert 'id="bulk-form"' not in listed
    assert 'name="ids"' not in listed and "select-all" not in listed
    assert "INV-1" in listed


def test_an_operator_gets_every_button_the_manager_does_not(client, people, case):
    client.force_login(people["operator"])

    html = client.get(f"/inbox/{case.pk}/").content.decode()

    assert action_forms(html, case) == {"claim", "assign", "comment", "resolve"}
    assert 'id="bulk-form"' in html and 'name="ids"' in html
    assert html.count('data-action="claim"') == 2  # in the panel and on the row
    assert MANAGERS_READ not in html and OPERATORS_ONLY not in html


@pytest.mark.parametrize("who", ["implementer", "supervisor", "no_role"])
def test_other_read_only_people_get_no_buttons_either(client, people, case, who):
    client.force_login(people[who])

    html = client.get(f"/inbox/{case.pk}/").content.decode()

    assert action_forms(html, case) == set()
    assert 'id="bulk-form"' not in html
    assert READ_ONLY[who] in html


# ---------------------------------------------------------------------------------------------
# The services themselves


def call(action: str, escalation, user, operator):
    if action == "claim":
        return escalation_claim(escalation=escalation, user=user)
    if action == "release":
        return escalation_release(escalation=escalation, user=user)
    if action == "assign":
        return escalation_assign(escalation=escalation, user=user, assignee=operator)
    if action == "comment":
        return escalation_comment(escalation=escalation, user=user, text="Looked at it.")
    return escalation_resolve(
        escalation=escalation, user=user, resolution="cancelled", note="Duplicate."
    )


@pytest.mark.parametrize("action", CASE_ACTIONS)
@pytest.mark.parametrize("who", [*READ_ONLY, *UNSEEN])
def test_every_service_refuses_who_may_not_act_and_changes_nothing(people, case, who, action):
    with pytest.raises(PermissionDenied) as refused:
        call(action, case, people[who], people["operator"])

    assert str(refused.value) == READ_ONLY.get(who, NOT_OPERATOR_OF_AP)
    untouched(case)


@pytest.mark.parametrize("action", CASE_ACTIONS)
@pytest.mark.parametrize("who", ALLOWED)
def test_every_service_lets_allowed_people_act(people, case, who, action):
    user = people[who]
    if action == "release":
        escalation_claim(escalation=case, user=user)

    call(action, case, user, people["operator"])

    assert case.run.events.filter(actor=user).exists()


@pytest.mark.parametrize("who", ["manager", "implementer", "no_role"])
def test_a_case_is_not_assigned_to_someone_who_could_not_act_on_it(people, case, who):
    with pytest.raises(ValidationError) as invalid:
        escalation_assign(escalation=case, user=people["operator"], assignee=people[who])

    name = people[who].get_full_name() or people[who].get_username()
    assert invalid.value.messages == [f"{name} cannot act on cases: choose an operator."]
    untouched(case)


# ---------------------------------------------------------------------------------------------
# The demo's people


@pytest.fixture
def demo_case():
    call_command("demo", no_cases=True, base_url="http://erp.test")
    workflow = workflow_with_steps(
        {"key": "check", "name": "Check amount", "action": "rules.check", "bounds": [BOUND]},
        team=Team.objects.get(slug="accounts-payable"),
        name="Invoice approval",
    )
    return escalate(workflow, "INV-DEMO")


def test_the_demo_operator_claims_edits_and_resumes_as_in_the_browser_test(client, demo_case):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.get(username="operator")
    client.force_login(operator)

    assert client.get("/inbox/", {"tab": "unassigned"}).status_code == 200
    assert client.get(f"/inbox/{demo_case.pk}/", headers=htmx()).status_code == 200
    assert post(client, demo_case, "claim", assignee=operator).status_code == 200
    response = client.post(
        f"/inbox/{demo_case.pk}/resolve/",
        {"resolution": "resumed", "data.amount": "900", "data.vendor": "ACME"},
        headers=htmx(),
    )

    assert response.status_code == 200, response.content.decode()[:2000]
    fresh = Escalation.objects.select_related("run").get(pk=demo_case.pk)
    assert fresh.resolution == Escalation.Resolution.RESUMED
    assert fresh.run.data["amount"] == 900
    assert fresh.run.status == Run.Status.RUNNING


def test_the_demo_manager_reads_but_cannot_act_nor_see_another_team(
    client, demo_case, other_workflow
):
    from django.contrib.auth import get_user_model

    theirs = escalate(other_workflow, "CLM-1")
    manager = get_user_model().objects.get(username="manager")
    assert manager.is_staff  # for Django admin, which is all staff status is for now
    client.force_login(manager)

    assert client.get(f"/inbox/{demo_case.pk}/").status_code == 200
    for action in ACTIONS:
        assert post(client, demo_case, action, assignee=manager).status_code == 403, action
    assert client.get(f"/inbox/{theirs.pk}/").status_code == 404
    untouched(demo_case)
