"""Admin actions that ask for a note first, then call a service per selected row.

Admin changes state only through the same services as the pages, so each refusal (a role, a
conflict, a move the engine does not allow) is reported per row instead of being gone around.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Why",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept on the case's timeline.",
    )


def refusal(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or exc.__class__.__name__


def ask_note_then(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    *,
    title: str,
    button: str,
    apply: Callable[[object, str], None],
    refused: tuple[type[Exception], ...] = (),
):
    """Render the note page; on its submit, ``apply(obj, note)`` to each selected object."""
    form = NoteForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done, failures = 0, []
        for obj in queryset:
            try:
                apply(obj, form.cleaned_data["note"])
            except (PermissionDenied, ValidationError, *refused) as exc:
                failures.append(f"{obj}: {refusal(exc)}")
            else:
                done += 1
        if done:
            modeladmin.message_user(request, f"{title}: {done} done.", messages.SUCCESS)
        for failure in failures:
            modeladmin.message_user(request, f"Not done — {failure}", messages.ERROR)
        return None
    return TemplateResponse(
        request,
        "admin/handoff_note_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "button": button,
            "objects": queryset,
            "form": form,
            "action": request.POST.get("action", ""),
            "checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )
