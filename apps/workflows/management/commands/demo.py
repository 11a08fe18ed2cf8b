import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.workflows.demo import DEFAULT_PASSWORD, DEFAULT_SEED, PEOPLE, demo_load

MIX_LABELS = {
    "plain": "plain",
    "over_limit": "over the amount limit",
    "low_confidence": "read with low confidence",
    "new_vendor": "from a new vendor",
    "erp_flaky": "ERP busy once",
    "erp_unavailable": "ERP down",
    "erp_reject": "ERP refuses",
    "erp_slow": "ERP too slow",
}


class Command(BaseCommand):
    help = (
        "Load the demo: team Accounts Payable, its people, a live supplier-invoice workflow "
        "that books invoices in a flaky fake ERP, and demo cases. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=200, help="How many cases (default 200).")
        parser.add_argument("--no-cases", action="store_true", help="Start no cases.")
        parser.add_argument(
            "--base-url",
            default=settings.SITE_URL,
            help="Where workers reach this app's fake ERP (default: HANDOFF_SITE_URL, "
            f"now {settings.SITE_URL}).",
        )
        parser.add_argument(
            "--erp-timeout",
            type=float,
            default=3.0,
            help="Time limit of one ERP call in seconds (default 3; the ERP's slow answers "
            "take HANDOFF_DEMO_ERP_SLOW_SECONDS, default 6).",
        )
        parser.add_argument(
            "--retry-interval",
            type=float,
            default=1.0,
            help="First wait before the ERP call is retried, in seconds (default 1; it doubles "
            "up to 20 s).",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Seed of the cases.")

    def handle(self, *args, **options):
        if options["cases"] < 0:
            raise CommandError("--cases must be 0 or more.")
        if options["erp_timeout"] <= 0:
            raise CommandError("--erp-timeout must be a positive number of seconds.")
        if options["retry_interval"] < 0:
            raise CommandError("--retry-interval must be 0 seconds or more.")
        password = os.environ.get("HANDOFF_DEMO_PASSWORD") or DEFAULT_PASSWORD
        result = demo_load(
            base_url=options["base_url"],
            cases=0 if options["no_cases"] else options["cases"],
            password=password,
            seed=options["seed"],
            erp_timeout_s=options["erp_timeout"],
            retry_initial_s=options["retry_interval"],
        )
        out = self.stdout
        out.write(self.style.SUCCESS(f"Handoff demo: {settings.SITE_URL}/"))
        logins = ", ".join([*PEOPLE, "admin"])
        out.write(f"Logins: {logins} (password: {password})")
        out.write(
            f"Workflow: {result.workflow.name} ({result.workflow.slug}), "
            f"v{result.version.number}{' (new)' if result.version_created else ''}, "
            f"team {result.team.name}"
        )
        if result.users_created:
            out.write(f"Users created: {', '.join(result.users_created)}")
        if result.refusal:
            out.write(self.style.WARNING(f"No cases started: {result.refusal}"))
        mix = ", ".join(
            f"{result.mix[kind]} {label}" for kind, label in MIX_LABELS.items() if result.mix[kind]
        )
        out.write(
            f"Summary: {result.cases_created} cases started, {result.cases_existing} already "
            f"there" + (f" ({mix})" if mix else "") + "."
        )
