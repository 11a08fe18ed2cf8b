"""Engine throughput: N cases × 3 steps through real RQ worker processes, next to raw RQ.

    .venv/bin/python bench/engine.py   (BENCH_DATABASE_URL=postgres://… picks the database)

For each worker class (RQ's forking ``Worker`` and the non-forking ``SimpleWorker``) and for 1 and
2 worker processes, it measures raw RQ no-op jobs/s and Handoff steps/s in the same run, and
prints their ratio. No timing is asserted (these machines are noisy, the ratio is the figure),
but a figure is printed only if the work happened: every raw job succeeded, every case
completed with its 3 steps succeeded, and no job failed; otherwise the bench stops naming what
did not. It sets its own settings whatever the shell holds (bench/checks.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from checks import bench_environment, check_count, fail  # bench/checks.py, beside this script
from pgdb import ensure_postgres_database  # bench/pgdb.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
bench_environment(
    database_url="postgres://postgres@127.0.0.1:5432/handoff_bench",
    redis_url="redis://127.0.0.1:6379/14",
)


ensure_postgres_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

import django_rq  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.accounts.models import Team  # noqa: E402
from apps.runs.models import Run, RunEvent, StepAttempt  # noqa: E402
from apps.runs.services import run_start  # noqa: E402
from apps.runs.tasks import noop  # noqa: E402
from apps.workflows.models import Step, Workflow, WorkflowVersion  # noqa: E402

WORKER_CLASSES = {"forking": "rq.Worker", "simple": "rq.SimpleWorker"}
WAIT_S = 600  # for the work of one measurement, at most


def start_workers(count: int, worker_class: str) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "rqworker",
                "default",
                "--worker-class",
                worker_class,
                "-v",
                "0",
            ],
            cwd=ROOT,
            env={**os.environ, "LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop(workers: list[subprocess.Popen]) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.wait(timeout=30)


def wait_for_workers(what: str, count: int) -> None:
    from rq import Worker

    conn = django_rq.get_connection("default")
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=conn)) < count:
        if time.monotonic() > deadline:
            fail(what, f"{len(Worker.all(connection=conn))} workers registered, expected {count}")
        time.sleep(0.05)


def still_working(what: str, procs: list[subprocess.Popen], deadline: float) -> None:
    """Stop the bench if a worker died or the work outlived ``deadline``: no figure for it."""
    for proc in procs:
        if proc.poll() is not None:
            fail(what, f"worker {proc.pid} exited {proc.returncode} before the work was done")
    if time.monotonic() > deadline:
        fail(what, f"not done after {WAIT_S} s")


def successful_jobs() -> int:
    """Jobs the registered workers have finished successfully (read before they stop)."""
    from rq import Worker

    return sum(w.successful_job_count for w in Worker.all(django_rq.get_connection("default")))


def raw_rq(jobs: int, workers: int, name: str) -> float:
    what, worker_class = f"raw RQ ({name}, {workers} procs)", WORKER_CLASSES[name]
    queue = django_rq.get_queue("default")
    queue.connection.flushdb()
    procs = start_workers(workers, worker_class)
    try:
        wait_for_workers(what, workers)
        started = time.monotonic()
        with queue.connection.pipeline() as pipe:
            for _ in range(jobs):
                queue.enqueue(noop, result_ttl=0, pipeline=pipe)
            pipe.execute()
        deadline = started + WAIT_S
        while queue.count or queue.started_job_registry.count:
            still_working(what, procs, deadline)
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        check_count(what, successful_jobs(), jobs, "no-op jobs succeeded")
    finally:
        stop(procs)
    return jobs / elapsed


def workflow() -> Workflow:
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    wf, created = Workflow.objects.get_or_create(
        slug="bench-3-steps", defaults={"name": "Bench", "team": team, "status": "live"}
    )
    if created:
        version = WorkflowVersion.objects.create(workflow=wf, number=1, published_at=timezone.now())
        Step.objects.create(
            version=version,
            position=1,
            key="compute",
            name="Compute",
            action="data.set",
            config={"set": {"total": "amount * 1.2"}},
        )
        Step.objects.create(
            version=version,
            position=2,
            key="check",
            name="Check",
            action="rules.check",
            bounds=["total <= 100000"],
        )
        Step.objects.create(
            version=version,
            position=3,
            key="label",
            name="Label",
            action="data.set",
            config={"set": {"label": "upper(ref)"}},
        )
    return wf


def engine(cases: int, workers: int, name: str) -> float:
    what, worker_class = f"engine ({name}, {workers} procs)", WORKER_CLASSES[name]
    queue = django_rq.get_queue("default")
    queue.connection.flushdb()
    RunEvent.objects.all().delete()
    StepAttempt.objects.all().delete()
    Run.objects.all().delete()
    wf = workflow()
    procs = start_workers(workers, worker_class)
    try:
        wait_for_workers(what, workers)
        started = time.monotonic()
        for i in range(cases):
            run_start(workflow=wf, external_id=f"B-{i}", data={"amount": i, "ref": f"r{i}"})
        # Until no run is left to the engine: an escalated or cancelled run ends the wait too,
        # and is reported below instead of being waited for.
        deadline = started + WAIT_S
        while Run.objects.filter(status__in=Run.ACTIVE).exists():
            still_working(what, procs, deadline)
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        jobs = successful_jobs()
    finally:
        stop(procs)
    statuses = dict(Run.objects.values_list("status").annotate(n=Count("id")).order_by())
    by_status = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
    check_count(
        what, statuses.get(Run.Status.COMPLETED, 0), cases, f"runs completed (runs: {by_status})"
    )
    succeeded = StepAttempt.objects.filter(status=StepAttempt.Status.SUCCEEDED).count()
    check_count(what, succeeded, cases * 3, "step attempts succeeded")
    check_count(what, StepAttempt.objects.count(), cases * 3, "step attempts in all")
    check_count(what, jobs, cases * 3, "RQ jobs succeeded")
    check_count(what, queue.failed_job_registry.count, 0, "RQ jobs failed")
    return cases * 3 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--classes", default="forking,simple")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.vendor}; cases: {args.cases} × 3 steps; "
        f"intake runs concurrently with the workers"
    )
    print(
        f"{'worker class':<14}{'procs':>6}{'raw RQ jobs/s':>16}{'engine steps/s':>17}{'ratio':>8}"
    )
    for name in args.classes.split(","):
        for count in (int(n) for n in args.workers.split(",")):
            raw = raw_rq(args.cases * 3, count, name)
            steps = engine(args.cases, count, name)
            print(f"{name:<14}{count:>6}{raw:>16.1f}{steps:>17.1f}{steps / raw:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
