"""Workflow status moves: one service, a table of allowed moves, a history, and admin actions
that ask why."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts import roles
from apps.workflows.models import Workflow, WorkflowStatusChange
from apps.workflows.services import (
    ALLOWED_MOVES,
    NOT_ALLOWED_TO_MOVE,
    REASON_REQUIRED,
    workflow_set_status,
)
from tests.factories import StepFactory, UserFactory, VersionFactory, WorkflowFactory

pytestmark = pytest.mark.django_db
S = Workflow.Status


def workflow_in(status: str, *, published: bool = True) -> Workflow:
    workflow = WorkflowFactory(status=status)
    if published:
        StepFactory(version=VersionFactory(workflow=workflow, number=1))
    return workflow


@pytest.fixture
def implementer():
    return UserFactory(username="tom", role=roles.IMPLEMENTER, is_staff=True)


# ---------------------------------------------------------------------------------------------
# The service


@pytest.mark.parametrize(
    ("current", "status"),
    [(current, status) for current, targets in ALLOWED_MOVES.items() for status in targets],
)
def test_every_allowed_move_moves_and_is_recorded(current, status, implementer):
    workflow = workflow_in(current)

    change = workflow_set_status(
        workflow=workflow, status=status, user=implementer, reason="  Pilot went well  "
    )

    assert workflow.status == status
    assert Workflow.objects.get(pk=workflow.pk).status == status
    assert (change.from_status, change.to_status) == (current, status)
    assert change.changed_by == implementer
    assert change.reason == "Pilot went well"
    assert list(workflow.status_changes.all()) == [change]


@pytest.mark.parametrize(
    ("current", "status", "message"),
    [
        (S.RETIRED, S.LIVE, "A retired workflow cannot go live again: copy it as a new workflow."),
        (
            S.RETIRED,
            S.PILOT,
            "A retired workflow cannot move to pilot again: copy it as a new workflow.",
        ),
        (
            S.LIVE,
            S.DRAFT,
            "A live workflow cannot move to draft; from live it can move to paused or retired.",
        ),
        (
            S.PAUSED,
            S.DRAFT,
            "A paused workflow cannot move to draft; from paused it can move to live, pilot "
            "or retired.",
        ),
        (S.LIVE, S.LIVE, "Workflow 'wf' is already live."),
    ],
)
def test_a_refused_move_says_why_and_changes_nothing(current, status, message, implementer):
    workflow = workflow_in(current)
    Workflow.objects.filter(pk=workflow.pk).update(slug="wf")
    workflow.refresh_from_db()

    with pytest.raises(ValidationError) as caught:
        workflow_set_status(workflow=workflow, status=status, user=implementer, reason="Try")

    assert caught.value.messages == [message]
    assert Workflow.objects.get(pk=workflow.pk).status == current
    assert not WorkflowStatusChange.objects.exists()


def test_going_live_needs_a_published_version(implementer):
    workflow = workflow_in(S.DRAFT, published=False)
    VersionFactory(workflow=workflow, number=1, published_at=None)
    StepFactory(version=workflow.versions.get())

    with pytest.raises(ValidationError) as caught:
        workflow_set_status(workflow=workflow, status=S.LIVE, user=implementer, reason="Ready")

    assert caught.value.messages == [
        f"Workflow {workflow.slug!r} has no published version with steps: publish one before "
        "it goes live."
    ]


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(reason, implementer):
    workflow = workflow_in(S.DRAFT)

    with pytest.raises(ValidationError) as caught:
        workflow_set_status(workflow=workflow, status=S.PILOT, user=implementer, reason=reason)

    assert caught.value.message_dict == {"reason": [REASON_REQUIRED]}
    assert Workflow.objects.get(pk=workflow.pk).status == S.DRAFT


def test_someone_who_may_not_change_workflows_is_refused():
    manager = UserFactory(username="maria", role=roles.MANAGER, is_staff=True)
    workflow = workflow_in(S.LIVE)

    with pytest.raises(PermissionDenied, match=NOT_ALLOWED_TO_MOVE):
        workflow_set_status(workflow=workflow, status=S.PAUSED, user=manager, reason="Stop it")

    assert Workflow.objects.get(pk=workflow.pk).status == S.LIVE
    assert not WorkflowStatusChange.objects.exists()


def test_a_superuser_and_the_system_may_move_a_workflow():
    workflow = workflow_in(S.DRAFT)
    root = UserFactory(username="root", is_superuser=True)

    workflow_set_status(workflow=workflow, status=S.PILOT, user=root, reason="Pilot")
    workflow_set_status(workflow=workflow, status=S.LIVE, user=None, reason="Nightly job")

    assert [(c.changed_by, c.to_status) for c in workflow.status_changes.all()] == [
        (root, S.PILOT),
        (None, S.LIVE),
    ]


def test_went_live_at_is_the_first_time_it_went_live(implementer):
    workflow = workflow_in(S.DRAFT)
    assert workflow.went_live_at is None

    workflow_set_status(workflow=workflow, status=S.PILOT, user=implementer, reason="Pilot")
    assert workflow.went_live_at is None

    first = workflow_set_status(workflow=workflow, status=S.LIVE, user=implementer, reason="Go")
    assert workflow.went_live_at == first.at

    workflow_set_status(workflow=workflow, status=S.PAUSED, user=implementer, reason="ERP down")
    again = workflow_set_status(workflow=workflow, status=S.LIVE, user=implementer, reason="Back")

    assert again.at > first.at
    assert Workflow.objects.get(pk=workflow.pk).went_live_at == first.at
    history = workflow.status_changes.values_list("from_status", "to_status", "reason")
    assert list(history) == [
        (S.DRAFT, S.PILOT, "Pilot"),
        (S.PILOT, S.LIVE, "Go"),
        (S.LIVE, S.PAUSED, "ERP down"),
        (S.PAUSED, S.LIVE, "Back"),
    ]


def test_a_went_live_at_set_before_the_history_began_is_kept(implementer):
    earlier = timezone.now() - timedelta(days=90)
    workflow = workflow_in(S.PAUSED)
    Workflow.objects.filter(pk=workflow.pk).update(went_live_at=earlier)
    workflow.refresh_from_db()

    workflow_set_status(workflow=workflow, status=S.LIVE, user=implementer, reason="Back on")

    assert Workflow.objects.get(pk=workflow.pk).went_live_at == earlier


def test_a_stale_workflow_object_cannot_overwrite_a_move_made_meanwhile(implementer):
    workflow = workflow_in(S.LIVE)
    stale = Workflow.objects.get(pk=workflow.pk)
    workflow_set_status(workflow=workflow, status=S.PAUSED, user=implementer, reason="ERP down")

    # The stale copy still says live; live → retired is allowed, but the row is no longer live.
    with pytest.raises(ValidationError) as caught:
        workflow_set_status(workflow=stale, status=S.RETIRED, user=implementer, reason="Done")

    assert caught.value.messages == [
        f"Workflow {workflow.slug!r} is now paused, not live: someone moved it meanwhile. "
        "Reload it and try again."
    ]
    assert Workflow.objects.get(pk=workflow.pk).status == S.PAUSED
    assert list(workflow.status_changes.values_list("to_status", flat=True)) == [S.PAUSED]


# ---------------------------------------------------------------------------------------------
# Admin


CHANGELIST = "/admin/workflows/workflow/"


def run_action(client, action: str, workflows, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [w.pk for w in workflows], **extra},
    )


def test_a_status_action_asks_for_a_reason_before_moving(client, implementer):
    workflow = workflow_in(S.PILOT)
    client.force_login(implementer)

    page = run_action(client, "set_status_live", [workflow])

    assert page.status_code == 200
    html = page.content.decode()
    assert "Move to live: why?" in html
    assert 'name="reason"' in html
    assert f"{workflow.name} ({workflow.slug}), now pilot" in html
    assert Workflow.objects.get(pk=workflow.pk).status == S.PILOT


def test_a_status_action_with_a_reason_moves_through_the_service(client, implementer):
    workflow = workflow_in(S.PILOT)
    client.force_login(implementer)

    response = run_action(
        client, "set_status_live", [workflow], post="yes", reason="Pilot met its targets"
    )

    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.status == S.LIVE
    assert workflow.went_live_at is not None
    change = workflow.status_changes.get()
    assert (change.from_status, change.to_status, change.changed_by, change.reason) == (
        S.PILOT,
        S.LIVE,
        implementer,
        "Pilot met its targets",
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [f"{workflow} is now live."]


def test_a_blank_reason_shows_the_page_again_with_the_error(client, implementer):
    workflow = workflow_in(S.LIVE)
    client.force_login(implementer)

    page = run_action(client, "set_status_paused", [workflow], post="yes", reason=" ")

    assert page.status_code == 200
    assert REASON_REQUIRED in page.content.decode()
    assert Workflow.objects.get(pk=workflow.pk).status == S.LIVE


def test_a_refused_move_is_reported_per_workflow_and_the_others_move(client, implementer):
    retired = workflow_in(S.RETIRED)
    live = workflow_in(S.LIVE)
    client.force_login(implementer)

    response = run_action(
        client, "set_status_paused", [retired, live], post="yes", reason="Maintenance"
    )

    messages = sorted(str(m) for m in response.wsgi_request._messages)
    assert messages == sorted(
        [
            f"{retired}: A retired workflow cannot move to paused again: copy it as a new "
            "workflow.",
            f"{live} is now paused.",
        ]
    )
    assert Workflow.objects.get(pk=live.pk).status == S.PAUSED
    assert Workflow.objects.get(pk=retired.pk).status == S.RETIRED


def test_the_admin_form_cannot_edit_status_or_went_live_at(client, implementer):
    workflow = workflow_in(S.LIVE)
    client.force_login(implementer)
    url = f"{CHANGELIST}{workflow.pk}/change/"

    page = client.get(url).content.decode()
    response = client.post(
        url,
        {
            "slug": workflow.slug,
            "name": workflow.name,
            "team": workflow.team_id,
            "status": S.DRAFT,
            "went_live_at_0": "2020-01-01",
            "went_live_at_1": "00:00:00",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
            "status_changes-TOTAL_FORMS": "0",
            "status_changes-INITIAL_FORMS": "0",
        },
    )

    assert 'name="status"' not in page
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.status, workflow.went_live_at) == (S.LIVE, None)


def test_the_workflow_page_shows_its_status_history_read_only(client, implementer):
    workflow = workflow_in(S.DRAFT)
    workflow_set_status(workflow=workflow, status=S.PILOT, user=implementer, reason="First try")
    workflow_set_status(workflow=workflow, status=S.LIVE, user=None, reason="Nightly job")
    client.force_login(UserFactory(username="maria", role=roles.MANAGER, is_staff=True))

    html = client.get(f"{CHANGELIST}{workflow.pk}/change/").content.decode()

    assert "Status history" in html
    assert "First try" in html and "tom" in html
    assert "Nightly job" in html and "system" in html
    assert 'name="status_changes-0-reason"' not in html


def test_a_manager_is_offered_no_status_actions(client):
    workflow_in(S.LIVE)
    client.force_login(UserFactory(username="maria", role=roles.MANAGER, is_staff=True))

    html = client.get(CHANGELIST).content.decode()

    assert "set_status_paused" not in html
