"""Escalation services: claims, comments and every resolution, with the run carried on by a
real worker."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.roles import OPERATOR
from apps.escalations.models import Escalation
from apps.escalations.services import (
    EscalationConflict,
    coerce_edit,
    escalation_assign,
    escalation_claim,
    escalation_comment,
    escalation_release,
    escalation_resolve,
)
from apps.runs.models import Run, StepAttempt
from apps.runs.services import run_start
from tests.factories import UserFactory, workflow_with_steps
from tests.http_target import Reply

pytestmark = pytest.mark.django_db(transaction=True)
R = Escalation.Resolution


@pytest.fixture
def escalated(drain):
    """A two-step case stopped by its bound (amount <= 100), and two operators of its team."""
    workflow = workflow_with_steps(
        {"key": "check", "name": "Check", "bounds": ["amount <= 100"]},
        {"key": "label", "action": "data.set", "config": {"set": {"label": "upper(ref)"}}},
    )
    run, _ = run_start(workflow=workflow, external_id="E-1", data={"amount": 500, "ref": "x"})
    drain()
    team = workflow.team
    ana = UserFactory(username="ana", first_name="Ana", last_name="", team=team, role=OPERATOR)
    ben = UserFactory(username="ben", first_name="Ben", last_name="", team=team, role=OPERATOR)
    return Escalation.objects.get(run=run), ana, ben


def test_a_second_claim_is_refused_and_names_the_holder(escalated):
    escalation, ana, ben = escalated
    escalation_claim(escalation=escalation, user=ana)

    with pytest.raises(EscalationConflict, match=r"Claimed by Ana at \d\d:\d\d\."):
        escalation_claim(escalation=escalation, user=ben)
    assert escalation_claim(escalation=escalation, user=ana).assignee == ana


def test_release_puts_the_case_back_and_only_its_holder_may(escalated):
    escalation, ana, ben = escalated
    escalation_claim(escalation=escalation, user=ana)
    with pytest.raises(EscalationConflict):
        escalation_release(escalation=escalation, user=ben)

    released = escalation_release(escalation=escalation, user=ana)

    assert released.status == Escalation.Status.OPEN and released.assignee is None
    assert escalation_claim(escalation=escalation, user=ben).assignee == ben


def test_assign_only_to_a_member_of_the_team(escalated):
    escalation, ana, ben = escalated
    outsider = UserFactory(username="olga")
    with pytest.raises(ValidationError, match="not in"):
        escalation_assign(escalation=escalation, user=ana, assignee=outsider)

    assigned = escalation_assign(escalation=escalation, user=ana, assignee=ben)

    assert assigned.assignee == ben and assigned.status == Escalation.Status.CLAIMED
    assert escalation.run.events.filter(kind="claimed", actor=ana).exists()


def test_a_comment_is_kept_and_on_the_timeline(escalated):
    escalation, ana, _ = escalated
    escalation_comment(escalation=escalation, user=ana, text="Asked the vendor.")
    with pytest.raises(ValidationError):
        escalation_comment(escalation=escalation, user=ana, text="  ")
    assert escalation.comments.get().text == "Asked the vendor."
    assert escalation.run.events.get(kind="commented").message == "Asked the vendor."


def test_resume_after_editing_data_records_the_diff_and_a_worker_completes_it(escalated, drain):
    escalation, ana, _ = escalated
    escalation_claim(escalation=escalation, user=ana)

    escalation_resolve(
        escalation=escalation, user=ana, resolution=R.RESUMED, changes={"amount": 80}
    )
    drain()

    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == Run.Status.COMPLETED
    assert run.data == {"amount": 80, "ref": "x", "label": "X"}
    resolved = run.events.get(kind="resolved")
    assert resolved.actor == ana
    assert resolved.detail["diff"] == [{"field": "amount", "old": 500, "new": 80}]
    assert "amount: 500 → 80" in run.events.get(kind="resumed").message
    second = run.attempts.filter(step__key="check").order_by("number").last()
    assert second.number == 2 and second.try_number == 1


def test_retry_starts_a_fresh_round_of_the_policy(drain, http_target):
    http_target.default = Reply(503)
    workflow = workflow_with_steps(
        {"action": "http.request", "config": {"url": f"{http_target.url}/x"}, "max_attempts": 2}
    )
    run, _ = run_start(workflow=workflow, external_id="E-2", data={})
    drain()
    escalation = Escalation.objects.get(run=run)
    assert escalation.reason == Escalation.Reason.RETRIES_EXHAUSTED
    user = UserFactory(username="ana", team=workflow.team, role=OPERATOR)
    http_target.reply(Reply(503))  # fails once more, then the default answers
    http_target.default = Reply(201, {"id": "ok"})

    escalation_resolve(escalation=escalation, user=user, resolution=R.RETRIED)
    drain()

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert [a.try_number for a in run.attempts.order_by("number")] == [1, 2, 1, 2]


def test_skip_needs_a_reason_and_moves_to_the_next_step(escalated, drain):
    escalation, ana, _ = escalated
    with pytest.raises(ValidationError) as caught:
        escalation_resolve(escalation=escalation, user=ana, resolution=R.SKIPPED)
    assert "note" in caught.value.message_dict

    escalation_resolve(
        escalation=escalation,
        user=ana,
        resolution=R.SKIPPED,
        note="Amount approved by the controller.",
    )
    drain()

    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == Run.Status.COMPLETED_SKIPPED and run.data["label"] == "X"
    assert run.events.filter(kind="step_skipped", actor=ana).exists()


def test_completed_by_hand_needs_minutes_and_a_note_and_counts_them(escalated):
    escalation, ana, _ = escalated
    with pytest.raises(ValidationError) as caught:
        escalation_resolve(escalation=escalation, user=ana, resolution=R.DONE_BY_HAND)
    assert set(caught.value.message_dict) == {"note", "minutes"}

    done = escalation_resolve(
        escalation=escalation,
        user=ana,
        resolution=R.DONE_BY_HAND,
        minutes=12,
        note="Booked in the ERP by hand.",
    )

    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == Run.Status.COMPLETED and run.finished_at
    assert done.human_minutes == Decimal("12.00") and run.human_minutes == Decimal("12.00")


def test_cancel_needs_a_reason_and_ends_the_case(escalated):
    escalation, ana, _ = escalated
    escalation_resolve(
        escalation=escalation, user=ana, resolution=R.CANCELLED, note="Duplicate invoice."
    )

    run = Run.objects.get(pk=escalation.run_id)
    assert run.status == Run.Status.CANCELLED
    assert not run.attempts.filter(status=StepAttempt.Status.QUEUED).exists()
    assert run.events.last().kind == "cancelled"


def test_a_resolved_escalation_cannot_be_resolved_again(escalated):
    escalation, ana, ben = escalated
    escalation_resolve(escalation=escalation, user=ana, resolution=R.CANCELLED, note="dup")

    with pytest.raises(EscalationConflict, match=r"Already resolved by Ana at \d\d:\d\d"):
        escalation_resolve(escalation=escalation, user=ben, resolution=R.RETRIED)


def test_someone_else_cannot_resolve_a_claimed_case(escalated):
    escalation, ana, ben = escalated
    escalation_claim(escalation=escalation, user=ana)

    with pytest.raises(EscalationConflict, match="Claimed by Ana"):
        escalation_resolve(escalation=escalation, user=ben, resolution=R.RETRIED)


def test_claim_to_resolve_minutes_are_capped_by_the_team(escalated):
    from datetime import timedelta

    from django.utils import timezone

    escalation, ana, _ = escalated
    escalation.team.max_human_minutes = 30
    escalation.team.save()
    escalation_claim(escalation=escalation, user=ana)
    Escalation.objects.filter(pk=escalation.pk).update(
        claimed_at=timezone.now() - timedelta(hours=3)
    )

    done = escalation_resolve(escalation=escalation, user=ana, resolution=R.RETRIED)

    assert done.human_minutes == Decimal("30.00")


@pytest.mark.parametrize(
    ("old", "raw", "new"),
    [
        (5, "7", 7),
        (1.5, "2.25", 2.25),
        (True, "no", False),
        ("a", " b ", "b"),
        ({"x": 1}, '{"x": 2}', {"x": 2}),
        (None, "text", "text"),
    ],
)
def test_form_values_are_read_as_the_fields_type(old, raw, new):
    assert coerce_edit(field="f", old=old, raw=raw) == new


def test_a_value_of_the_wrong_type_names_the_field():
    with pytest.raises(ValidationError) as caught:
        coerce_edit(field="amount", old=10, raw="ten")
    assert "amount" in caught.value.message_dict
