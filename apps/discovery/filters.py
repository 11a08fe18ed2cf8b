import django_filters
from django import forms
from django.db.models import Q

from .models import Observation


class ObservationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Observation.Kind.choices, empty_label="Any kind")
    activity = django_filters.ChoiceFilter(empty_label="Any activity")
    q = django_filters.CharFilter(method="search", label="Text")

    class Meta:
        model = Observation
        fields = ["kind", "activity", "q"]

    def __init__(self, *args, activities: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["activity"].extra["choices"] = [(a, a or "(whole map)") for a in activities]
        self.form.fields["q"].widget = forms.TextInput(attrs={"type": "search"})

    def search(self, queryset, name, value):
        return queryset.filter(Q(text__icontains=value) | Q(activity__icontains=value))
