import django_tables2 as tables
from django.utils.html import format_html

from .models import Run

DATETIME_FORMAT = "Y-m-d H:i"


def status_badge(status: str, label: str) -> str:
    return format_html('<span class="badge badge--{}">{}</span>', status, label)


class RunTable(tables.Table):
    external_id = tables.Column(
        verbose_name="Case", linkify=True, attrs={"td": {"class": "case nowrap"}}
    )
    workflow = tables.Column(order_by=("workflow__name",))
    status = tables.Column()
    current_step = tables.Column(
        verbose_name="Current step", order_by=("current_step__position",), default="—"
    )
    created_at = tables.DateTimeColumn(verbose_name="Created", format=DATETIME_FORMAT)
    updated_at = tables.DateTimeColumn(verbose_name="Updated", format=DATETIME_FORMAT)

    class Meta:
        model = Run
        fields = ["external_id", "workflow", "status", "current_step", "created_at", "updated_at"]
        order_by = ("-created_at",)
        per_page = 25
        empty_text = "No runs match these filters."
        attrs = {"class": "table", "id": "runs-table"}

    def render_workflow(self, record: Run) -> str:
        return record.workflow.name

    def render_status(self, value: str, record: Run) -> str:
        return status_badge(record.status, value)

    def render_current_step(self, record: Run) -> str:
        return record.current_step.name
