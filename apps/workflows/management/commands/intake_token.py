"""Make (or revoke) the bearer tokens a workflow's intake API accepts."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from apps.runs.services import workflow_refusal
from apps.workflows.models import Workflow
from apps.workflows.services import intake_token_create, intake_token_revoke_all


class Command(BaseCommand):
    help = (
        "Print a new intake API token for a workflow (shown once: only its hash is stored), "
        "or revoke all of its tokens with --revoke-all."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The workflow's slug.")
        parser.add_argument(
            "--revoke-all",
            action="store_true",
            help="Revoke every token of the workflow instead of making a new one.",
        )

    def handle(self, *args, slug: str, revoke_all: bool, **options):
        workflow = Workflow.objects.filter(slug=slug).first()
        if workflow is None:
            raise CommandError(f"No workflow with the slug {slug!r}.")
        if revoke_all:
            count = intake_token_revoke_all(workflow=workflow)
            self.stdout.write(f"Revoked {count} token(s) of workflow {slug!r}.")
            return

        row, token = intake_token_create(workflow=workflow)
        # The token alone goes to stdout so `TOKEN=$(manage.py intake_token slug)` captures just
        # it; the explanation goes to stderr, where a person still sees it.
        self.stdout.write(token)
        url = settings.SITE_URL + reverse("api:run_create", kwargs={"slug": slug})
        self.stderr.write(
            f"\nIntake token {row.prefix}… for workflow {slug!r}. It is shown only this once: "
            "store it now.\n"
            "Start a case with it (export HANDOFF_TOKEN=<the token above> first):\n"
            f"  curl -X POST {url} \\\n"
            '    -H "Authorization: Bearer $HANDOFF_TOKEN" \\\n'
            '    -H "Content-Type: application/json" \\\n'
            """    -d '{"external_id": "CASE-1", "data": {…}}'"""
        )
        required = _required_fields(workflow)
        if required:
            self.stderr.write(
                "The case data must match the published version's case schema; it requires: "
                f"{', '.join(required)}."
            )
        refusal = workflow_refusal(workflow)
        if refusal:
            self.stderr.write(f"Note: {refusal} Until then the API answers 409.")


def _required_fields(workflow: Workflow) -> list[str]:
    version = workflow.versions.filter(published_at__isnull=False).order_by("-number").first()
    schema = version.case_schema if version else None
    return sorted(schema.get("required", [])) if isinstance(schema, dict) else []
