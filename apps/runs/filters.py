import django_filters
from django import forms

from apps.accounts.selectors import visible_workflows
from apps.workflows.models import Workflow

from .models import Run


def _workflows(request):
    return visible_workflows(request.user).order_by("name") if request else Workflow.objects.none()


class RunFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(
        label="Case",
        lookup_expr="icontains",
        widget=forms.TextInput(attrs={"placeholder": "External id contains…", "type": "search"}),
    )
    workflow = django_filters.ModelChoiceFilter(queryset=_workflows, empty_label="All workflows")
    status = django_filters.ChoiceFilter(choices=Run.Status.choices, empty_label="Any status")
    source = django_filters.ChoiceFilter(choices=Run.Source.choices, empty_label="Any source")

    class Meta:
        model = Run
        fields = ["external_id", "workflow", "status", "source"]
