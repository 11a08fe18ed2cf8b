"""Forms of the inbox: they read what a person typed; the services decide what it means."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .models import Escalation
from .selectors import bound_values, has_step
from .services import coerce_edit

R = Escalation.Resolution

# Case data inputs are named "data.<field>" so they never clash with the form's own fields.
DATA_PREFIX = "data."

RESOLUTION_HELP = {
    R.RESUMED: "Run the step again with the case data as edited here.",
    R.RETRIED: "Run the step again as it is, e.g. once the other system is back.",
    R.SKIPPED: "Carry on with the next step. Say why.",
    R.DONE_BY_HAND: "You finished the case outside Handoff. Give the minutes it took.",
    R.CANCELLED: "Stop the case for good. Say why.",
}
NEEDS_A_STEP = (R.RESUMED, R.RETRIED, R.SKIPPED)
DATA_ERRORS = "Some case data fields do not read right: see below."
EDITS_NEED_RESUME = (
    "You changed the case data, and only “Resume” keeps the edits: choose it, or undo them."
)


class CommentForm(forms.Form):
    text = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Write a note for the team…"}),
        error_messages={"required": "Write something before posting a comment."},
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=None,
        label="Assign to",
        empty_label="Choose a teammate…",
        error_messages={
            "required": "Choose who takes the case.",
            "invalid_choice": "Choose someone from the team.",
        },
    )

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = people
        self.fields["assignee"].label_from_instance = person_label


def person_label(user) -> str:
    return user.get_full_name() or user.get_username()


class BulkForm(forms.Form):
    CLAIM, ASSIGN, RETRY = "claim", "assign", "retry"
    action = forms.ChoiceField(
        choices=[(CLAIM, "Claim"), (ASSIGN, "Assign"), (RETRY, "Retry the step")],
        error_messages={"required": "Choose what to do with the selection."},
    )
    ids = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=(),
        error_messages={"required": "Select at least one escalation first."},
    )
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="Assign to…")

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = people
        self.fields["assignee"].label_from_instance = person_label
        # The ids are checked against what the user may see by the view; here only their form.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        data = super().clean()
        if data.get("action") == self.ASSIGN and not data.get("assignee"):
            self.add_error("assignee", "Choose who takes the selected cases.")
        return data


# ---------------------------------------------------------------------------------------------
# Resolving, with the case data as a form


@dataclass
class CaseField:
    """One top-level field of the case data as an input."""

    name: str
    kind: str  # text, textarea, number, checkbox, json, missing
    value: str  # what the input shows
    old: Any
    checked: bool = False
    step: str = "any"
    culprit: bool = False  # read by the bound that stopped the case
    error: str = ""

    @property
    def input_name(self) -> str:
        return DATA_PREFIX + self.name

    @property
    def lines(self) -> int:
        return min(max(self.value.count("\n") + 1, 3), 14)

    @property
    def is_missing(self) -> bool:
        return self.kind == "missing"


def _kind(value: Any) -> tuple[str, str]:
    if isinstance(value, bool):
        return "checkbox", ""
    if isinstance(value, int):
        return "number", "1"
    if isinstance(value, float):
        return "number", "any"
    if isinstance(value, dict | list):
        return "json", ""
    if isinstance(value, str) and ("\n" in value or len(value) > 80):
        return "textarea", ""
    return "text", ""


def _shown(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def case_fields(data: Any, *, culprits=(), posted=None) -> list[CaseField]:
    """The case data as inputs, one per top-level field; fields a failed bound read but the case
    lacks come last, empty, so the person can fill them in. ``posted`` (a QueryDict) keeps what
    was typed when the form comes back with errors."""
    if not isinstance(data, dict):
        return []
    rows = []
    for name, value in data.items():
        kind, step = _kind(value)
        rows.append(
            CaseField(
                name=name,
                kind=kind,
                step=step or "any",
                value=_shown(value),
                old=value,
                checked=value is True,
                culprit=name in culprits,
            )
        )
    for name in culprits:
        if name not in data:
            rows.append(CaseField(name=name, kind="missing", value="", old=None, culprit=True))
    if posted is not None:
        for row in rows:
            typed = posted.getlist(row.input_name)
            if typed:
                row.value = typed[-1]
                row.checked = typed[-1].lower() in {"true", "1", "yes", "on"}
    return rows


def _read_new(raw: str) -> Any:
    """A value typed into a field the case did not have: JSON if it reads as JSON, else text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def case_changes(rows: list[CaseField], posted) -> tuple[dict[str, Any], dict[str, str]]:
    """Read each posted field as the type it had (``coerce_edit``); return the fields that
    changed and the errors by field. A field the form did not post is left alone."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for row in rows:
        typed = posted.getlist(row.input_name)
        if not typed:
            continue
        # Browsers send textarea line breaks as CRLF; what comes back as it was shown is
        # unchanged (coerce_edit strips, and a stripped string would read as an edit).
        raw = typed[-1].replace("\r\n", "\n")
        if row.kind != "checkbox" and raw == _shown(row.old).replace("\r\n", "\n"):
            continue
        if row.old is None:
            if raw.strip():
                changes[row.name] = _read_new(raw.strip())
            continue
        try:
            value = coerce_edit(field=row.name, old=row.old, raw=raw)
        except ValidationError as exc:
            errors[row.name] = " ".join(exc.message_dict.get(row.name, exc.messages))
            continue
        if value != row.old or type(value) is not type(row.old):
            changes[row.name] = value
    return changes, errors


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        label="Resolution",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how the case goes on."},
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    minutes = forms.DecimalField(
        label="Minutes spent by hand",
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )

    def __init__(self, data=None, *, escalation: Escalation):
        stepped = has_step(escalation)
        super().__init__(data, initial={"resolution": suggested_resolution(escalation)})
        self.escalation = escalation
        self.fields["resolution"].choices = [
            (value, label) for value, label in R.choices if stepped or value not in NEEDS_A_STEP
        ]
        self.case_rows = case_fields(
            escalation.run.data,
            culprits=list(bound_values(escalation)),
            posted=self.data if self.is_bound else None,
        )
        self.changes: dict[str, Any] = {}

    def clean(self):
        data = super().clean()
        self.changes, errors = case_changes(self.case_rows, self.data)
        for row in self.case_rows:
            row.error = errors.get(row.name, "")
        if errors:
            raise ValidationError(DATA_ERRORS)
        if self.changes and data.get("resolution") not in (None, R.RESUMED):
            self.add_error("resolution", EDITS_NEED_RESUME)
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        """Put a service's ValidationError next to the field it names."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        rows = {row.name: row for row in self.case_rows}
        for name, messages in error.message_dict.items():
            if name in self.fields:
                self.add_error(name, messages)
            elif name in rows:
                rows[name].error = " ".join(messages)
                self.add_error(None, DATA_ERRORS)
            else:
                self.add_error(None, messages)

    def choices_with_help(self):
        """(value, label, help, checked) for the radio list."""
        current = self.data.get("resolution") if self.is_bound else self.initial.get("resolution")
        return [
            (value, label, RESOLUTION_HELP[value], value == current)
            for value, label in self.fields["resolution"].choices
        ]


def suggested_resolution(escalation: Escalation) -> str:
    """What the panel preselects, after the reason (see selectors.SUGGESTIONS for the words)."""
    if not has_step(escalation):
        return R.DONE_BY_HAND
    if escalation.reason in (Escalation.Reason.RETRIES_EXHAUSTED, Escalation.Reason.TIMEOUT):
        return R.RETRIED
    return R.RESUMED
