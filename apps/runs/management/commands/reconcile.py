from django.core.management.base import BaseCommand

from apps.runs.services import enqueue_due_attempts, reconcile


class Command(BaseCommand):
    help = (
        "Find what workers or Redis lost (expired leases, lost jobs, stuck runs) and put it back "
        "on its way; also hand due attempts to the workers. The scheduler runs this every "
        "HANDOFF_RECONCILE_INTERVAL seconds; --once runs one pass now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit (default).")

    def handle(self, *args, **options):
        report = reconcile()
        handed = enqueue_due_attempts()
        self.stdout.write(f"Reconciled: {report}; {handed} due attempt(s) handed to the workers.")
