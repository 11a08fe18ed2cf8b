"""Copy each escalation's workflow and case id from its run, so the inbox reads one table; add
the inbox's partial indexes and, on PostgreSQL, trigram indexes for its text search."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery

TRIGRAM_INDEXES = [
    ("escalation_case_ref_trgm", "case_ref"),
    ("escalation_summary_trgm", "summary"),
]


def backfill(apps, schema_editor):
    Escalation = apps.get_model("escalations", "Escalation")
    Run = apps.get_model("runs", "Run")
    runs = Run.objects.filter(pk=OuterRef("run_id"))
    Escalation.objects.update(
        workflow_id=Subquery(runs.values("workflow_id")[:1]),
        case_ref=Subquery(runs.values("external_id")[:1]),
    )


def trigram_indexes(apps, schema_editor):
    # icontains is UPPER(col) LIKE UPPER('%…%') on PostgreSQL: a trigram index on that
    # expression serves it. SQLite has no such index; its inboxes are small.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON escalations_escalation '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0003_escalation_resolved_by"),
        ("runs", "0003_attempt_try_number"),
        ("workflows", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="escalation",
            name="workflow",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="escalations",
                to="workflows.workflow",
            ),
        ),
        migrations.AddField(
            model_name="escalation",
            name="case_ref",
            field=models.CharField(
                default="", help_text="The run's external id.", max_length=200
            ),
            preserve_default=False,
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="escalation",
            name="workflow",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="escalations",
                to="workflows.workflow",
            ),
        ),
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(
                condition=~Q(status="resolved"),
                fields=["due_at", "id"],
                name="escalation_unresolved_due",
            ),
        ),
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(
                condition=~Q(status="resolved"),
                fields=["workflow", "due_at", "id"],
                name="escalation_unresolved_wf_due",
            ),
        ),
        migrations.RunPython(trigram_indexes, drop_trigram_indexes),
    ]
