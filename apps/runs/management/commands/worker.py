import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import django_rq
from django.conf import settings
from django.core.management.base import BaseCommand
from redis.exceptions import RedisError
from rq import SimpleWorker, worker_registration
from rq.exceptions import StopRequested

from apps.runs.services.watchdog import WEDGED_EXIT_CODE, watchdog_install

logger = logging.getLogger("handoff.worker")


class HandoffWorker(SimpleWorker):
    """RQ's non-forking worker (see README for the measurement), remembering a stop request."""

    stop_requested = False

    def request_stop(self, signum, frame):
        # First SIGTERM/SIGINT: finish the current attempt, then exit (RQ's warm shutdown).
        # A second one interrupts the attempt, which the engine hands back before exiting.
        type(self).stop_requested = True
        return super().request_stop(signum, frame)

    def heartbeat(self, *args, **kwargs):
        super().heartbeat(*args, **kwargs)
        # After Redis lost its data (a flush, a restart), RQ's heartbeat recreates this worker's
        # key but not its place in the registry, so /healthz would count no worker. Put it back.
        if not self.connection.sismember(worker_registration.REDIS_WORKER_KEYS, self.key):
            worker_registration.register(self)


class Command(BaseCommand):
    help = (
        "Run a Handoff worker: an RQ worker on the default queue that rides out Redis outages "
        "(it reconnects instead of exiting) and finishes its current attempt on SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="Exit when the queue is empty.")
        parser.add_argument("--name", default="", help="Worker name (default host.pid).")
        parser.add_argument(
            "--respawn",
            action="store_true",
            help="Run the worker in a child process and start a new one whenever it ends "
            "without being asked to (its watchdog ended it, it crashed or was killed).",
        )

    def handle(self, *args, burst: bool = False, name: str = "", respawn: bool = False, **options):
        base = name or f"{socket.gethostname()}.{os.getpid()}"
        if respawn:
            sys.exit(supervise(base=base, burst=burst))
        # Ends this process if an attempt outlives its limit + grace (see services/watchdog.py).
        watchdog_install()
        wait = 1.0
        started = time.monotonic()
        for round_ in range(1, 1_000_000):
            try:
                # Building the worker talks to Redis already (CLIENT SETNAME): an outage here is
                # ridden out like one inside work().
                queue = django_rq.get_queue("default")
                worker = HandoffWorker(
                    [queue],
                    connection=queue.connection,
                    name=base if round_ == 1 else f"{base}.{round_}",
                )
                started = time.monotonic()
                worker.work(burst=burst, logging_level=os.environ.get("LOG_LEVEL", "INFO"))
            except RedisError as exc:
                logger.error("Redis unavailable (%s); reconnecting in %.0f s", exc, wait)
            else:
                if burst or HandoffWorker.stop_requested:
                    return
                # RQ's loop quits on some Redis errors (a restart, a flush mid-job): start again.
                logger.warning("The RQ worker loop ended; starting it again in %.0f s", wait)
            if HandoffWorker.stop_requested:
                return
            try:
                time.sleep(wait)
            except StopRequested:
                return  # a stop asked for between two rounds
            # Back off while Redis stays away; a worker that ran a while starts from 1 s again.
            wait = 1.0 if time.monotonic() - started > 60 else min(wait * 2, 10.0)


def supervise(*, base: str, burst: bool) -> int:
    """Run ``manage.py worker`` in a child process, and a new one each time it ends by itself.

    A worker ends by itself when its watchdog stops an attempt that ignored its time limit
    (exit code WEDGED_EXIT_CODE), or when it crashes or is killed; without a new one its slot
    would stay empty, and under honcho one process ending stops them all. SIGTERM and SIGINT are
    passed on to the child, which then stops as usual (the first finishes the current attempt,
    a second hands it back), and nothing is started again. The child is in a session of its
    own, so it receives each signal once, from here; it dies with this process.
    """
    stopping = False
    child: subprocess.Popen | None = None

    def pass_on(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    wait = 1.0
    for number in range(1, 1_000_000):
        started = time.monotonic()
        manage = str(settings.BASE_DIR / "manage.py")
        child = subprocess.Popen(
            [sys.executable, manage, "worker", "--name", f"{base}-{number}"]
            + (["--burst"] if burst else []),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        logger.info("Started worker %s-%s (pid %s)", base, number, child.pid)
        code = child.wait()
        if stopping or code == 0:
            return code
        why = "its watchdog ended it" if code == WEDGED_EXIT_CODE else f"exit code {code}"
        # A worker that keeps dying at once (bad settings, no database) is not restarted in a
        # tight loop; one that ran a while, or that its watchdog ended, is replaced after 1 s.
        ran_a_while = time.monotonic() - started > 60
        wait = 1.0 if ran_a_while or code == WEDGED_EXIT_CODE else min(wait * 2, 30.0)
        logger.error("Worker %s-%s ended (%s); a new one in %.0f s", base, number, why, wait)
        time.sleep(wait)
        if stopping:
            return code
    return 0


def _die_with_parent() -> None:
    """In the child: be killed if the supervisor dies (Linux), so no worker is left orphaned."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
