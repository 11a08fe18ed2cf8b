"""The inbox's actions: each a POST that calls one service.

An htmx request gets the updated panel back and ``HX-Trigger: escalationChanged`` (the list,
its tab counts and the nav badge refresh on it); a plain form post is redirected to the case
(post/redirect/get). When someone else got there first (EscalationConflict) the panel comes back
with the message and status 409; when the input does not hold (ValidationError) the form comes
back with the messages next to the fields and status 422; when the user may see the case but not
act on it (PermissionDenied, from the rule in ``permissions``) the panel comes back with the
reason and status 403. The inbox pages tell htmx to swap all three (see the htmx-config meta tag
in escalations/inbox.html). A case of a team the user may not see is 404, before anything else,
so a guessed id learns nothing.
"""

from __future__ import annotations

from collections import Counter
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..forms import AssignForm, BulkForm, CommentForm, ResolveForm
from ..models import Escalation
from ..permissions import require_can_act
from ..selectors import escalation_get, escalation_list, teammates
from ..services import (
    EscalationConflict,
    escalation_assign,
    escalation_claim,
    escalation_comment,
    escalation_release,
    escalation_resolve,
)
from .pages import list_context, panel_context, region, respond

CHANGED = "escalationChanged"
FORBIDDEN, CONFLICT, INVALID = 403, 409, 422


def _escalation_or_404(request, pk: int) -> Escalation:
    try:
        return escalation_get(user=request.user, pk=pk)
    except Escalation.DoesNotExist:
        raise Http404("No such escalation.") from None


def _detail_url(request, pk: int) -> str:
    url = reverse("inbox:detail", args=[pk])
    return f"{url}?{request.GET.urlencode()}" if request.GET else url


def _panel(request, pk: int, *, status: int = 200, changed: bool = False, **extra) -> HttpResponse:
    """The panel after an action: the region for htmx, the whole page for a plain post."""
    context = panel_context(request, pk=pk, **extra)
    if region(request) is None:
        context.update(list_context(request, active_pk=pk))
        response = respond(request, context, status=status)
    else:
        response = respond(request, context, part="panel", status=status)
    if changed:
        response["HX-Trigger"] = CHANGED
    return response


def _done(request, pk: int, notice: str) -> HttpResponse:
    if region(request) is None:
        messages.success(request, notice)
        return redirect(_detail_url(request, pk))
    return _panel(request, pk, changed=True, notice=notice)


def _conflict(request, pk: int, error: EscalationConflict) -> HttpResponse:
    # The escalation changed under the user: the list is stale too.
    return _panel(request, pk, status=CONFLICT, changed=True, conflict=str(error))


def _refused(request, pk: int, error: PermissionDenied) -> HttpResponse:
    return _panel(request, pk, status=FORBIDDEN, refused=str(error))


def acts_on_case(view):
    """Load the case for an action: 404 for one the user may not see; 403 with the reason, before
    any input is read, for one they may see but not act on. The services check again."""

    @wraps(view)
    def wrapper(request, pk: int):
        escalation = _escalation_or_404(request, pk)
        try:
            require_can_act(user=request.user, escalation=escalation)
            return view(request, pk, escalation)
        except PermissionDenied as error:
            return _refused(request, pk, error)

    return wrapper


@require_POST
@acts_on_case
def claim(request, pk: int, escalation: Escalation):
    try:
        escalation_claim(escalation=escalation, user=request.user)
    except EscalationConflict as error:
        return _conflict(request, pk, error)
    return _done(request, pk, "You have the case now.")


@require_POST
@acts_on_case
def release(request, pk: int, escalation: Escalation):
    try:
        escalation_release(escalation=escalation, user=request.user)
    except EscalationConflict as error:
        return _conflict(request, pk, error)
    return _done(request, pk, "Released: the case is back in the team's queue.")


@require_POST
@acts_on_case
def assign(request, pk: int, escalation: Escalation):
    form = AssignForm(request.POST, people=escalation.team.members.filter(is_active=True))
    if form.is_valid():
        assignee = form.cleaned_data["assignee"]
        try:
            escalation_assign(escalation=escalation, user=request.user, assignee=assignee)
        except EscalationConflict as error:
            return _conflict(request, pk, error)
        except ValidationError as error:
            form.add_error("assignee", error)
        else:
            name = assignee.get_full_name() or assignee.get_username()
            return _done(request, pk, f"Assigned to {name}.")
    return _panel(request, pk, status=INVALID, assign_form=form)


@require_POST
@acts_on_case
def comment(request, pk: int, escalation: Escalation):
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            escalation_comment(
                escalation=escalation, user=request.user, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            form.add_error("text", error)
        else:
            return _done(request, pk, "Comment posted.")
    return _panel(request, pk, status=INVALID, comment_form=form)


@require_POST
@acts_on_case
def resolve(request, pk: int, escalation: Escalation):
    form = ResolveForm(request.POST, escalation=escalation)
    if form.is_valid():
        resolution = form.cleaned_data["resolution"]
        try:
            resolved = escalation_resolve(
                escalation=escalation,
                user=request.user,
                resolution=resolution,
                note=form.cleaned_data["note"],
                minutes=form.cleaned_data["minutes"],
                changes=form.changes if resolution == Escalation.Resolution.RESUMED else None,
            )
        except EscalationConflict as error:
            return _conflict(request, pk, error)
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            return _done(request, pk, f"Resolved: {resolved.get_resolution_display()}.")
    return _panel(request, pk, status=INVALID, resolve_form=form)


# ---------------------------------------------------------------------------------------------
# Bulk


VERBS = {BulkForm.CLAIM: "claimed", BulkForm.ASSIGN: "assigned", BulkForm.RETRY: "sent to retry"}


def _phrase(message: str) -> str:
    """A service's refusal as it reads after a count: '1 already claimed by Ana at 10:42'."""
    message = message.rstrip(".")
    if message.startswith("Claimed by "):
        return "already c" + message[1:]
    if message.startswith("Already "):
        return "a" + message[1:]
    return f"refused: {message}"


def _apply(action: str, escalation: Escalation, *, user, assignee) -> None:
    if action == BulkForm.CLAIM:
        escalation_claim(escalation=escalation, user=user)
    elif action == BulkForm.ASSIGN:
        escalation_assign(escalation=escalation, user=user, assignee=assignee)
    else:
        escalation_resolve(
            escalation=escalation, user=user, resolution=Escalation.Resolution.RETRIED
        )


@require_POST
def bulk(request):
    """Claim, assign or retry the selected escalations, each through its service; one summary
    says what happened to all of them ('3 claimed; 1 already claimed by Ana at 10:42')."""
    form = BulkForm(request.POST, people=teammates(user=request.user))
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return _bulk_answer(
            request, summary=" ".join(errors), failures=[], level="error", status=INVALID
        )
    ids = set(form.cleaned_data["ids"])
    escalations = list(
        escalation_list(user=request.user)
        .filter(pk__in=ids)
        .select_related("step")
        .order_by("due_at", "pk")
    )
    if len(escalations) != len(ids):  # one the user may not see, or that does not exist
        raise Http404("No such escalation.")
    # All or nothing: a refusal for one case stops the batch before any case changes.
    try:
        for escalation in escalations:
            require_can_act(user=request.user, escalation=escalation)
    except PermissionDenied as error:
        return _bulk_answer(
            request, summary=str(error), failures=[], level="error", status=FORBIDDEN
        )
    action, assignee = form.cleaned_data["action"], form.cleaned_data["assignee"]
    done, failures = 0, []
    for escalation in escalations:
        try:
            _apply(action, escalation, user=request.user, assignee=assignee)
        except (EscalationConflict, ValidationError) as error:
            message = (
                str(error) if isinstance(error, EscalationConflict) else " ".join(error.messages)
            )
            failures.append((escalation, message))
        else:
            done += 1
    verb = VERBS[action]
    if action == BulkForm.ASSIGN and done:
        verb += f" to {assignee.get_full_name() or assignee.get_username()}"
    parts = [f"{done} {verb}"]
    for phrase, count in Counter(_phrase(m) for _, m in failures).items():
        parts.append(f"{count} {phrase}")
    level = "success" if not failures else ("warning" if done else "error")
    return _bulk_answer(
        request, summary="; ".join(parts) + ".", failures=failures, level=level, changed=True
    )


def _bulk_answer(
    request, *, summary: str, failures, level: str, status=200, changed=False
) -> HttpResponse:
    if region(request) is None and status == FORBIDDEN:
        # A refusal is not redirected: the list comes back with it and the status says so.
        context = {**list_context(request), "flash": {"summary": summary, "level": level}}
        return respond(request, context, status=status)
    if region(request) is None:
        getattr(messages, level)(request, summary)
        url = reverse("inbox:list")
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    failures = [(escalation.run.external_id, message) for escalation, message in failures]
    context = {"flash": {"summary": summary, "failures": failures, "level": level}}
    response = respond(request, context, part="flash", status=status)
    if changed:
        response["HX-Trigger"] = CHANGED
    return response
