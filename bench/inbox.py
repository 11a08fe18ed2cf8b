"""Inbox at scale: 100,000 escalations over 1,000,000 runs, the list and detail pages timed.

    .venv/bin/python bench/inbox.py            # 1,000,000 runs / 100,000 escalations
    .venv/bin/python bench/inbox.py --small    # 10,000 runs / 1,000 escalations, a quick check

The data goes into the bench's own PostgreSQL database (created on first use, migrated) with
COPY, once: a later run finds the rows there and skips the load (``--reload`` forces it). Four
teams of 15 operators, three workflows each; escalations are 60% open, 20% claimed, 20% resolved,
a third of the unresolved ones overdue. The measuring user is an operator of one team, so a
quarter of the escalations are theirs to see, and some are claimed by them.

Each view (every tab as a full page and as an htmx partial, a filtered and sorted view, a deep
page, a text search, the detail of 20 escalations) is requested ``--repeat`` times with the test
client after 3 warm-ups; it prints p50/p95 server time and the SQL queries per request. The query
count must not depend on the page size (``per_page`` 10 vs 100) nor on the data size (the same
views on the ``--small`` data set, loaded in a database of its own). No timing is asserted,
but every request is checked before its time counts: it must answer 200, run SQL and show rows
(the detail: its panel); otherwise the bench stops with an error naming the view. It sets its
own settings (hosts, key, debug off) whatever the shell holds, see bench/checks.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from checks import bench_environment, check_page, fail  # bench/checks.py, beside this script
from pgdb import ensure_postgres_database  # bench/pgdb.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
bench_environment(
    database_url="postgres://postgres@127.0.0.1:5432/handoff_inbox_bench",
    redis_url="redis://127.0.0.1:6379/8",
)

TARGET_P95_MS = 150
TEAMS = 4
WORKFLOWS_PER_TEAM = 3
MEMBERS_PER_TEAM = 15
SEARCH_PREFIX = "INV-00001"  # matches cases at every data size
REASONS = {
    "retries_exhausted": 30,
    "permanent_error": 15,
    "out_of_bounds": 30,
    "timeout": 10,
    "manual_review": 15,
}
PRIORITIES = {1: 20, 2: 50, 3: 20, 4: 10}
SLA_HOURS = {1: 24, 2: 8, 3: 4, 4: 1}
# Tables the loader fills, children first (the order TRUNCATE and COPY need).
TABLES = (
    "escalations_comment",
    "escalations_escalation",
    "runs_runevent",
    "runs_stepattempt",
    "runs_run",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--escalations", type=int, default=100_000)
    parser.add_argument(
        "--small", action="store_true", help="10,000 runs / 1,000 escalations, own database"
    )
    parser.add_argument("--reload", action="store_true", help="load even if the data is there")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per view")
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="skip the query counts on the --small data set (data-size check)",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE slow views' SQL")
    parser.add_argument("--show-sql", action="store_true", help="print each view's queries")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.small:
        args.runs, args.escalations = 10_000, 1_000
    if args.escalations > args.runs:
        parser.error("one escalation per run at most: --escalations must be <= --runs")
    return args


def database_url(*, small: bool) -> str:
    url = os.environ["DATABASE_URL"]
    # The small data set lives in a database of its own so the two never overwrite each other.
    return f"{url}_small" if small else url


# --- Data set ------------------------------------------------------------------------------


def make_fixtures() -> dict:
    """Teams, members, workflows (one published version of 3 steps each), via the ORM."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from apps.accounts.models import Team
    from apps.accounts.roles import OPERATOR
    from apps.workflows.models import Step, Workflow, WorkflowVersion

    operators = Group.objects.get(name=OPERATOR)
    usernames = [f"op{t}-{m:02d}" for t in range(TEAMS) for m in range(MEMBERS_PER_TEAM)]
    existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    User.objects.bulk_create(
        User(
            username=name,
            first_name=f"Operator {name[2:]}",
            last_name="Bench",
            email=f"{name}@bench.invalid",
            password=make_password(None),  # unusable: the bench logs in with force_login
        )
        for name in usernames
        if name not in existing
    )
    users = {u.username: u for u in User.objects.filter(username__in=usernames)}
    operators.user_set.add(*users.values())

    teams, members, workflows = [], {}, []
    for t in range(TEAMS):
        team, _ = Team.objects.get_or_create(
            slug=f"bench-{t}", defaults={"name": f"Bench team {t}"}
        )
        team_users = [users[f"op{t}-{m:02d}"] for m in range(MEMBERS_PER_TEAM)]
        team.members.add(*team_users)
        teams.append(team)
        members[team.pk] = [u.pk for u in team_users]
        for w in range(WORKFLOWS_PER_TEAM):
            wf, created = Workflow.objects.get_or_create(
                slug=f"bench-{t}-{w}",
                defaults={"name": f"Invoices {t}.{w}", "team": team, "status": "live"},
            )
            if created:
                version = WorkflowVersion.objects.create(
                    workflow=wf, number=1, published_at=timezone.now()
                )
                Step.objects.bulk_create(
                    [
                        Step(
                            version=version,
                            position=1,
                            key="compute",
                            name="Compute total",
                            action="data.set",
                            config={"set": {"total": "amount * 1.2"}},
                        ),
                        Step(
                            version=version,
                            position=2,
                            key="check",
                            name="Check limits",
                            action="rules.check",
                            bounds=["total <= 10000"],
                        ),
                        Step(
                            version=version,
                            position=3,
                            key="label",
                            name="Label",
                            action="data.set",
                            config={"set": {"label": "upper(ref)"}},
                        ),
                    ]
                )
            version = wf.versions.get(number=1)
            steps = list(version.steps.order_by("position").values_list("pk", flat=True))
            workflows.append({"id": wf.pk, "team": team.pk, "version": version.pk, "steps": steps})
    return {
        "teams": [team.pk for team in teams],
        "members": members,
        "workflows": workflows,
        "user": users["op0-00"],
    }


NULL = r"\N"


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Rows:
    """One table's rows as COPY text, kept as large joined blocks (little memory per row)."""

    BLOCK = 50_000

    def __init__(self, table: str, columns: str) -> None:
        self.table, self.columns = table, columns
        self.blocks: list[str] = []
        self.lines: list[str] = []
        self.count = 0

    def add(self, *values) -> None:
        # Values are made here: no tab, newline or backslash needs escaping. None is NULL.
        self.line("\t".join(NULL if v is None else str(v) for v in values))

    def line(self, text: str) -> None:
        """One row already in COPY text form (the hot paths build it with an f-string)."""
        self.lines.append(text)
        self.count += 1
        if len(self.lines) >= self.BLOCK:
            self.seal()

    def seal(self) -> None:
        if self.lines:
            self.blocks.append("\n".join(self.lines) + "\n")
            self.lines = []

    def copy_into(self, cursor) -> None:
        self.seal()
        with cursor.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy:
            for block in self.blocks:
                copy.write(block)


SUMMARIES = {
    "retries_exhausted": "The ERP did not answer after {tries} tries (HTTP 503).",
    "permanent_error": "The ERP refused the invoice: vendor {vendor} is blocked (HTTP 422).",
    "out_of_bounds": "The total {total:.2f} is above the limit of the step: total <= 10000.",
    "timeout": "The step took longer than 30 seconds, {tries} times.",
    "manual_review": "A person must approve invoices from {vendor} above 5000.",
}


EVENT_MESSAGES = {
    "created": "Case received through the intake API.",
    "step_failed": "Check limits: the step failed.",
    "retry_scheduled": "Check limits: next attempt after a backoff.",
    "escalated": "Handed to a person.",
    "completed": "All steps done.",
}


def escalation_detail(reason: str, amount: int, vendor: str) -> dict:
    """What the engine stores on an escalation: kind and code, and the action's own detail."""
    if reason == "out_of_bounds":
        return {
            "kind": "out_of_bounds",
            "code": "out_of_bounds",
            "expression": "total <= 10000",
            "values": {"total": round(amount * 1.2, 2)},
        }
    if reason in ("retries_exhausted", "permanent_error"):
        status = 503 if reason == "retries_exhausted" else 422
        return {
            "kind": "transient" if status == 503 else "permanent",
            "code": f"http_{status}",
            "request": {
                "method": "POST",
                "url": "https://erp.example.com/api/invoices",
                "body": {"vendor": vendor, "amount": amount},
            },
            "response": {"status": status, "body": "Vendor blocked" if status == 422 else ""},
        }
    return {"kind": reason, "code": reason}


class DataSet:
    """Generates the rows of every table, deterministic for a given size."""

    def __init__(self, *, runs: int, escalations: int, fixtures: dict, now: datetime) -> None:
        self.n_runs, self.n_escalations = runs, escalations
        self.workflows = fixtures["workflows"]
        self.members = fixtures["members"]
        self.now = now
        self.rng = random.Random(20240601)
        self.runs = Rows(
            "runs_run",
            "id, workflow_id, version_id, external_id, data, status, current_step_id, source, "
            "human_minutes, created_at, updated_at, finished_at",
        )
        self.attempts = Rows(
            "runs_stepattempt",
            "id, run_id, step_id, number, try_number, status, due_at, enqueued_at, started_at, "
            "finished_at, error_kind, error_code, message, traceback, input, output, detail, "
            "worker, job_id, parked_on, recoveries, idempotency_key",
        )
        self.events = Rows(
            "runs_runevent", "id, run_id, at, kind, step_id, attempt_id, actor_id, message, detail"
        )
        self.escalations = Rows(
            "escalations_escalation",
            "id, run_id, step_id, attempt_id, team_id, workflow_id, case_ref, reason, summary, "
            "detail, status, priority, assignee_id, opened_at, due_at, claimed_at, resolved_at, "
            "resolution, resolved_by_id, note, human_minutes",
        )
        self.comments = Rows(
            "escalations_comment", "id, escalation_id, author_id, text, created_at"
        )

    @property
    def tables(self) -> list[Rows]:
        return [self.runs, self.attempts, self.events, self.escalations, self.comments]

    def generate(self) -> None:
        stride = self.n_runs / self.n_escalations
        escalated = {int(j * stride) for j in range(self.n_escalations)}
        for i in range(self.n_runs):
            self.run(i, escalate=i in escalated)

    def event(self, run_id, at, kind, step=None, attempt=None, actor=None) -> None:
        self.events.line(
            f"{self.events.count + 1}\t{run_id}\t{at.isoformat()}\t{kind}\t"
            f"{NULL if step is None else step}\t{NULL if attempt is None else attempt}\t"
            f"{NULL if actor is None else actor}\t{EVENT_MESSAGES.get(kind, '')}\t{{}}"
        )

    def attempt(self, run_id, step, number, status, at, error="") -> int:
        attempt_id = self.attempts.count + 1
        message = f"{error}: the step failed" if error else ""
        at_ = at.isoformat()
        finished = (at + timedelta(seconds=self.rng.uniform(0.05, 2))).isoformat()
        kind = "permanent" if error else ""
        self.attempts.line(
            f"{attempt_id}\t{run_id}\t{step}\t{number}\t{number}\t{status}\t{at_}\t{at_}\t"
            f"{at_}\t{finished}\t{kind}\t{error}\t{message}\t\t{{}}\t{{}}\t{{}}\t"
            f"bench-worker\t\t\t0\tbench-{attempt_id}"
        )
        return attempt_id

    def run(self, i: int, *, escalate: bool) -> None:
        rng = self.rng
        run_id = i + 1
        wf = self.workflows[rng.randrange(len(self.workflows))]
        s1, s2, s3 = wf["steps"]
        amount = rng.randint(100, 20_000)
        vendor = f"V{rng.randint(1, 500):03d}"
        data = f'{{"amount": {amount}, "vendor": "{vendor}", "ref": "r{run_id}", "cur": "EUR"}}'
        esc = self.escalation_shape() if escalate else None
        if esc:
            created = esc["opened"] - timedelta(minutes=rng.uniform(1, 30))
            status = "completed" if esc["status"] == "resolved" else "escalated"
        else:
            created = self.now - timedelta(days=30 * (1 - i / self.n_runs))
            draw = rng.random()
            status = "completed" if draw < 0.97 else "running" if draw < 0.99 else "cancelled"
        finished = created + timedelta(seconds=rng.uniform(2, 60))
        done = status in ("completed", "cancelled")
        if esc and esc["status"] == "resolved":
            finished = esc["resolved"] + timedelta(seconds=5)
        current = s2 if status in ("running", "escalated") else NULL
        minutes = esc["human_minutes"] if esc and esc["human_minutes"] else "0"
        created_, finished_ = created.isoformat(), finished.isoformat()
        self.runs.line(
            f"{run_id}\t{wf['id']}\t{wf['version']}\tINV-{i:07d}\t{data}\t{status}\t{current}\t"
            f"{'api' if i % 7 else 'csv'}\t{minutes}\t{created_}\t"
            f"{finished_ if done else created_}\t{finished_ if done else NULL}"
        )
        self.event(run_id, created, "created")
        if esc is None:
            if i % 10 == 1:  # some finished runs keep their attempts, as real ones do
                for step in (s1, s2, s3):
                    self.attempt(run_id, step, 1, "succeeded", created)
            if done:
                self.event(run_id, finished, status)
            return

        # Step 1 passed, step 2 failed (once, or three times for the retryable reasons).
        a1 = self.attempt(run_id, s1, 1, "succeeded", created)
        self.event(run_id, created, "step_started", s1, a1)
        self.event(run_id, created, "step_succeeded", s1, a1)
        at, failed = created, None
        for n in range(1, esc["tries"] + 1):
            at += timedelta(seconds=2**n)
            failed = self.attempt(run_id, s2, n, "failed", at, error=esc["reason"])
            self.event(run_id, at, "step_started", s2, failed)
            self.event(run_id, at, "step_failed", s2, failed)
            if n < esc["tries"]:
                self.event(run_id, at, "retry_scheduled", s2, failed)
        self.event(run_id, esc["opened"], "escalated", s2, failed)
        escalation_id = self.escalations.count + 1
        assignee = None
        if esc["status"] != "open":
            assignee = rng.choice(self.members[wf["team"]])
            self.event(run_id, esc["claimed"], "claimed", s2, None, assignee)
            if rng.random() < 0.5:
                said = esc["claimed"] + timedelta(minutes=1)
                self.comments.add(
                    self.comments.count + 1, escalation_id, assignee, "Asked the vendor.", _ts(said)
                )
                self.event(run_id, said, "commented", s2, None, assignee)
        if esc["status"] == "resolved":
            self.event(run_id, esc["resolved"], "resolved", s2, None, assignee)
            self.event(run_id, esc["resolved"], "resumed", s2, None, assignee)
            self.attempt(run_id, s2, esc["tries"] + 1, "succeeded", esc["resolved"])
            self.attempt(run_id, s3, 1, "succeeded", esc["resolved"])
            self.event(run_id, finished, "completed")
        summary = SUMMARIES[esc["reason"]].format(
            vendor=vendor, total=amount * 1.2, tries=esc["tries"]
        )
        resolved = esc["status"] == "resolved"
        self.escalations.add(
            escalation_id, run_id, s2, failed, wf["team"], wf["id"], f"INV-{i:07d}",
            esc["reason"], summary,
            json.dumps(escalation_detail(esc["reason"], amount, vendor)), esc["status"],
            esc["priority"], assignee, _ts(esc["opened"]), _ts(esc["due"]),
            _ts(esc["claimed"]) if assignee else None,
            _ts(esc["resolved"]) if resolved else None, "resumed" if resolved else "",
            assignee if resolved else None, "", esc["human_minutes"],
        )  # fmt: skip

    def escalation_shape(self) -> dict:
        """Status, priority, reason and times of one escalation."""
        rng = self.rng
        draw = rng.random()
        status = "open" if draw < 0.6 else "claimed" if draw < 0.8 else "resolved"
        priority = _pick(rng, PRIORITIES)
        reason = _pick(rng, REASONS)
        sla = timedelta(hours=SLA_HOURS[priority])
        if status == "resolved":
            opened = self.now - timedelta(days=rng.uniform(1, 30))
            due = opened + sla
        else:
            # Due from a day ago to two days ahead: about a third are overdue.
            due = self.now + timedelta(hours=rng.uniform(-24, 48))
            opened = due - sla
        claimed = opened + timedelta(minutes=rng.uniform(1, 60))
        resolved = claimed + timedelta(minutes=rng.uniform(2, 90))
        return {
            "status": status,
            "priority": priority,
            "reason": reason,
            "tries": 3 if reason in ("retries_exhausted", "timeout") else 1,
            "opened": opened,
            "due": due,
            "claimed": claimed,
            "resolved": resolved,
            "human_minutes": (
                f"{(resolved - claimed).total_seconds() / 60:.2f}" if status == "resolved" else None
            ),
        }


def is_loaded(args: argparse.Namespace, fixtures: dict) -> bool:
    from apps.escalations.models import Escalation
    from apps.runs.models import Run

    workflow_ids = {wf["id"] for wf in fixtures["workflows"]}
    return (
        Run.objects.count() == args.runs
        and Escalation.objects.count() == args.escalations
        and set(Run.objects.values_list("workflow_id", flat=True).distinct()) <= workflow_ids
    )


def load(args: argparse.Namespace, fixtures: dict, url: str) -> None:
    """Replace runs, attempts, events, escalations and comments, in one transaction.

    Secondary indexes are dropped and built again after the COPY, and foreign-key triggers are
    off (session_replication_role): both cut the load time several times. It is one transaction,
    so a load that fails leaves the previous rows and every index as they were.
    """
    import psycopg

    started = time.monotonic()
    data = DataSet(
        runs=args.runs, escalations=args.escalations, fixtures=fixtures, now=datetime.now(UTC)
    )
    data.generate()
    generated = time.monotonic()
    print(f"  generated rows in {generated - started:.1f} s", flush=True)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET synchronous_commit = off")
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        indexes = []
        for table in TABLES:
            cur.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
                "FROM pg_index i WHERE i.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                [table],
            )
            indexes += cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        for rows in data.tables:
            step = time.monotonic()
            rows.copy_into(cur)
            print(f"  {rows.table}: {rows.count:,} rows in {time.monotonic() - step:.1f} s")
        step = time.monotonic()
        for _, definition in indexes:
            cur.execute(definition)
        for table in TABLES:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE(max(id), 1)) FROM {table}"
            )
        print(f"  {len(indexes)} indexes built in {time.monotonic() - step:.1f} s", flush=True)
    step = time.monotonic()
    # A production database is vacuumed and analyzed by autovacuum; plans depend on both.
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
    print(f"  vacuum analyze in {time.monotonic() - step:.1f} s")
    print(f"load: {time.monotonic() - started:.1f} s", flush=True)


# --- Measurement ---------------------------------------------------------------------------

LIST, PANEL = "inbox-list", "inbox-panel"  # the inbox's htmx regions
# One match per escalation shown: a row of the table (row_attrs in apps/escalations/tables.py),
# the detail panel (templates/escalations/_detail.html).
ROW_ID = re.compile(rb'<tr[^>]*\bid="escalation-\d+"')
PANEL_ID = re.compile(rb'<article[^>]*\bid="escalation-panel-\d+"')


class View:
    def __init__(
        self,
        label: str,
        paths: list[str],
        *,
        target: str | None = None,
        marker: re.Pattern[bytes] = ROW_ID,
    ) -> None:
        # target: the region an htmx request asks for (HX-Target), None for a full page.
        # marker: what each answer must show at least once (a row, the panel) to count.
        self.label, self.paths, self.target, self.marker = label, paths, target, marker
        self.ms: list[float] = []  # wall time around client.get
        self.cpu_ms: list[float] = []  # this process's CPU time: Python, apart from the database
        self.sql_ms: list[float] = []  # the queries' own time, as Django measures it
        self.queries: list[int] = []
        self.statuses: set[int] = set()
        self.size = 0
        self.rows = 0
        self.captured: list[dict] = []

    @property
    def query_range(self) -> str:
        low, high = min(self.queries), max(self.queries)
        return str(low) if low == high else f"{low}-{high}"


def measure(client, view: View, *, repeat: int, warmups: int = 3) -> View:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HX-Request": "true", "HX-Target": view.target} if view.target else {}
    for n in range(warmups + repeat):
        path = view.paths[n % len(view.paths)]
        with CaptureQueriesContext(connection) as captured:
            started, cpu = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            cpu = (time.process_time() - cpu) * 1000
        # Checked before its time counts: a 400 from a host check or an empty page is fast.
        shown = "htmx" if view.target else "page"
        rows = check_page(
            f"inbox '{view.label}' (GET {path}, {shown})",
            response,
            queries=len(captured),
            marker=view.marker,
        )
        if n < warmups:
            continue
        view.ms.append(elapsed)
        view.cpu_ms.append(cpu)
        view.sql_ms.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        view.queries.append(len(captured))
        view.statuses.add(response.status_code)
        view.size = len(response.content)
        view.rows = rows
        view.captured = captured.captured_queries
    return view


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def list_views(fixtures: dict, *, deep_page: int) -> list[View]:
    from django.urls import reverse

    base = reverse("inbox:list")
    team_workflow = next(
        wf["id"] for wf in fixtures["workflows"] if wf["team"] == fixtures["teams"][0]
    )
    views = []
    for tab in ("mine", "unassigned", "overdue", "all"):
        views.append(View(f"{tab}", [f"{base}?tab={tab}"]))
        views.append(View(f"{tab} (htmx)", [f"{base}?tab={tab}"], target=LIST))
    views += [
        View(
            "all, filtered + sorted",
            [f"{base}?tab=all&reason=out_of_bounds&workflow={team_workflow}&sort=-priority"],
        ),
        View("all, sorted by due (htmx)", [f"{base}?tab=all&sort=due_at"], target=LIST),
        View("all, deep page", [f"{base}?tab=all&page={deep_page}"]),
        View("all, search q", [f"{base}?tab=all&q={SEARCH_PREFIX}"]),
    ]
    return views


def detail_views(fixtures: dict) -> list[View]:
    from django.urls import reverse

    from apps.escalations.models import Escalation

    visible = Escalation.objects.filter(team_id=fixtures["teams"][0])
    rng = random.Random(7)
    ids = []
    for status in ("open", "claimed", "resolved"):
        pks = list(visible.filter(status=status).values_list("pk", flat=True))
        ids += rng.sample(pks, min(7, len(pks)))
    paths = [reverse("inbox:detail", args=[pk]) for pk in ids[:20]]
    if not paths:
        fail("inbox detail", f"no escalation of team {fixtures['teams'][0]} to open")
    return [
        View(f"detail ({len(paths)} escalations)", paths, marker=PANEL_ID),
        View(f"detail (htmx, {len(paths)})", paths, target=PANEL, marker=PANEL_ID),
    ]


def page_size_views() -> list[View]:
    from django.urls import reverse

    base = reverse("inbox:list")
    return [
        View("all, per_page=10", [f"{base}?tab=all&per_page=10"]),
        View("all, per_page=100", [f"{base}?tab=all&per_page=100"]),
    ]


def slowest_queries(view: View, *, top: int = 2, plans: bool = False) -> None:
    """The view's slowest queries (of its last request), with their plans if asked."""
    from django.db import connection

    slowest = sorted(view.captured, key=lambda q: float(q["time"]), reverse=True)[:top]
    print(f"\n{view.label}: slowest of its {len(view.captured)} queries")
    for query in slowest:
        sql = query["sql"]
        print(f"  {float(query['time']) * 1000:6.1f} ms  {sql if plans else _sql_gist(sql)}")
        if plans:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql.split(' FOR ', 1)[-1]}")
                for (line,) in cursor.fetchall():
                    print(f"    {line}")


def _sql_gist(sql: str) -> str:
    """The column list of a SELECT cut to its start, the whole cut to a few lines."""
    return re.sub(r"^((?:DECLARE .*? FOR )?SELECT )(.{0,48}).*? FROM ", r"\1\2… FROM ", sql)[:320]


def run_views(args: argparse.Namespace, fixtures: dict) -> dict[str, View]:
    from django.test import Client

    from apps.escalations.models import Escalation

    client = Client()
    client.force_login(fixtures["user"])
    visible = Escalation.objects.filter(team_id=fixtures["teams"][0]).count()
    deep_page = max(1, min(50, visible // 25 // 2))
    views = list_views(fixtures, deep_page=deep_page) + detail_views(fixtures)
    views += page_size_views()
    return {v.label: measure(client, v, repeat=args.repeat) for v in views}


def small_query_counts(repeat: int) -> dict[str, list[int]]:
    """Query counts of the same views on the --small data set, from a child process."""
    done = subprocess.run(  # noqa: S603 - this very script
        [sys.executable, __file__, "--small", "--json", "--repeat", str(repeat)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:  # its own message is on stderr, above
        fail("inbox on the --small data set (query counts)", f"exited {done.returncode}")
    return json.loads(done.stdout)


def verdict(counts: set[int]) -> str:
    return "constant" if len(counts) == 1 else "GROWS"


def report(args, results: dict[str, View], small: dict[str, list[int]] | None) -> None:
    print(
        f"\n{'view':<32}{'p50 ms':>8}{'p95 ms':>8}{'cpu p50':>8}{'sql p50':>8}{'queries':>9}"
        f"{'rows':>6}{'KB':>7}  status"
    )
    for view in results.values():
        statuses = ",".join(str(s) for s in sorted(view.statuses))
        print(
            f"{view.label:<32}{statistics.median(view.ms):>8.1f}{percentile(view.ms, 0.95):>8.1f}"
            f"{statistics.median(view.cpu_ms):>8.1f}{statistics.median(view.sql_ms):>8.1f}"
            f"{view.query_range:>9}{view.rows:>6}{view.size / 1024:>7.1f}  {statuses}"
        )
    print(
        "  p50/p95: wall time around client.get; cpu p50: this process's CPU (Python: view,"
        " template, ORM); sql p50: the queries' time, PostgreSQL and the round trips"
    )

    ten, hundred = results["all, per_page=10"], results["all, per_page=100"]
    print("\nquery count against page size (tab=all):")
    if (ten.rows, hundred.rows) != (10, 100):
        print(
            f"  per_page is not honoured (rows shown: {ten.rows} and {hundred.rows}); "
            f"queries {ten.query_range} and {hundred.query_range}"
        )
    else:
        counts = set(ten.queries) | set(hundred.queries)
        print(
            f"  per_page=10: {ten.query_range} queries, per_page=100: {hundred.query_range} "
            f"queries: {verdict(counts)}"
        )

    if small is not None:
        print(f"\nquery count against data size ({args.escalations:,} vs 1,000 escalations):")
        print(f"  {'view':<32}{'small':>8}{'full':>8}")
        for label, view in results.items():
            if label not in small:
                continue
            counts = set(small[label]) | set(view.queries)
            low, high = min(small[label]), max(small[label])
            small_range = str(low) if low == high else f"{low}-{high}"
            print(f"  {label:<32}{small_range:>8}{view.query_range:>8}  {verdict(counts)}")

    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus:
        print(
            f"\nnote: the machine is busy (load average {load:.1f} on {cpus} CPUs): wall times "
            "include waiting for a CPU; the cpu and sql columns say where the time goes"
        )
    timed = {k: v for k, v in results.items() if "per_page" not in k}
    worst = max(timed.values(), key=lambda v: percentile(v.ms, 0.95))
    worst_p95 = percentile(worst.ms, 0.95)
    under = "under" if worst_p95 < TARGET_P95_MS else "OVER"
    print(
        f"\nmax p95: {worst_p95:.1f} ms ({worst.label}), {under} the {TARGET_P95_MS} ms target "
        f"(default page size; {args.repeat} requests per view after 3 warm-ups)"
    )


def main() -> None:
    args = parse_args()
    url = database_url(small=args.small)
    os.environ["DATABASE_URL"] = url
    # In --json mode (the data-size comparison's child) stdout carries the JSON only.
    real_stdout = sys.stdout
    if args.json:
        sys.stdout = sys.stderr
    ensure_postgres_database(url, required="bench/inbox.py needs PostgreSQL (it loads with COPY)")

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings
    from django.urls import NoReverseMatch, reverse

    call_command("migrate", verbosity=0)
    fixtures = make_fixtures()
    name = url.rpartition("/")[2]
    if args.reload or not is_loaded(args, fixtures):
        print(f"loading {args.runs:,} runs / {args.escalations:,} escalations into {name}")
        load(args, fixtures, url)
    else:
        print(
            f"{name} already holds {args.runs:,} runs / {args.escalations:,} escalations "
            f"(--reload loads them again)"
        )
    try:
        reverse("inbox:list")
        reverse("inbox:detail", args=[1])
    except NoReverseMatch:
        print("the inbox views are not there yet (no url named inbox:list / inbox:detail)")
        raise SystemExit(2) from None
    except (ImportError, AttributeError) as exc:  # the url modules are being edited
        print(f"the url configuration does not import: {exc!r}")
        raise SystemExit(2) from None

    small = None
    if not (args.small or args.no_compare or args.json):
        print("query counts on the --small data set (a child process) ...", flush=True)
        small = small_query_counts(repeat=5)

    print(
        f"database: {connection.vendor} {name}; user {fixtures['user'].username}, operator of "
        f"1 team of {TEAMS}; {args.repeat} requests per view after 3 warm-ups; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before",
        flush=True,
    )
    # Static files are not collected for the bench; the manifest lookup is not what is timed.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        results = run_views(args, fixtures)

    if args.json:
        print(
            json.dumps({label: view.queries for label, view in results.items()}), file=real_stdout
        )
        return
    report(args, results, small)
    for view in results.values():
        if args.show_sql:
            print(f"\n{view.label}: {len(view.captured)} queries")
            for query in view.captured:
                print(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:400]}")
        if args.explain or percentile(view.ms, 0.95) >= TARGET_P95_MS:
            slowest_queries(view, plans=args.explain)


if __name__ == "__main__":
    main()
