"""The workers lose the database for 10 s mid-run (PostgreSQL behind a TCP proxy)."""

import time

from apps.runs.models import Run
from tests.chaos.checks import (
    all_settled,
    assert_every_case_settled,
    assert_nothing_half_written,
    mid_run,
    recovered_counts,
    run_counts,
)
from tests.chaos.processes import subprocess_database_url


def test_database_cut_off_10s(on_postgres, chaos, db_proxy, mixed_targets):
    # Workers reach PostgreSQL through the proxy; the scheduler (and so the reconciler) directly.
    through_proxy = subprocess_database_url(host="127.0.0.1", port=db_proxy.port)
    processes = [
        chaos.worker(DATABASE_URL=through_proxy),
        chaos.worker(DATABASE_URL=through_proxy),
        chaos.scheduler(),
    ]
    runs = mixed_targets.start_cases()

    at_cut = chaos.wait_until(
        mid_run, timeout=30, what="cases done, in flight and waiting", alive=processes
    )
    closed = db_proxy.cut()
    time.sleep(10)
    during = run_counts()
    db_proxy.restore()
    restored_at = time.monotonic()

    chaos.wait_until(
        all_settled(len(runs)), timeout=45, what="every case to settle", alive=processes
    )
    print(
        f"\n[chaos] database cut for 10 s from {dict(at_cut)} ({closed} connections closed); "
        f"at restore {dict(during)}; settled {time.monotonic() - restored_at:.1f} s after it; "
        f"recovered: {dict(recovered_counts())}"
    )
    assert db_proxy.connections_seen >= 2, "the workers should reach the database via the proxy"
    assert closed >= 1, "the cut should have closed the workers' open connections"
    assert assert_every_case_settled() == {Run.Status.COMPLETED: len(runs)}
    assert_nothing_half_written()
    assert all(proc.alive() for proc in processes), chaos.tails()
