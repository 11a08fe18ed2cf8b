"""Handing attempts to RQ after commit."""

import logging

import django_rq
import pytest
from django.db import transaction
from django.test import override_settings
from rq import Queue

from apps.runs.models import Run
from apps.runs.services import reconcile, run_start
from apps.runs.services.scheduling import job_id_for
from tests.factories import workflow_with_steps

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(HANDOFF_REQUEUE_AFTER=0)
def test_a_failing_enqueue_after_commit_does_not_stop_the_next_one(
    drain, redis_conn, monkeypatch, caplog
):
    workflow = workflow_with_steps({"action": "data.set", "config": {"set": {"done": "True"}}})
    real_enqueue = Queue.enqueue
    calls = []

    def first_one_fails(self, *args, **kwargs):
        calls.append(kwargs["job_id"])
        if len(calls) == 1:
            raise RuntimeError("cannot pickle the job")  # not a RedisError: nothing catches it
        return real_enqueue(self, *args, **kwargs)

    monkeypatch.setattr(Queue, "enqueue", first_one_fails)
    # One transaction, two on_commit enqueues: the first one raises.
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"), transaction.atomic():
        run_start(workflow=workflow, external_id="T-1", data={})
        second, _ = run_start(workflow=workflow, external_id="T-2", data={})
    monkeypatch.undo()

    assert len(calls) == 2
    queue = django_rq.get_queue("default")
    assert queue.job_ids == [job_id_for(second.attempts.get().pk, 0)]
    assert "cannot pickle the job" in caplog.text
    # The attempt whose enqueue failed is the reconciler's to find.
    assert reconcile().jobs_requeued == 1
    drain()
    assert Run.objects.filter(status=Run.Status.COMPLETED).count() == 2
