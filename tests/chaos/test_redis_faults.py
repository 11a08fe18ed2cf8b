"""Redis loses everything mid-run: the database brings every case home."""

import time

import redis
import rq

from apps.runs.models import Run
from tests.chaos.checks import (
    all_settled,
    assert_every_case_settled,
    mid_run,
    recovered_counts,
    run_counts,
)


def test_flushall(chaos, chaos_redis, mixed_targets):
    processes = [chaos.worker(), chaos.worker(), chaos.scheduler()]
    runs = mixed_targets.start_cases()

    at_flush = chaos.wait_until(
        mid_run, timeout=30, what="cases done, in flight and waiting", alive=processes
    )
    keys_lost = chaos_redis.dbsize()
    chaos_redis.flushall()
    flushed_at = time.monotonic()

    chaos.wait_until(
        all_settled(len(runs)), timeout=40, what="every case to settle", alive=processes
    )
    print(
        f"\n[chaos] FLUSHALL at {dict(at_flush)} ({keys_lost} Redis keys lost); settled "
        f"{time.monotonic() - flushed_at:.1f} s later; recovered: {dict(recovered_counts())}"
    )
    assert assert_every_case_settled() == {Run.Status.COMPLETED: len(runs)}
    # The queued jobs the flush took were found missing and enqueued again from the database.
    assert recovered_counts()["job_lost"] >= 1
    assert all(proc.alive() for proc in processes), chaos.tails()
    # The workers put themselves back in RQ's registry, so /healthz counts them again.
    chaos.wait_until(
        lambda: len(rq.Worker.all(connection=redis.Redis.from_url(chaos_redis.url))) == 2,
        timeout=20,
        what="both workers registered again",
        alive=processes,
    )


def test_redis_down_10s(chaos, chaos_redis, mixed_targets):
    processes = [chaos.worker(), chaos.worker(), chaos.scheduler()]
    runs = mixed_targets.start_cases()

    at_stop = chaos.wait_until(
        mid_run, timeout=30, what="cases done, in flight and waiting", alive=processes
    )
    chaos_redis.stop()
    time.sleep(10)
    during = run_counts()
    chaos_redis.start()  # empty: nothing was persisted
    restarted_at = time.monotonic()

    chaos.wait_until(
        all_settled(len(runs)), timeout=40, what="every case to settle", alive=processes
    )
    print(
        f"\n[chaos] Redis down 10 s from {dict(at_stop)}; at restart {dict(during)}; settled "
        f"{time.monotonic() - restarted_at:.1f} s after the restart; "
        f"recovered: {dict(recovered_counts())}"
    )
    assert assert_every_case_settled() == {Run.Status.COMPLETED: len(runs)}
    assert all(proc.alive() for proc in processes), chaos.tails()
