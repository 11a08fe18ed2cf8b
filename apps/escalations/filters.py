import django_filters

from apps.accounts.selectors import visible_workflows
from apps.workflows.models import Workflow

from .models import Escalation

OPEN = "open"
ALL = "all"
STATUS_CHOICES = [
    (OPEN, "Open (not resolved)"),
    (Escalation.Status.CLAIMED, "Claimed"),
    (Escalation.Status.RESOLVED, "Resolved"),
    (ALL, "All"),
]


def _workflows(request):
    return visible_workflows(request.user).order_by("name") if request else Workflow.objects.none()


class EscalationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None
    )
    reason = django_filters.ChoiceFilter(
        choices=Escalation.Reason.choices, empty_label="Any reason"
    )
    workflow = django_filters.ModelChoiceFilter(
        field_name="run__workflow",
        label="Workflow",
        queryset=_workflows,
        empty_label="All workflows",
    )

    class Meta:
        model = Escalation
        fields = ["status", "reason", "workflow"]

    def __init__(self, data=None, *args, **kwargs):
        # The inbox opens on what still needs a person; "All" is one choice away.
        data = data.copy() if data is not None else None
        if data is not None and not data.get("status"):
            data["status"] = OPEN
        super().__init__(data, *args, **kwargs)

    def filter_status(self, queryset, name, value):
        if value == OPEN:
            return queryset.open()
        if value == ALL:
            return queryset
        return queryset.filter(status=value)
