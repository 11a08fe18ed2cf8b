import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections
from redis.exceptions import RedisError

from apps.runs.services import enqueue_due_attempts

logger = logging.getLogger("handoff.scheduler")


class Command(BaseCommand):
    help = (
        "Hand due step attempts (first tries and retries whose backoff has passed) from the "
        "database to RQ. Runs until SIGTERM/SIGINT; --once for a single pass."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=settings.HANDOFF_SCHEDULER_INTERVAL)

    def handle(self, *args, once: bool = False, interval: float = 1.0, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info("Scheduler started (every %.1f s)", interval)
        while not stopping:
            close_old_connections()
            try:
                handed = enqueue_due_attempts()
            except (DatabaseError, RedisError):
                # The database or Redis is away: keep going, the next pass catches up.
                logger.exception("Scheduler pass failed; retrying in %.1f s", interval)
            else:
                if handed:
                    logger.info("Handed %d due attempt(s) to the workers", handed)
                if once:
                    self.stdout.write(f"Handed {handed} due attempt(s) to the workers.")
                    return
            time.sleep(interval)
        logger.info("Scheduler stopped")
