import django_tables2 as tables
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import truncatechars
from django.utils import timezone
from django.utils.html import format_html

from apps.runs.tables import status_badge

from .models import Escalation
from .selectors import is_overdue

# Escalations are days old at most: month and day read faster than a full date.
DATETIME_FORMAT = "M j, H:i"


class EscalationTable(tables.Table):
    opened_at = tables.DateTimeColumn(
        verbose_name="Opened", format=DATETIME_FORMAT, attrs={"td": {"class": "nowrap"}}
    )
    case = tables.Column(
        verbose_name="Case",
        accessor="run__external_id",
        linkify=lambda record: record.run.get_absolute_url(),
        attrs={"td": {"class": "case nowrap"}},
    )
    workflow = tables.Column(accessor="run__workflow__name", verbose_name="Workflow")
    reason = tables.Column()
    summary = tables.Column(orderable=False, attrs={"td": {"class": "summary"}})
    status = tables.Column()
    priority = tables.Column()
    due_at = tables.Column(verbose_name="Due", attrs={"td": {"class": "due nowrap"}})
    assignee = tables.Column(
        default=format_html('<span class="muted">{}</span>', "Unassigned"),
        order_by=("assignee__username",),
    )

    class Meta:
        model = Escalation
        fields = [
            "opened_at",
            "case",
            "workflow",
            "reason",
            "summary",
            "status",
            "priority",
            "due_at",
            "assignee",
        ]
        order_by = ("due_at",)
        per_page = 25
        empty_text = "Nothing here: no escalation matches these filters."
        attrs = {"class": "table", "id": "escalations-table"}
        row_attrs = {
            "id": lambda record: f"escalation-{record.pk}",
            "class": lambda record: "is-overdue" if is_overdue(record) else "",
        }

    def render_reason(self, value: str, record: Escalation) -> str:
        return format_html('<span class="reason reason--{}">{}</span>', record.reason, value)

    def render_summary(self, value: str) -> str:
        return format_html('<span title="{}">{}</span>', value, truncatechars(value, 110))

    def render_status(self, value: str, record: Escalation) -> str:
        return status_badge(record.status, value)

    def render_priority(self, value: str, record: Escalation) -> str:
        return format_html('<span class="priority priority--{}">{}</span>', record.priority, value)

    def render_due_at(self, value, record: Escalation) -> str:
        due = date_filter(timezone.localtime(value), DATETIME_FORMAT)
        if is_overdue(record):
            return format_html('{} <span class="overdue-tag">Overdue</span>', due)
        return due

    def render_assignee(self, record: Escalation) -> str:
        return record.assignee.get_full_name() or record.assignee.get_username()
