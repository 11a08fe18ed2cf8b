"""The status-history migration backfills what existing workflows' fields prove."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.accounts.models import Team

BEFORE = [("workflows", "0001_initial")]
AFTER = [("workflows", "0002_case_schema_and_status_history")]


@pytest.mark.django_db(transaction=True)
def test_existing_workflows_get_the_moves_their_fields_prove():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    # Teams are another app's table, fully migrated: the current model fits it.
    team_id = Team.objects.create(name="T", slug="t").pk
    Workflow = old.get_model("workflows", "Workflow")
    went_live = timezone.now() - timedelta(days=40)
    for slug, status, live_at in [
        ("draft", "draft", None),
        ("live", "live", went_live),
        ("paused", "paused", went_live),
        ("pilot", "pilot", None),
    ]:
        Workflow.objects.create(
            slug=slug, name=slug, team_id=team_id, status=status, went_live_at=live_at
        )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    new = executor.loader.project_state(AFTER).apps
    Change = new.get_model("workflows", "WorkflowStatusChange")
    history = {
        slug: [
            (c.from_status, c.to_status, c.at == went_live)
            for c in Change.objects.filter(workflow__slug=slug).order_by("at", "pk")
        ]
        for slug in ("draft", "live", "paused", "pilot")
    }
    assert history == {
        "draft": [],
        "live": [("draft", "live", True)],
        "paused": [("draft", "live", True), ("live", "paused", False)],
        "pilot": [("draft", "pilot", False)],
    }
