"""Shared fixtures: a clean Redis database per test, and real RQ workers that drain the queue."""

import time

import django_rq
import pytest
from django.conf import settings
from rq import SimpleWorker

from apps.runs.models import StepAttempt
from apps.runs.services import enqueue_due_attempts


@pytest.fixture
def redis_conn():
    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def drain(redis_conn, transactional_db):
    """Run a real RQ worker (burst mode, in this process) until no attempt is left to run.

    Retries wait in the database until due; the loop plays the scheduler's part by handing due
    attempts to RQ, then lets the worker run them.
    """

    def run(timeout: float = 30.0) -> int:
        queue = django_rq.get_queue("default")
        worker = SimpleWorker([queue], connection=redis_conn)
        deadline = time.monotonic() + timeout
        jobs = 0
        while time.monotonic() < deadline:
            enqueue_due_attempts()
            if queue.count:
                before = worker.successful_job_count + worker.failed_job_count
                worker.work(burst=True, with_scheduler=False)
                jobs += worker.successful_job_count + worker.failed_job_count - before
                continue
            pending = StepAttempt.objects.filter(
                status__in=[StepAttempt.Status.QUEUED, StepAttempt.Status.RUNNING]
            ).exists()
            if not pending:
                return jobs
            time.sleep(0.02)
        raise AssertionError(f"Attempts still pending after {timeout} s")

    return run


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']}, redis: {settings.REDIS_URL}"


POSTGRES_ONLY = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL (real row locks and concurrent connections); "
    "run with DATABASE_URL=postgres://…",
)


@pytest.fixture
def on_postgres():
    """Requesting it marks a test PostgreSQL-only (skipped on SQLite at collection, with the
    reason printed by -ra)."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "on_postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(POSTGRES_ONLY)


@pytest.fixture
def http_target():
    from tests.http_target import HttpTarget

    with HttpTarget() as target:
        yield target
