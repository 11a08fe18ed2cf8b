"""The engine's one front door: the transitions table, the hand-over hook, admin through the
services, and the reconciler's repair of a hand-over closed behind the engine's back."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.escalations.models import Escalation
from apps.runs import hooks
from apps.runs.models import Run, StepAttempt
from apps.runs.services import (
    MOVES,
    IllegalTransition,
    reconcile,
    run_cancel,
    run_hand_over,
    run_lock,
    run_resume,
    run_start,
)
from apps.runs.services.transitions import run_move
from tests.escalations.factories import escalate
from tests.factories import TeamFactory, UserFactory, workflow_with_steps

S = Run.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow():
    return workflow_with_steps({"action": "data.set", "config": {"set": {"done": "True"}}})


def new_run(workflow, external_id="C-1") -> Run:
    run, _ = run_start(workflow=workflow, external_id=external_id, data={"amount": 5})
    return run


def test_every_status_a_run_can_have_is_in_the_table_and_finished_runs_never_move():
    assert set(MOVES) == set(S.values)
    for finished in Run.FINISHED:
        assert not any(finished in sources for sources in MOVES.values()), finished


@pytest.mark.parametrize("finished", Run.FINISHED)
def test_a_finished_run_refuses_every_move_and_stays_as_it_was(workflow, finished):
    run = new_run(workflow)
    Run.objects.filter(pk=run.pk).update(status=finished)
    run.refresh_from_db()

    for to in S.values:
        with pytest.raises(IllegalTransition, match=f"cannot move from {finished} to {to}"):
            run_move(run=run, to=to)

    run.refresh_from_db()
    assert run.status == finished


def test_a_move_checks_the_status_in_the_database_not_the_stale_object(workflow):
    run = new_run(workflow)
    stale = Run.objects.get(pk=run.pk)
    run_move(run=run, to=S.CANCELLED)  # someone else cancelled it meanwhile

    with pytest.raises(IllegalTransition):
        run_move(run=stale, to=S.RUNNING)
    assert Run.objects.get(pk=run.pk).status == S.CANCELLED


STATUS_WRITES = [
    re.compile(r"\brun\.status\s*=(?!=)"),  # an assignment, not a comparison
    re.compile(r"\.update\([^)]*\bstatus=Run\.Status"),
    re.compile(r"^\s*status=Run\.Status\.\w+"),  # a keyword argument of a multi-line call
]


def test_every_status_write_of_a_run_is_in_the_transitions_module():
    """A reader finds every status change of a run in one module."""
    apps = Path(__file__).resolve().parents[2] / "apps"
    writers = [
        f"{path.relative_to(apps)}:{number}: {line.strip()}"
        for path in apps.rglob("*.py")
        if "migrations" not in path.parts and path.name != "transitions.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if any(pattern.search(line) for pattern in STATUS_WRITES)
    ]
    assert writers == []


def test_the_engine_refuses_to_hand_over_without_a_registered_inbox(workflow, monkeypatch):
    run = new_run(workflow)
    monkeypatch.setattr(hooks, "_handover", None)

    with pytest.raises(Exception, match="No hand-over is registered"), transaction.atomic():
        run_hand_over(run=run_lock(run=run), reason="manual_review", summary="Look.")
    assert Run.objects.get(pk=run.pk).status == S.QUEUED


def test_a_case_with_an_open_escalation_cannot_be_cancelled_or_resumed_around_the_inbox(
    workflow,
):
    escalation = escalate(workflow, "C-9")
    user = UserFactory(role="operator", team=workflow.team)
    step = escalation.step

    with pytest.raises(IllegalTransition, match="decide it from its escalation in the inbox"):
        run_cancel(run=escalation.run, user=user, note="Duplicate.")
    with pytest.raises(IllegalTransition, match="decide it from its escalation in the inbox"):
        run_resume(run=escalation.run, step=step, user=user)

    assert Run.objects.get(pk=escalation.run_id).status == S.ESCALATED
    assert Escalation.objects.get(pk=escalation.pk).status == Escalation.Status.OPEN


def test_cancelling_an_active_run_cancels_its_queued_attempt_and_says_who(workflow):
    run = new_run(workflow)
    user = UserFactory(
        username="ines", first_name="Ines", last_name="Roth", role="operator", team=workflow.team
    )

    run_cancel(run=run, user=user, note="Sent twice.")

    run.refresh_from_db()
    assert run.status == S.CANCELLED and run.finished_at is not None
    assert run.attempts.get().status == StepAttempt.Status.CANCELLED
    assert run.events.get(kind="cancelled").message == "Cancelled by Ines Roth: Sent twice."


def test_the_reconciler_hands_over_again_a_run_whose_escalation_was_closed_behind_its_back(
    workflow,
):
    escalation = escalate(workflow, "C-7")
    # What an admin edit used to do: the escalation resolved, the run left "with a person".
    Escalation.objects.filter(pk=escalation.pk).update(status=Escalation.Status.RESOLVED)
    Run.objects.filter(pk=escalation.run_id).update(
        updated_at=timezone.now() - timedelta(minutes=10)
    )

    report = reconcile()

    assert report.handovers_reopened == 1
    reopened = Escalation.objects.open().get(run_id=escalation.run_id)
    assert reopened.pk != escalation.pk
    assert "closed without a decision" in reopened.summary
    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == S.ESCALATED
    assert run.events.filter(kind="recovered", detail__found="lost_handover").count() == 1
    assert reconcile().handovers_reopened == 0  # once


# ---------------------------------------------------------------------------------------------
# Admin goes through the services


@pytest.fixture
def staff(workflow):
    user = UserFactory(username="impl", is_staff=True, role="operator", team=workflow.team)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_run", "change_run", "view_escalation", "change_escalation"]
        )
    )
    return user


def test_saving_a_run_in_admin_cannot_write_its_case_data_or_status(client, staff, workflow):
    run = new_run(workflow)
    client.force_login(staff)
    url = reverse("admin:runs_run_change", args=[run.pk])

    page = client.get(url)
    client.post(url, {"data": '{"amount": 999}', "status": "completed"})

    assert page.status_code == 200
    assert 'name="data"' not in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    run.refresh_from_db()
    assert run.data == {"amount": 5} and run.status == S.QUEUED


def test_escalation_state_is_read_only_in_admin(client, staff, workflow):
    escalation = escalate(workflow, "C-3")
    client.force_login(staff)
    url = reverse("admin:escalations_escalation_change", args=[escalation.pk])

    client.post(url, {"status": "resolved", "resolution": "cancelled"})

    assert Escalation.objects.get(pk=escalation.pk).status == Escalation.Status.OPEN


def test_admin_cancel_asks_why_then_resolves_through_the_inbox_service(client, staff, workflow):
    escalation = escalate(workflow, "C-4")
    client.force_login(staff)
    url = reverse("admin:escalations_escalation_changelist")
    picked = {"action": "cancel_case", "_selected_action": [escalation.pk]}

    asked = client.post(url, picked)
    done = client.post(url, {**picked, "apply": "1", "note": "Paid twice."}, follow=True)

    assert "Why" in asked.content.decode()
    assert "Cancel the cases: 1 done." in done.content.decode()
    resolved = Escalation.objects.get(pk=escalation.pk)
    assert resolved.status == Escalation.Status.RESOLVED and resolved.resolved_by == staff
    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == S.CANCELLED
    assert run.events.get(kind="cancelled").message.endswith("Paid twice.")


def test_admin_retry_puts_the_step_back_in_the_engines_hands(client, staff, workflow):
    escalation = escalate(workflow, "C-5")
    client.force_login(staff)
    url = reverse("admin:escalations_escalation_changelist")

    client.post(
        url,
        {"action": "retry_step", "_selected_action": [escalation.pk], "apply": "1", "note": "ok"},
    )

    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == S.RUNNING
    assert run.attempts.filter(status=StepAttempt.Status.QUEUED).count() == 1


def test_admin_cancel_of_a_run_with_a_person_is_refused_and_says_where_to_decide_it(
    client, staff, workflow
):
    escalation = escalate(workflow, "C-6")
    client.force_login(staff)
    url = reverse("admin:runs_run_changelist")

    done = client.post(
        url,
        {"action": "cancel", "_selected_action": [escalation.run_id], "apply": "1", "note": "x"},
        follow=True,
    )

    assert "decide it from its escalation in the inbox" in done.content.decode()
    assert Run.objects.get(pk=escalation.run_id).status == S.ESCALATED


def test_an_operator_of_another_team_cannot_use_admin_to_cancel(client, workflow):
    outsider = UserFactory(username="x", is_staff=True, role="operator", team=TeamFactory())
    outsider.user_permissions.add(*Permission.objects.filter(codename__in=["change_run"]))
    run = new_run(workflow)
    client.force_login(outsider)

    client.post(
        reverse("admin:runs_run_changelist"),
        {"action": "cancel", "_selected_action": [run.pk], "apply": "1", "note": "x"},
    )

    assert Run.objects.get(pk=run.pk).status == S.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_run_that_skipped_a_step_says_so_on_its_page_in_the_list_filter_and_the_api(
    drain, http_target, client
):
    from apps.workflows.services import intake_token_create
    from tests.http_target import Reply

    http_target.default = Reply(400, {"error": "bad"})
    workflow = workflow_with_steps(
        {
            "key": "post",
            "action": "http.request",
            "on_failure": "skip",
            "config": {"method": "POST", "url": f"{http_target.url}/x", "body": {}},
        },
        {"key": "after", "action": "data.set", "config": {"set": {"done": "True"}}},
    )
    skipped = new_run(workflow, "SKIP-1")
    plain = workflow_with_steps({"action": "data.set", "config": {"set": {"done": "True"}}})
    clean = new_run(plain, "CLEAN-1")
    drain()
    member = UserFactory(team=workflow.team)
    plain.team.members.add(member)
    client.force_login(member)

    page = client.get(skipped.get_absolute_url()).content.decode()
    listed = client.get(reverse("runs:list"), {"status": "completed_skipped"}).content.decode()
    token = intake_token_create(workflow=workflow)[1]
    api = client.get(
        f"/api/v1/runs/{skipped.pk}", headers={"Authorization": f"Bearer {token}"}
    ).json()

    assert '<span class="badge badge--completed_skipped">Completed with skipped steps</span>' in (
        page
    )
    assert "SKIP-1" in listed and "CLEAN-1" not in listed
    assert api["status"] == "completed_skipped"
    assert Run.objects.get(pk=clean.pk).status == S.COMPLETED
