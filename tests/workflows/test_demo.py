"""The demo loader: idempotent setup, a valid definition, and a real run against the fake ERP."""

import json
import re
from collections import Counter
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from apps.accounts import roles
from apps.accounts.models import Team
from apps.escalations.models import Escalation
from apps.runs.models import Run, RunEvent, StepAttempt
from apps.workflows.demo import BLOCK, DEMO_CASE_SCHEMA, MIX, WORKFLOW_SLUG, demo_cases
from apps.workflows.models import Step, Workflow, WorkflowVersion
from apps.workflows.schema import case_data_errors, case_schema_errors
from apps.workflows.services import intake_token_create

MODELS = (Team, get_user_model(), Workflow, WorkflowVersion, Step, Run, StepAttempt, RunEvent)


def demo(**options) -> str:
    out = StringIO()
    call_command("demo", stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def readme_intake_example() -> dict:
    """The body of the README's `curl -X POST …/runs` example, as the reader would send it."""
    readme = (settings.BASE_DIR / "README.md").read_text()
    [body] = re.findall(r"/workflows/supplier-invoice-intake/runs.*?-d '(\{.*?\})'", readme, re.S)
    return json.loads(body)


@pytest.mark.django_db
def test_running_the_demo_twice_changes_nothing_and_prints_the_logins(monkeypatch):
    monkeypatch.delenv("HANDOFF_DEMO_PASSWORD", raising=False)
    first_output = demo(cases=12, base_url="http://erp.test")
    after_first = counts()
    passwords = dict(get_user_model().objects.values_list("username", "password"))

    second_output = demo(cases=12, base_url="http://erp.test")

    assert counts() == after_first
    assert dict(get_user_model().objects.values_list("username", "password")) == passwords
    assert after_first["Run"] == 12
    assert Run.objects.filter(source=Run.Source.DEMO).count() == 12
    assert "Summary: 12 cases started, 0 already there" in first_output
    assert "Summary: 0 cases started, 12 already there" in second_output
    for output in (first_output, second_output):
        assert "http://" in output
        assert "Logins: operator, implementer, manager, admin (password: handoff-demo)" in output


@pytest.mark.django_db
def test_demo_people_have_their_roles_team_and_password(monkeypatch):
    monkeypatch.setenv("HANDOFF_DEMO_PASSWORD", "s3cret-demo")

    output = demo(no_cases=True, base_url="http://erp.test")

    team = Team.objects.get(slug="accounts-payable")
    assert team.name == "Accounts Payable"
    users = {u.username: u for u in get_user_model().objects.prefetch_related("groups", "teams")}
    for username, role in [
        ("operator", roles.OPERATOR),
        ("implementer", roles.IMPLEMENTER),
        ("manager", roles.MANAGER),
    ]:
        user = users[username]
        assert [g.name for g in user.groups.all()] == [role]
        assert list(user.teams.all()) == [team]
        assert user.check_password("s3cret-demo")
    assert not users["operator"].is_staff
    assert users["implementer"].is_staff and users["manager"].is_staff
    assert users["admin"].is_superuser and users["admin"].check_password("s3cret-demo")
    assert "(password: s3cret-demo)" in output
    assert "Summary: 0 cases started, 0 already there." in output
    assert not Run.objects.exists()


@pytest.mark.django_db
def test_demo_workflow_is_live_with_one_valid_published_version():
    demo(no_cases=True, base_url="http://erp.test:8000/")

    workflow = Workflow.objects.get(slug=WORKFLOW_SLUG)
    assert workflow.status == Workflow.Status.LIVE
    assert workflow.went_live_at is not None
    assert (workflow.baseline_minutes, workflow.baseline_sample_size) == (12, 40)
    assert workflow.baseline_source == "stopwatch study, 40 invoices"
    version = workflow.versions.get()
    assert version.is_published
    assert version.case_schema == DEMO_CASE_SCHEMA
    version.full_clean()
    steps = list(version.steps.order_by("position"))
    assert [(s.key, s.action) for s in steps] == [
        ("validate", "rules.check"),
        ("review-new-vendor", "human.review"),
        ("normalise", "data.set"),
        ("post-to-erp", "http.request"),
        ("notify", "email.send"),
    ]
    for step in steps:
        step.full_clean()
    erp = steps[3]
    assert erp.config["url"] == "http://erp.test:8000/demo/erp/invoices"
    assert (
        erp.max_attempts,
        erp.initial_interval_s,
        erp.backoff_coefficient,
        erp.max_interval_s,
        erp.jitter,
        erp.timeout_s,
    ) == (4, 1.0, 2.0, 20.0, 0.2, 3.0)
    assert steps[4].on_failure == Step.OnFailure.SKIP


@pytest.mark.django_db
def test_the_demo_workflow_went_live_through_the_status_service_once():
    demo(no_cases=True, base_url="http://erp.test")
    demo(no_cases=True, base_url="http://erp.test")

    workflow = Workflow.objects.get(slug=WORKFLOW_SLUG)
    [change] = workflow.status_changes.all()
    assert (change.from_status, change.to_status) == (
        Workflow.Status.DRAFT,
        Workflow.Status.LIVE,
    )
    assert (change.changed_by, change.reason) == (None, "Demo")
    assert workflow.went_live_at == change.at


def test_the_demo_schema_is_a_usable_schema_and_every_demo_case_fits_it():
    assert case_schema_errors(DEMO_CASE_SCHEMA) == []
    for external_id, _, data in demo_cases(count=2 * BLOCK):
        assert case_data_errors(schema=DEMO_CASE_SCHEMA, data=data) == [], external_id


def test_the_readme_intake_example_fits_the_demo_schema():
    example = readme_intake_example()

    assert example["external_id"] == "INV-9001"
    assert case_data_errors(schema=DEMO_CASE_SCHEMA, data=example["data"]) == []
    # Its email step needs the due date; the schema asks for it, so the README must send it.
    without_due_date = {k: v for k, v in example["data"].items() if k != "due_date"}
    assert case_data_errors(schema=DEMO_CASE_SCHEMA, data=without_due_date) == [
        "due_date: is required"
    ]


@pytest.mark.django_db
def test_the_demo_intake_refuses_a_case_the_schema_does_not_allow():
    demo(no_cases=True, base_url="http://erp.test")
    token = intake_token_create(workflow=Workflow.objects.get(slug=WORKFLOW_SLUG))[1]
    data = {**readme_intake_example()["data"], "amount": "lots", "due_date": "31/12/2026"}

    response = Client().post(
        f"/api/v1/workflows/{WORKFLOW_SLUG}/runs",
        {"external_id": "INV-9002", "data": data},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "data.amount", "message": "'lots' is not a number"},
        {"field": "data.due_date", "message": "'31/12/2026' is not a date (YYYY-MM-DD)"},
    ]
    assert not Run.objects.exists()


def test_the_readme_intake_example_completes_and_sends_its_email(
    live_server, drain, monkeypatch, mailoutbox
):
    for name in ("FAIL", "REJECT", "SLOW"):
        monkeypatch.setenv(f"HANDOFF_DEMO_ERP_{name}_RATE", "0")
    demo(no_cases=True, base_url=live_server.url)
    token = intake_token_create(workflow=Workflow.objects.get(slug=WORKFLOW_SLUG))[1]

    response = Client().post(
        f"/api/v1/workflows/{WORKFLOW_SLUG}/runs",
        readme_intake_example(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    drain(timeout=30)

    assert response.status_code == 201
    run = Run.objects.get(pk=response.json()["id"])
    assert run.status == Run.Status.COMPLETED
    assert not run.attempts.filter(status=StepAttempt.Status.FAILED).exists()
    [email] = mailoutbox
    assert email.to == ["ap-team@example.com"]
    assert email.subject == f"Invoice INV-9001 booked as {run.data['erp_id']}"
    assert "Acme: 420.5 EUR, due 2026-12-20" in email.body


@pytest.mark.django_db
def test_another_erp_address_publishes_a_new_version_and_keeps_earlier_cases_pinned():
    demo(cases=3, base_url="http://old.test")

    demo(cases=5, base_url="http://new.test")

    workflow = Workflow.objects.get(slug=WORKFLOW_SLUG)
    assert list(workflow.versions.values_list("number", flat=True)) == [2, 1]
    pinned = Counter(Run.objects.values_list("version__number", flat=True))
    assert pinned == {1: 3, 2: 2}


@pytest.mark.django_db
def test_a_paused_demo_workflow_is_left_alone_and_starts_no_cases():
    demo(no_cases=True, base_url="http://erp.test")
    Workflow.objects.filter(slug=WORKFLOW_SLUG).update(status=Workflow.Status.PAUSED)

    output = demo(cases=3, base_url="http://erp.test")

    assert Workflow.objects.get(slug=WORKFLOW_SLUG).status == Workflow.Status.PAUSED
    assert "No cases started: Workflow 'supplier-invoice-intake' is paused" in output
    assert not Run.objects.exists()


def test_cases_are_deterministic_and_every_block_holds_the_mix():
    short = demo_cases(count=BLOCK)
    long = demo_cases(count=2 * BLOCK)

    assert long[:BLOCK] == short
    assert [external_id for external_id, _, _ in short[:2]] == ["INV-2026-0001", "INV-2026-0002"]
    for block in (long[:BLOCK], long[BLOCK:]):
        assert Counter(kind for _, kind, _ in block) == MIX
    for _, kind, data in long:
        assert (data["amount"] > 10000) == (kind == "over_limit")
        assert (data["confidence"] < 0.8) == (kind == "low_confidence")
        assert data["vendor_is_new"] == (kind == "new_vendor")


def test_demo_cases_settle_on_a_real_worker_against_the_live_fake_erp(
    live_server, drain, monkeypatch, mailoutbox
):
    # The ERP's random trouble is off, so the outcome is exactly the block's mix; its slow
    # answers take longer than the step's time limit, shortened (with the retry interval) to
    # keep the test quick.
    for name in ("FAIL", "REJECT", "SLOW"):
        monkeypatch.setenv(f"HANDOFF_DEMO_ERP_{name}_RATE", "0")
    monkeypatch.setenv("HANDOFF_DEMO_ERP_SLOW_SECONDS", "2")

    demo(cases=BLOCK, base_url=live_server.url, erp_timeout=1.0, retry_interval=0.1)
    drain(timeout=60)

    statuses = Counter(Run.objects.values_list("status", flat=True))
    reasons = Counter(Escalation.objects.open().values_list("reason", flat=True))
    R = Escalation.Reason
    assert reasons == {
        R.OUT_OF_BOUNDS: MIX["over_limit"] + MIX["low_confidence"],
        R.MANUAL_REVIEW: MIX["new_vendor"],
        R.RETRIES_EXHAUSTED: MIX["erp_unavailable"],
        R.PERMANENT_ERROR: MIX["erp_reject"],
        R.TIMEOUT: MIX["erp_slow"],
    }
    completed = MIX["plain"] + MIX["erp_flaky"]
    assert statuses == {Run.Status.COMPLETED: completed, Run.Status.ESCALATED: BLOCK - completed}
    flaky = Run.objects.filter(data__erp_scenario="flaky")
    assert flaky.count() == MIX["erp_flaky"]
    for run in flaky:
        assert run.status == Run.Status.COMPLETED
        assert run.attempts.filter(step__key="post-to-erp").count() == 2
        assert run.data["erp_id"].startswith("ERP-")
    slow = Run.objects.get(data__erp_scenario="slow")
    assert (
        list(slow.attempts.filter(step__key="post-to-erp").values_list("error_code", flat=True))
        == ["timeout"] * 4
    )
    assert len(mailoutbox) == completed
