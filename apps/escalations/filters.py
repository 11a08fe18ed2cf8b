import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from apps.accounts.selectors import visible_workflows
from apps.workflows.models import Workflow

from .forms import person_label
from .models import Escalation
from .selectors import teammates

OPEN = Escalation.Status.OPEN
ANY = "any"
STATUS_CHOICES = [
    (OPEN, "Open"),
    (Escalation.Status.CLAIMED, "Claimed"),
    (Escalation.Status.RESOLVED, "Resolved"),
    (ANY, "Any status"),
]


def _workflows(request):
    return visible_workflows(request.user).order_by("name") if request else Workflow.objects.none()


def _people(request):
    if request is None:
        return get_user_model().objects.none()
    return teammates(user=request.user)


class InboxFilter(django_filters.FilterSet):
    """The inbox's filters. With no status chosen it shows what is unresolved; the tab
    (mine, unassigned, ...) is applied by the view, not here."""

    q = django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Case id or words…", "autocomplete": "off"}
        ),
    )
    workflow = django_filters.ModelChoiceFilter(
        field_name="workflow",
        label="Workflow",
        queryset=_workflows,
        empty_label="All workflows",
    )
    reason = django_filters.ChoiceFilter(
        choices=Escalation.Reason.choices, empty_label="Any reason"
    )
    priority = django_filters.ChoiceFilter(
        choices=Escalation.Priority.choices, empty_label="Any priority"
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label="Unresolved"
    )
    assignee = django_filters.ModelChoiceFilter(
        label="Assignee", queryset=_people, empty_label="Anyone"
    )

    class Meta:
        model = Escalation
        fields = ["q", "workflow", "reason", "priority", "status", "assignee"]

    @property
    def form(self):
        form = super().form
        form.fields["assignee"].label_from_instance = person_label
        return form

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(case_ref__icontains=value) | Q(summary__icontains=value))

    def filter_status(self, queryset, name, value):
        if value == ANY:
            return queryset
        return queryset.filter(status=value)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.open()
        return queryset

    def without_status(self):
        """Every filter but the status: the tabs count unresolved work within these filters."""
        self.errors  # noqa: B018 - validates the form, as FilterSet.qs does
        queryset = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "status":
                queryset = self.filters[name].filter(queryset, value)
        return queryset
