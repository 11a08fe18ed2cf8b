"""The worker's watchdog: it ends the process when an attempt is still running past its time
limit plus the grace period.

The time limit itself is an alarm raised inside the action, which an action blocked in C code
never sees and one that catches every exception can swallow. Such a worker would hold its slot
for ever; ending the process frees it (the supervisor, ``manage.py worker --respawn``, starts a
new one) and the reconciler records the attempt as timed out.

Only the worker command installs it: a test or a shell that runs attempts in its own process
must never be ended by it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("handoff.watchdog")

# EX_SOFTWARE: the supervisor (and whoever reads the logs) can tell this exit from a crash.
WEDGED_EXIT_CODE = 70


@dataclass(frozen=True)
class _Watch:
    attempt_id: int
    limit_s: float
    grace_s: float
    started: float

    @property
    def due(self) -> float:
        return self.started + self.limit_s + self.grace_s


class Watchdog:
    """One thread per worker process, armed for one attempt at a time."""

    def __init__(self, *, exit: Callable[[int], object] = os._exit) -> None:
        self._exit = exit
        self._changed = threading.Condition()
        self._watch: _Watch | None = None
        threading.Thread(target=self._run, name="attempt-watchdog", daemon=True).start()

    def arm(self, *, attempt_id: int, limit_s: float, grace_s: float) -> None:
        with self._changed:
            self._watch = _Watch(attempt_id, limit_s, grace_s, time.monotonic())
            self._changed.notify()

    def disarm(self) -> None:
        with self._changed:
            self._watch = None
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                watch = self._watch
                left = watch.due - time.monotonic() if watch else None
                if left is None or left > 0:
                    self._changed.wait(left)
                    continue
                over = time.monotonic() - watch.started - watch.limit_s
                logger.critical(
                    "Attempt %s is still running %.1f s past its %g s limit (grace %g s): "
                    "the action ignores its time limit. Ending worker process %s so its slot "
                    "is freed; the reconciler records the attempt as timed out.",
                    watch.attempt_id,
                    over,
                    watch.limit_s,
                    watch.grace_s,
                    os.getpid(),
                )
                _flush_logs()
                self._exit(WEDGED_EXIT_CODE)
                self._watch = None  # only reached when ``exit`` is not os._exit (tests)


def _flush_logs() -> None:
    # os._exit skips every buffer: flush the line above out first.
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


_installed: Watchdog | None = None


def watchdog_install() -> Watchdog:
    """Start this process's watchdog (the worker command calls it once)."""
    global _installed
    if _installed is None:
        _installed = Watchdog()
    return _installed


@contextlib.contextmanager
def watched(*, attempt_id: int | None, limit_s: float, grace_s: float):
    """Arm the process's watchdog (if installed) for ``attempt_id`` while the block runs."""
    dog = _installed
    if dog is None or attempt_id is None:
        yield
        return
    dog.arm(attempt_id=attempt_id, limit_s=limit_s, grace_s=grace_s)
    try:
        yield
    finally:
        dog.disarm()
