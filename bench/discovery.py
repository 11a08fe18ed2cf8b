"""Discovery at size: import and mine BPIC 2012 (262,200 events) and 1,000,000 synthetic events.

    .venv/bin/python bench/discovery.py                 # PostgreSQL, both logs
    .venv/bin/python bench/discovery.py --only bpic     # one of: bpic, synthetic
    .venv/bin/python bench/discovery.py --only synthetic --events 20000   # a quick check
    BENCH_DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python bench/discovery.py

For each log it prints the import seconds (read + check every line, write every event with
COPY on PostgreSQL or batched INSERTs on SQLite, mine once, all in one transaction), the mining
seconds (load the events from the database and mine them again: what ``discover`` and the API
cost without the stored results) and each step's peak memory (max RSS of a fresh process per
step, so one step's memory does not hide another's). On PostgreSQL it also times the
directly-follows graph and the variants computed in SQL alone (window functions,
percentile_cont, string_agg) and checks they agree with the mining. Targets: BPIC imported in
under 60 s and mined in under 5 s; 1,000,000 events mined in under 20 s. No timing is asserted,
but a figure is printed only for work done: the import must end ready with every event of the
log in the database, the mining must see the same events and cases; otherwise the bench stops
naming the step. It sets its own settings whatever the shell holds (bench/checks.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from checks import bench_environment, check_count, fail  # bench/checks.py, beside this script
from pgdb import ensure_postgres_database  # bench/pgdb.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
bench_environment(
    database_url="postgres://postgres@127.0.0.1:5432/handoff_bench_discovery",
    redis_url="redis://127.0.0.1:6379/14",
)

PUBLIC_LOGS = ROOT.parent / "shared" / "data" / "event-logs"
BPIC = PUBLIC_LOGS / "bpic2012.xes.gz"
BPIC_EVENTS, BPIC_CASES = 262_200, 13_087  # the published size of the log
SYNTHETIC_EVENTS = 1_000_000
MAP_SLUG = "bench-discovery"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------ synthetic log


def synthetic_log(path: Path, events: int = SYNTHETIC_EVENTS, seed: int = 7) -> Path:
    """A gzipped CSV of exactly ``events`` events: an approval process with a rework loop,
    rejections and rare exceptions, waits drawn from skewed distributions."""
    if path.exists():
        return path
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    written = 0
    case = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as out:
        out.write("case:concept:name,concept:name,time:timestamp,org:resource\n")
        while written < events:
            case += 1
            t = start + timedelta(minutes=rng.uniform(0, 525600))
            trace = ["Register", "Check documents"]
            while rng.random() < 0.18:  # rework: documents missing
                trace += ["Ask for information", "Check documents"]
            roll = rng.random()
            if roll < 0.72:
                trace += ["Assess risk", "Approve", "Notify customer", "Pay out", "Close"]
            elif roll < 0.94:
                trace += ["Assess risk", "Reject", "Notify customer", "Close"]
            elif roll < 0.995:
                trace += ["Escalate to manager", "Assess risk", "Approve", "Pay out", "Close"]
            else:
                trace += ["Fraud check", "Reject", "Close"]
            for activity in trace:
                if written == events:
                    break
                t += timedelta(seconds=rng.lognormvariate(8, 1.6))
                resource_name = f"user{rng.randrange(40)}"
                out.write(f"case-{case},{activity},{t.isoformat()},{resource_name}\n")
                written += 1
    return path


# ------------------------------------------------------------------------ steps (one process each)


def step_import(path: str) -> dict:
    from apps.accounts.models import Team
    from apps.discovery.models import Event, EventLog, ProcessMap
    from apps.discovery.services import event_log_delete, event_log_import_file

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    process_map, _ = ProcessMap.objects.get_or_create(
        slug=MAP_SLUG, defaults={"name": "Bench", "team": team}
    )
    for old in process_map.logs.all():
        event_log_delete(log=old)
    size = Path(path).stat().st_size
    started = time.perf_counter()
    with open(path, "rb") as source:
        log = event_log_import_file(
            process_map=process_map, source=source, name=Path(path).name, size=size
        )
    seconds = time.perf_counter() - started
    what = f"import of {Path(path).name}"
    if log.status != EventLog.Status.READY:
        fail(what, f"ended {log.status}, expected {EventLog.Status.READY} ({log.error})")
    check_count(what, Event.objects.filter(log=log).count(), log.event_count, "events stored")
    return {
        "log_id": log.pk,
        "seconds": seconds,
        "events": log.event_count,
        "cases": log.case_count,
        "peak_mb": peak_mb(),
    }


def step_mine(log_id: int) -> dict:
    from apps.discovery.mining import discover, frame_from_db

    started = time.perf_counter()
    frame = frame_from_db(log_id)
    loaded = time.perf_counter()
    result = discover(frame)
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "load_seconds": loaded - started,
        "mine_seconds": done - loaded,
        "events": result["events"],
        "cases": result["cases"],
        "activities": result["activities"],
        "edges": len(result["edges"]),
        "variants": len(result["variants"]),
        "edge_counts": {f"{e['from']}\x1f{e['to']}": e["count"] for e in result["edges"]},
        "edge_medians": {f"{e['from']}\x1f{e['to']}": e["median_s"] for e in result["edges"]},
        "peak_mb": peak_mb(),
    }


def step_sql(log_id: int) -> dict:
    """The directly-follows graph and the variants in PostgreSQL alone, for comparison."""
    from django.db import connection

    dfg = """
        WITH pairs AS (
            SELECT activity, LEAD(activity) OVER w AS next_activity,
                   EXTRACT(EPOCH FROM (LEAD(timestamp) OVER w - timestamp)) AS wait_s
            FROM discovery_event WHERE log_id = %s
            WINDOW w AS (PARTITION BY case_id ORDER BY timestamp, position)
        )
        SELECT activity, next_activity, count(*), avg(wait_s),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY wait_s)
        FROM pairs WHERE next_activity IS NOT NULL GROUP BY 1, 2
    """
    variants = """
        SELECT count(*) FROM (
            SELECT trace FROM (
                SELECT string_agg(activity, E'\\x1f' ORDER BY timestamp, position) AS trace
                FROM discovery_event WHERE log_id = %s GROUP BY case_id
            ) traces GROUP BY trace
        ) v
    """
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(dfg, [log_id])
        edges = cursor.fetchall()
        middle = time.perf_counter()
        cursor.execute(variants, [log_id])
        (variant_count,) = cursor.fetchone()
        done = time.perf_counter()
    return {
        "dfg_seconds": middle - started,
        "variants_seconds": done - middle,
        "edges": len(edges),
        "variants": variant_count,
        "edge_counts": {f"{a}\x1f{b}": n for a, b, n, _, _ in edges},
        "edge_medians": {f"{a}\x1f{b}": round(float(m), 6) for a, b, _, _, m in edges},
        "peak_mb": peak_mb(),
    }


def run_step(*args: str) -> dict:
    result = subprocess.run(  # noqa: S603 - this very script
        [sys.executable, __file__, "--step", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        fail(f"step {args[0]} {args[1]}", f"exited {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench(name: str, path: Path, *, events: int, cases: int | None, on_postgres: bool) -> None:
    """Import and mine one log of ``events`` events (and ``cases`` cases, where known)."""
    print(f"\n{name}: {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
    imported = run_step("import", str(path))
    check_count(f"{name}: import", imported["events"], events, "events imported")
    check_count(f"{name}: import", imported["cases"], cases or imported["cases"], "cases")
    if imported["cases"] < 1:
        fail(f"{name}: import", "0 cases imported, expected at least 1")
    print(
        f"  import  {imported['seconds']:7.2f} s   {imported['events']:,} events, "
        f"{imported['cases']:,} cases   peak {imported['peak_mb']:.0f} MB"
    )
    mined = run_step("mine", str(imported["log_id"]))
    check_count(f"{name}: mining", mined["events"], events, "events mined")
    check_count(f"{name}: mining", mined["cases"], imported["cases"], "cases mined")
    if not mined["edges"]:
        fail(f"{name}: mining", "found 0 edges, expected at least 1")
    print(
        f"  mining  {mined['seconds']:7.2f} s   (load {mined['load_seconds']:.2f} s + mine "
        f"{mined['mine_seconds']:.2f} s)   peak {mined['peak_mb']:.0f} MB"
    )
    print(
        f"          {mined['activities']} activities, {mined['edges']} edges, "
        f"{mined['variants']:,} variants"
    )
    if on_postgres:
        sql = run_step("sql", str(imported["log_id"]))
        # Medians agree to the microsecond (PostgreSQL's numeric and polars' float round the
        # half-microsecond of an even count's median apart in the 7th decimal).
        agree = (
            sql["edge_counts"] == mined["edge_counts"]
            and all(
                abs(sql["edge_medians"][k] - mined["edge_medians"][k]) < 1e-5
                for k in mined["edge_medians"]
            )
            and sql["variants"] == mined["variants"]
        )
        print(
            f"  SQL only: DFG {sql['dfg_seconds']:.2f} s, variants {sql['variants_seconds']:.2f} s "
            f"(window functions, percentile_cont, string_agg); agrees with the mining: "
            f"{'yes' if agree else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["bpic", "synthetic"])
    parser.add_argument("--step", nargs=2, metavar=("STEP", "ARG"))
    parser.add_argument("--events", type=int, default=SYNTHETIC_EVENTS, help="synthetic log size")
    parser.add_argument(
        "--synthetic-path", help="default: /tmp/handoff-bench-synthetic-EVENTS.csv.gz (kept)"
    )
    args = parser.parse_args()

    ensure_postgres_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if args.step:
        step, arg = args.step
        result = {"import": step_import, "mine": step_mine, "sql": step_sql}[step](
            arg if step == "import" else int(arg)
        )
        print(json.dumps(result))
        return

    call_command("migrate", verbosity=0)
    on_postgres = connection.vendor == "postgresql"
    print(f"database: {connection.vendor}; cores: {os.cpu_count()}")
    if args.only in (None, "bpic"):
        if BPIC.exists():
            bench("BPIC 2012", BPIC, events=BPIC_EVENTS, cases=BPIC_CASES, on_postgres=on_postgres)
        else:
            print(f"BPIC 2012 skipped: {BPIC} not found (shared/ beside the repository)")
    if args.only in (None, "synthetic"):
        started = time.perf_counter()
        default = f"/tmp/handoff-bench-synthetic-{args.events}.csv.gz"
        path = synthetic_log(Path(args.synthetic_path or default), events=args.events)
        print(f"\n(synthetic log ready in {time.perf_counter() - started:.1f} s)")
        bench("Synthetic", path, events=args.events, cases=None, on_postgres=on_postgres)


if __name__ == "__main__":
    main()
