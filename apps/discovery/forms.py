"""Forms for the discovery pages: they parse input; services do the writing."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.selectors import teams_of, visible_workflows

from .models import Observation, ProcessMap
from .parsing import ColumnMapping, CsvPreview
from .parsing.tabular import ROLE_LABELS, ROLES

DEVIATION_SEPARATOR = "\n"


class ProcessMapForm(forms.ModelForm):
    class Meta:
        model = ProcessMap
        fields = ["name", "team", "owner", "status", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_of(user)
        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True)
        self.fields["owner"].required = False
        if not self.instance.pk:
            self.initial.setdefault("owner", user.pk)


class ObservationForm(forms.ModelForm):
    class Meta:
        model = Observation
        fields = [
            "kind",
            "activity",
            "text",
            "times_per_week",
            "minutes_each",
            "observed_by",
            "observed_on",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 3}),
            "observed_on": forms.DateInput(attrs={"type": "date"}),
            "activity": forms.TextInput(attrs={"list": "activity-names"}),
        }
        labels = {"text": "What happens"}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["observed_by"].queryset = get_user_model().objects.filter(is_active=True)
        if not self.instance.pk:
            self.initial.setdefault("observed_by", user.pk)
            self.initial.setdefault("observed_on", timezone.localdate())


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV or XES, gzipped or not (.csv, .csv.gz, .xes, .xes.gz).",
    )
    name = forms.CharField(max_length=200, required=False, help_text="Default: the file name.")


class ColumnMappingForm(forms.Form):
    """Which column holds what; choices come from the file's header row."""

    def __init__(self, *args, preview: CsvPreview, **kwargs):
        super().__init__(*args, **kwargs)
        columns = [(c, c) for c in preview.columns]
        for role in ROLES:
            required = role != "resource"
            choices = columns if required else [("", "(none)"), *columns]
            self.fields[role] = forms.ChoiceField(
                label=f"{ROLE_LABELS[role].capitalize()} column",
                choices=choices if required else choices,
                required=required,
                initial=getattr(preview.suggested, role) or None,
            )

    def clean(self):
        data = super().clean()
        chosen = [data.get(r) for r in ("case", "activity", "timestamp") if data.get(r)]
        if len(set(chosen)) != len(chosen):
            raise forms.ValidationError(
                "The case id, activity and timestamp must be three different columns."
            )
        return data

    def mapping(self) -> ColumnMapping:
        return ColumnMapping(**{role: self.cleaned_data.get(role) or "" for role in ROLES})


class IdealPathForm(forms.Form):
    SOURCE_TYPED = "typed"
    SOURCE_VARIANTS = "variants"
    SOURCE_WORKFLOW = "workflow"

    source = forms.ChoiceField(
        choices=[
            (SOURCE_TYPED, "An ordered list of activities"),
            (SOURCE_VARIANTS, "One or more variants of the log"),
            (SOURCE_WORKFLOW, "The steps of a workflow"),
        ],
        widget=forms.RadioSelect,
        initial=SOURCE_TYPED,
    )
    activities = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One activity a line, in order.",
    )
    variants = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    workflow = forms.ModelChoiceField(queryset=None, required=False)

    def __init__(self, *args, user, variants: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.variant_list = variants
        self.fields["variants"].choices = [
            (str(i), f"{v['count']} cases: " + " → ".join(v["activities"]))
            for i, v in enumerate(variants)
        ]
        self.fields["workflow"].queryset = visible_workflows(user)

    def clean(self):
        data = super().clean()
        source = data.get("source")
        if source == self.SOURCE_TYPED:
            path = [line.strip() for line in (data.get("activities") or "").splitlines()]
            paths = [[a for a in path if a]]
            if not paths[0]:
                self.add_error("activities", "Type the activities of the ideal path, one a line.")
        elif source == self.SOURCE_VARIANTS:
            chosen = data.get("variants") or []
            paths = [self.variant_list[int(i)]["activities"] for i in chosen]
            if not paths:
                self.add_error("variants", "Choose at least one variant.")
        else:
            paths = []
            if not data.get("workflow"):
                self.add_error("workflow", "Choose a workflow.")
        data["paths"] = paths
        return data
