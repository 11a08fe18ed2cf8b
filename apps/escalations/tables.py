import django_tables2 as tables
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince, timeuntil

from .models import Escalation
from .permissions import can_act_on_cases
from .selectors import is_overdue

# Escalations are days old at most: month and day read faster than a full date.
DATETIME_FORMAT = "M j, H:i"
SELECT_ALL = mark_safe(  # noqa: S308 - a constant
    '<input type="checkbox" class="select-all" aria-label="Select all on this page"'
    ' title="Select all on this page">'
)
NOBODY = mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant


def initials(user) -> str:
    parts = [p for p in (user.first_name, user.last_name) if p]
    if not parts:
        parts = [user.get_username()]
    letters = "".join(p[0] for p in parts[:2])
    return (letters if len(parts) > 1 else parts[0][:2]).upper()


def avatar(user) -> str:
    name = user.get_full_name() or user.get_username()
    return format_html(
        '<span class="avatar avatar--{}" title="{}" aria-label="{}">{}</span>',
        user.pk % 6,
        name,
        name,
        initials(user),
    )


def _row_class(record: Escalation, table) -> str:
    classes = []
    if is_overdue(record, now=table.now):
        classes.append("is-overdue")
    if record.pk == table.active_pk:
        classes.append("is-active")
    if record.status == Escalation.Status.RESOLVED:
        classes.append("is-resolved")
    return " ".join(classes)


class InboxTable(tables.Table):
    """The inbox list. Rows open the detail panel beside the list (real links, htmx on top)."""

    select = tables.Column(
        verbose_name=SELECT_ALL,
        accessor="pk",
        orderable=False,
        attrs={"th": {"class": "select"}, "td": {"class": "select"}},
    )
    case = tables.Column(
        verbose_name="Case",
        accessor="case_ref",
        orderable=False,
        attrs={"td": {"class": "case nowrap"}},
    )
    reason = tables.Column(orderable=False, attrs={"td": {"class": "col-reason nowrap"}})
    summary = tables.Column(orderable=False, attrs={"td": {"class": "summary"}})
    workflow = tables.Column(
        verbose_name="Workflow",
        accessor="workflow__name",
        order_by=("workflow__name", "due_at"),
        attrs={"th": {"class": "col-workflow"}, "td": {"class": "col-workflow"}},
    )
    priority = tables.Column(
        order_by=("priority", "due_at"), attrs={"td": {"class": "col-priority nowrap"}}
    )
    due_at = tables.Column(
        verbose_name="Due",
        accessor="due_at",
        order_by=("due_at", "id"),
        attrs={"td": {"class": "due nowrap"}},
    )
    opened_at = tables.Column(
        verbose_name="Opened",
        accessor="opened_at",
        order_by=("opened_at", "id"),
        attrs={"th": {"class": "col-opened"}, "td": {"class": "col-opened nowrap"}},
    )
    assignee = tables.Column(
        verbose_name="Who",
        orderable=False,
        empty_values=(),
        attrs={"td": {"class": "assignee nowrap"}},
    )

    class Meta:
        model = Escalation
        fields = []
        sequence = (
            "select",
            "case",
            "reason",
            "summary",
            "workflow",
            "priority",
            "due_at",
            "opened_at",
            "assignee",
        )
        order_by = ("due_at",)
        per_page = 25
        template_name = "escalations/_table.html"
        empty_text = "Nothing here: no escalation matches this tab and these filters."
        attrs = {"class": "table inbox-table", "id": "inbox-table"}
        row_attrs = {
            "id": lambda record: f"escalation-{record.pk}",
            "class": _row_class,
            "data-pk": lambda record: record.pk,
        }

    def __init__(
        self, *args, user, csrf_token: str, querystring="", active_pk=None, now=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.user = user
        self.csrf_token = csrf_token
        self.querystring = querystring
        self.active_pk = active_pk
        self.now = now or timezone.now()

    def _detail_url(self, record: Escalation) -> str:
        url = reverse("inbox:detail", args=[record.pk])
        return f"{url}?{self.querystring}" if self.querystring else url

    def render_select(self, record: Escalation) -> str:
        return format_html(
            '<input type="checkbox" name="ids" value="{}" form="bulk-form" aria-label="Select {}">',
            record.pk,
            record.case_ref,
        )

    def render_case(self, value: str, record: Escalation) -> str:
        url = self._detail_url(record)
        return format_html(
            '<a class="open-link" href="{}" hx-get="{}" hx-target="#inbox-panel"'
            ' hx-swap="outerHTML" hx-push-url="true" hx-sync="#inbox-panel:replace">{}</a>',
            url,
            url,
            value,
        )

    def render_reason(self, value: str, record: Escalation) -> str:
        return format_html('<span class="reason reason--{}">{}</span>', record.reason, value)

    def render_summary(self, value: str) -> str:
        return format_html('<span title="{}">{}</span>', value, truncatechars(value, 110))

    def render_priority(self, value: str, record: Escalation) -> str:
        return format_html('<span class="priority priority--{}">{}</span>', record.priority, value)

    def render_due_at(self, value, record: Escalation) -> str:
        local = timezone.localtime(value)
        when = date_filter(local, DATETIME_FORMAT)
        if record.status == Escalation.Status.RESOLVED:
            return format_html('<time datetime="{}">{}</time>', value.isoformat(), when)
        if is_overdue(record, now=self.now):
            late = timesince(value, self.now, depth=1)
            return format_html(
                '<time datetime="{}" title="Due {}">{}</time>'
                '<span class="overdue-tag">Overdue</span><span class="due__hint">{} late</span>',
                value.isoformat(),
                when,
                when,
                late,
            )
        left = timeuntil(value, self.now, depth=1)
        return format_html(
            '<time datetime="{}">{}</time><span class="due__hint">in {}</span>',
            value.isoformat(),
            when,
            left,
        )

    def render_opened_at(self, value) -> str:
        local = timezone.localtime(value)
        return format_html(
            '<time datetime="{}">{}</time>', value.isoformat(), date_filter(local, DATETIME_FORMAT)
        )

    def render_assignee(self, record: Escalation) -> str:
        if record.assignee is not None:
            you = record.assignee_id == self.user.pk
            you_tag = format_html('<span class="you">{}</span>', "you") if you else ""
            return format_html("{} {}", avatar(record.assignee), you_tag)
        if record.status != Escalation.Status.OPEN or not can_act_on_cases(self.user, record.team):
            return NOBODY
        url = reverse("inbox:claim", args=[record.pk])
        if self.querystring:
            url = f"{url}?{self.querystring}"
        return format_html(
            '<form method="post" action="{}" class="row-claim" hx-post="{}"'
            ' hx-target="#inbox-panel" hx-swap="outerHTML" hx-push-url="{}" hx-sync="this:drop">'
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<button type="submit" class="button button--small" data-action="claim">Claim</button>'
            "</form>",
            url,
            url,
            self._detail_url(record),
            self.csrf_token,
        )
