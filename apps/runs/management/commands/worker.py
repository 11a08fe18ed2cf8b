import logging
import os
import socket
import time

import django_rq
from django.core.management.base import BaseCommand
from redis.exceptions import RedisError
from rq import SimpleWorker, worker_registration
from rq.exceptions import StopRequested

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

    def handle(self, *args, burst: bool = False, name: str = "", **options):
        base = name or f"{socket.gethostname()}.{os.getpid()}"
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
