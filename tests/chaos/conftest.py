"""Fixtures for the fault tests: a Redis server per test, worker and scheduler processes on the
test database, a database proxy that can be cut, and the processes' logs on failure."""

import pytest
import redis
import rq
from django.db import connection

from apps.runs.services import reconciler, scheduling
from tests.chaos.cases import MixedTargets
from tests.chaos.faults import RedisServer, TcpProxy
from tests.chaos.processes import Processes, wait_for_other_sessions_to_end


@pytest.fixture
def chaos_redis(tmp_path, monkeypatch):
    """A redis-server of this test's own. The shared one is never flushed or stopped."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    client = redis.Redis.from_url(server.url)

    # django_rq reads its queue settings at import, so point the engine's enqueue here directly.
    def queue():
        return rq.Queue("default", connection=client)

    monkeypatch.setattr(scheduling, "queue", queue)
    monkeypatch.setattr(reconciler, "queue", queue)
    yield server
    client.close()
    server.stop()


@pytest.fixture
def chaos(transactional_db, chaos_redis, tmp_path, request):
    """Start ``chaos.worker()`` and ``chaos.scheduler()`` processes; all are killed at the end.

    It depends on ``transactional_db``, so its teardown (killing the processes) runs before
    pytest-django flushes the database.
    """
    processes = Processes(log_dir=tmp_path / "logs", redis_url=chaos_redis.url)
    request.node.chaos_processes = processes
    yield processes
    processes.stop_all()
    wait_for_other_sessions_to_end()


@pytest.fixture
def db_proxy(transactional_db, on_postgres):
    """A TCP proxy in front of PostgreSQL, for the processes that should lose the database."""
    upstream = (
        connection.settings_dict["HOST"] or "127.0.0.1",
        int(connection.settings_dict["PORT"] or 5432),
    )
    proxy = TcpProxy(upstream).start()
    yield proxy
    proxy.close()


@pytest.fixture
def mixed_targets():
    with MixedTargets(per_kind=10) as targets:
        yield targets


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A failed fault test shows the end of each process's output."""
    report = yield
    processes = getattr(item, "chaos_processes", None)
    if report.failed and processes is not None:
        for proc in processes.started:
            report.sections.append((f"{proc.name} output (tail)", proc.tail(60)))
    return report
