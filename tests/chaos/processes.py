"""Worker and scheduler processes (``manage.py worker|scheduler``) on the test database."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from tests.chaos.checks import describe_state, wait_until

# Fast engine settings for the subprocesses: a dead worker is noticed in seconds, not minutes.
ENGINE_ENV = {
    "HANDOFF_LEASE_SECONDS": "3",
    "HANDOFF_HEARTBEAT_SECONDS": "0.5",
    "HANDOFF_RECONCILE_INTERVAL": "0.5",
    "HANDOFF_SCHEDULER_INTERVAL": "0.2",
    "HANDOFF_REQUEUE_AFTER": "2",
    "HANDOFF_DB_RETRY_SECONDS": "30",
    "HANDOFF_CIRCUIT_THRESHOLD": "1000000",
}


def subprocess_database_url(*, host: str | None = None, port: int | None = None) -> str:
    """DATABASE_URL of the test database (``host``/``port`` replace PostgreSQL's, for a proxy)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    assert connection.vendor == "postgresql", connection.vendor
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'], safe='')}{password}"
        f"@{host or db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"
    )


def wait_for_other_sessions_to_end(timeout: float = 10.0) -> None:
    """On PostgreSQL, let the backends of killed processes go before the test database is
    flushed or dropped (a lingering session would block TRUNCATE and DROP DATABASE)."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)


class Proc:
    """One ``manage.py worker|scheduler`` subprocess, its output in a file."""

    def __init__(self, *, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is not a test's signal
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        if self.alive():
            self.popen.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._log.close()

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])


class Processes:
    """Starts workers and schedulers against the test database and the test's Redis."""

    def __init__(self, *, log_dir: Path, redis_url: str) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.redis_url = redis_url
        self.started: list[Proc] = []
        self._count = Counter()

    def env(self, **overrides: str) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HANDOFF_", "DJANGO_", "SENTRY_", "DATABASE_", "REDIS_"))
        }
        return {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "chaos-tests-secret-key-" + "x" * 32,
            "DATABASE_URL": subprocess_database_url(),
            "REDIS_URL": self.redis_url,
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **ENGINE_ENV,
            **overrides,
        }

    def _start(self, kind: str, args: list[str], env: dict[str, str]) -> Proc:
        self._count[kind] += 1
        name = f"chaos-{kind}-{self._count[kind]}"
        proc = Proc(
            name=name,
            # System checks are not what these tests exercise; skipping them starts faster.
            args=[kind, "--skip-checks", *(["--name", name] if kind == "worker" else []), *args],
            env=self.env(**env),
            log_path=self.log_dir / f"{name}.log",
        )
        self.started.append(proc)
        return proc

    def worker(self, *args: str, **env: str) -> Proc:
        return self._start("worker", list(args), env)

    def scheduler(self, **env: str) -> Proc:
        return self._start("scheduler", [], env)

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()

    def tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {p.name} (pid {p.pid}, {'alive' if p.alive() else f'exit {p.popen.returncode}'}) "
            f"{p.log_path}\n{p.tail(lines)}"
            for p in self.started
        )

    def explain(self) -> str:
        return f"{describe_state()}\n{self.tails(25)}"

    def wait_until(self, predicate, *, timeout: float, what: str, alive: Sequence[Proc] = ()):
        """``wait_until`` with the engine's state and the logs in its message; it gives up at
        once if one of the ``alive`` processes has died (nothing will settle without it)."""

        def check():
            dead = [p for p in alive if not p.alive()]
            if dead:
                names = ", ".join(f"{p.name} (exit {p.popen.returncode})" for p in dead)
                raise AssertionError(f"{names} died while waiting for {what}.\n{self.explain()}")
            return predicate()

        return wait_until(check, timeout=timeout, what=what, explain=self.explain)
