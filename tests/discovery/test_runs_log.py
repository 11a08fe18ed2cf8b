"""A workflow's own runs, opened as an event log: the same analysis, CSV and XES export."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.discovery.models import EventLog, ProcessMap
from apps.discovery.services import event_log_import
from apps.discovery.services.runs_log import workflow_runs_log, workflow_steps_path
from apps.runs.models import RunEvent
from apps.runs.services import event_append, run_start
from tests.discovery.conftest import T0
from tests.factories import workflow_with_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(team):
    return workflow_with_steps(
        {"name": "Check invoice"}, {"name": "Post to ERP"}, team=team, name="Invoice approval"
    )


def timeline(workflow, external_id, entries):
    run, _ = run_start(workflow=workflow, external_id=external_id, data={"amount": 1})
    run.events.all().update(at=T0)  # the "created" entry, at a known time
    steps = {s.name: s for s in run.version.steps.all()}
    for minutes, kind, step, detail in entries:
        event_append(
            run=run,
            kind=kind,
            step=steps.get(step),
            detail=detail,
            at=T0 + timedelta(minutes=minutes),
        )
    return run


@pytest.fixture
def runs(workflow):
    K = RunEvent.Kind
    # Straight through.
    timeline(
        workflow,
        "inv-1",
        [
            (0, K.STEP_STARTED, "Check invoice", None),
            (1, K.STEP_SUCCEEDED, "Check invoice", None),
            (2, K.STEP_SUCCEEDED, "Post to ERP", None),
            (2, K.COMPLETED, None, None),
        ],
    )
    # The ERP fails once, is retried, then succeeds.
    timeline(
        workflow,
        "inv-2",
        [
            (1, K.STEP_SUCCEEDED, "Check invoice", None),
            (2, K.STEP_FAILED, "Post to ERP", None),
            (2, K.RETRY_SCHEDULED, "Post to ERP", None),
            (7, K.STEP_SUCCEEDED, "Post to ERP", None),
            (7, K.COMPLETED, None, None),
        ],
    )
    # Escalated to a person, who completes it by hand.
    timeline(
        workflow,
        "inv-3",
        [
            (1, K.STEP_SUCCEEDED, "Check invoice", None),
            (3, K.STEP_FAILED, "Post to ERP", None),
            (3, K.ESCALATED, "Post to ERP", {"reason": "permanent_error"}),
            (20, K.CLAIMED, None, None),
            (30, K.COMMENTED, None, None),
            (45, K.RESOLVED, "Post to ERP", {"resolution": "done_by_hand"}),
            (45, K.COMPLETED, None, None),
        ],
    )


def open_runs_log(workflow):
    log = workflow_runs_log(workflow=workflow)
    event_log_import(log_id=log.pk)
    log.refresh_from_db()
    return log


def test_runs_become_cases_and_their_timeline_activities(workflow, runs):
    log = open_runs_log(workflow)
    assert log.status == EventLog.Status.READY, log.error
    d = log.discovery
    assert (d["cases"], d["events"]) == (3, 4 + 6 + 7)
    assert [v["activities"] for v in d["variants"]] == [
        ["Case received", "Check invoice", "Post to ERP", "Completed"],
        [
            "Case received",
            "Check invoice",
            "Post to ERP failed",
            "Handed to a person",
            "Claimed by a person",
            "Resolved: Completed by hand",
            "Completed",
        ],
        [
            "Case received",
            "Check invoice",
            "Post to ERP failed",
            "Retry Post to ERP",
            "Post to ERP",
            "Completed",
        ],
    ]
    wait = next(e for e in d["edges"] if e["from"] == "Retry Post to ERP")
    assert (wait["to"], wait["median_s"]) == ("Post to ERP", 300.0)
    assert d["bottleneck"]["from"] == "Claimed by a person"  # 25 minutes with a person


def test_the_workflow_gets_one_runs_map_with_its_steps_as_the_ideal_path(workflow, runs):
    first = open_runs_log(workflow)
    second = open_runs_log(workflow)
    assert first.process_map == second.process_map
    process_map = ProcessMap.objects.get(workflow=workflow)
    assert process_map.team == workflow.team
    assert process_map.ideal_paths == [
        ["Case received", "Check invoice", "Post to ERP", "Completed"]
    ]
    assert workflow_steps_path(workflow) == ["Check invoice", "Post to ERP"]


def test_runs_map_page_conformance_and_exports(client, implementer, workflow, runs):
    client.force_login(implementer)
    response = client.post(reverse("discovery:workflow_runs", args=[workflow.slug]))
    log = EventLog.objects.get()
    assert response["Location"] == log.get_absolute_url()
    event_log_import(log_id=log.pk)
    slug = log.process_map.slug
    page = client.get(reverse("discovery:conformance", args=[slug]))
    report = page.context["report"]
    assert (report.cases, report.conforming) == (3, 1)
    csv_export = client.get(reverse("discovery:log_export", args=[slug, log.pk, "csv"]))
    lines = b"".join(csv_export.streaming_content).decode().splitlines()
    assert lines[0] == "case:concept:name,concept:name,time:timestamp,org:resource"
    assert lines[1] == "inv-1,Case received,2024-01-01T09:00:00+00:00,system"
    xes_export = client.get(reverse("discovery:log_export", args=[slug, log.pk, "xes"]))
    xes = b"".join(xes_export.streaming_content).decode()
    assert '<string key="concept:name" value="inv-3"/>' in xes
    assert xes.count("<event>") == 17


def test_a_workflow_without_runs_gives_a_failed_log_that_says_so(workflow):
    log = open_runs_log(workflow)
    assert (log.status, log.error) == (EventLog.Status.FAILED, "There are no events to import.")
