"""What every benchmark relies on: its own settings whatever the shell holds, and checks that
what it timed really happened, so a figure is printed only for work that was done."""

from __future__ import annotations

import os
import re
from typing import NoReturn

# The hosts Django's test client sends (testserver) and the benches' own processes use.
BENCH_HOSTS = "testserver,localhost,127.0.0.1"
# Forced over the shell: on a machine that also serves the app these hold the app's values
# (its hosts, its key, a debug switch, Sentry), and any of them would break or skew a bench.
FORCED = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
    "DJANGO_ALLOWED_HOSTS": BENCH_HOSTS,
    "DJANGO_DEBUG": "false",  # timings of the production configuration
    "SENTRY_DSN": "",  # a bench's deliberate failures are not the app's incidents
}


def bench_environment(*, database_url: str, redis_url: str, **defaults: str) -> None:
    """Set, before ``django.setup()``, what a bench needs: ``FORCED`` whatever the shell says;
    the database and Redis from ``BENCH_DATABASE_URL`` / ``BENCH_REDIS_URL`` or the bench's own
    defaults, never from the shell's ``DATABASE_URL`` / ``REDIS_URL`` (on a machine that serves
    the app those are the app's, which a bench empties); ``defaults`` where the shell does not
    choose them. Worker processes the bench starts inherit all of it."""
    os.environ.update(FORCED)
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", database_url)
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", redis_url)
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


def fail(what: str, problem: str) -> NoReturn:
    """Stop the bench (exit status 1) naming what did not happen; nothing more is printed."""
    raise SystemExit(f"bench stopped: {what}: {problem}; no figure is printed for work not done")


_HINTS = {
    400: " (check DJANGO_ALLOWED_HOSTS: the test client asks for 'testserver')",
    403: " (the bench's user may not see it)",
    404: " (no such page or object for the bench's user)",
}


def check_page(
    what: str,
    response,
    *,
    queries: int,
    marker: re.Pattern[bytes] | None = None,
    min_rows: int = 1,
    status: int = 200,
) -> int:
    """Check one measured request: its status, that it ran SQL, and (with ``marker``, a pattern
    that matches once per row in the page) that it shows at least ``min_rows`` rows. Returns
    the rows shown (0 without a marker)."""
    got = response.status_code
    if got != status:
        hint = _HINTS.get(got, "")
        if 300 <= got < 400:
            hint = f" (redirected to {response.get('Location')})"
        fail(what, f"answered {got}, expected {status}{hint}")
    if queries < 1:
        fail(what, "ran 0 SQL queries, expected at least 1")
    if marker is None:
        return 0
    rows = len(marker.findall(response.content))
    if rows < min_rows:
        fail(what, f"showed {rows} rows, expected at least {min_rows}")
    return rows


def check_count(what: str, actual: int, expected: int, unit: str) -> None:
    """Stop unless exactly ``expected`` ``unit`` happened (runs completed, jobs succeeded...)."""
    if actual != expected:
        fail(what, f"{actual:,} {unit}, expected {expected:,}")
