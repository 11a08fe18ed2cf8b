import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError

from apps.runs.hooks import periodic_checks
from apps.runs.services import enqueue_due_attempts, reconcile

logger = logging.getLogger("handoff.scheduler")


class Command(BaseCommand):
    help = (
        "Hand due step attempts (first tries, retries whose backoff has passed, parked attempts "
        "whose circuit may have closed) from the database to RQ, and run the reconciler every "
        "HANDOFF_RECONCILE_INTERVAL seconds. Runs until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=settings.HANDOFF_SCHEDULER_INTERVAL)
        parser.add_argument(
            "--reconcile-interval", type=float, default=settings.HANDOFF_RECONCILE_INTERVAL
        )

    def handle(self, *args, interval: float, reconcile_interval: float, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info(
            "Scheduler started: due attempts every %.1f s, reconciler every %.1f s",
            interval,
            reconcile_interval,
        )
        next_reconcile = time.monotonic()
        next_check: dict[str, float] = {}
        while not stopping:
            close_old_connections()
            try:
                handed = enqueue_due_attempts()
                if handed:
                    logger.info("Handed %d due attempt(s) to the workers", handed)
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + reconcile_interval
                    report = reconcile()
                    if report.found_anything:
                        logger.warning("Reconciler: %s", report)
                self._run_periodic_checks(next_check)
            except (DatabaseError, RedisError):
                # The database or Redis is away: keep going, the next pass catches up.
                logger.exception("Scheduler pass failed; retrying in %.1f s", interval)
            time.sleep(interval)
        logger.info("Scheduler stopped")

    @staticmethod
    def _run_periodic_checks(next_check: dict[str, float]) -> None:
        """The checks other apps registered (apps.runs.hooks), each at its own interval; one that
        fails is logged and does not stop the others or the scheduler."""
        for check in periodic_checks():
            now = time.monotonic()
            if now < next_check.get(check.name, 0.0):
                continue
            next_check[check.name] = now + check.every_s
            try:
                check.func()
            except Exception:
                logger.exception(
                    "Periodic check %s failed; next try in %.0f s", check.name, check.every_s
                )
