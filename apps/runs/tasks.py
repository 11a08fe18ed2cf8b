"""RQ jobs: ids in, a service call, no logic of their own."""

from __future__ import annotations

from django.db import close_old_connections
from rq import get_current_job

from .services import attempt_execute


def execute_attempt(attempt_id: int) -> str:
    # Workers are long-lived: drop a connection the database closed before using it.
    close_old_connections()
    try:
        job = get_current_job()
        return attempt_execute(
            attempt_id=attempt_id,
            worker=(job.worker_name or "") if job else "",
            job_id=job.id if job else "",
        )
    finally:
        close_old_connections()


def noop() -> None:
    """A job that does nothing: the benchmarks' measure of raw RQ throughput."""
