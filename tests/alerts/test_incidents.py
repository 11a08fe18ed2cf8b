"""Incidents are deduplicated by fingerprint; a recurrence after resolve is a regression."""

import pytest

from apps.alerts.models import Incident
from apps.alerts.services import incident_clear, incident_raise
from apps.runs.services import run_start
from tests.factories import workflow_with_steps

pytestmark = pytest.mark.django_db


def raise_circuit(**extra):
    return incident_raise(
        fingerprint="circuit:erp.example",
        kind=Incident.Kind.CIRCUIT_OPEN,
        title="erp.example does not answer",
        **extra,
    )


def test_a_second_occurrence_is_counted_on_the_open_incident_not_opened_again():
    workflow = workflow_with_steps({"action": "rules.check"})
    run, _ = run_start(workflow=workflow, external_id="A-1", data={})

    first, opened = raise_circuit(workflow=workflow)
    again, opened_again = raise_circuit(workflow=workflow, run_ids=[run.pk])

    assert opened and not opened_again
    assert again.pk == first.pk and again.occurrences == 2
    assert again.team == workflow.team
    assert list(again.runs.all()) == [run]
    assert Incident.objects.count() == 1


def test_clearing_resolves_it_and_a_recurrence_opens_a_regression():
    first, _ = raise_circuit()

    cleared = incident_clear(fingerprint="circuit:erp.example", note="Circuit closed.")
    back, opened = raise_circuit()

    assert cleared.pk == first.pk and cleared.status == Incident.Status.RESOLVED
    assert cleared.resolved_at is not None and cleared.resolved_by is None
    assert opened and back.pk != first.pk and back.regression_of == cleared
    assert incident_clear(fingerprint="nothing:open") is None
