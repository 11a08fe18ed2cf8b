"""The inbox pages: the list with its tabs, the detail panel beside it, the nav badge.

One page, three regions: the list (``#inbox-list``), the panel (``#inbox-panel``) and the flash
line of bulk actions (``#inbox-flash``). A plain request gets the whole page; an htmx request
gets the region it targets, so a link to any state of the inbox (filters, sort, page, an open
case) works, and so do Back and a reload.
"""

from __future__ import annotations

from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from ..filters import InboxFilter
from ..forms import AssignForm, CommentForm, ResolveForm
from ..models import Escalation
from ..permissions import act_refusal, can_act_on_cases
from ..selectors import (
    MINE,
    TABS,
    UNASSIGNED,
    escalation_detail,
    escalation_list,
    inbox_badge,
    inbox_counts,
    inbox_tab,
    teammates,
)
from ..tables import InboxTable

TEMPLATE = "escalations/inbox.html"
LIST, PANEL, FLASH = "inbox-list", "inbox-panel", "inbox-flash"
PER_PAGE, MAX_PER_PAGE = InboxTable._meta.per_page, 100


def region(request: HttpRequest) -> str | None:
    """The region an htmx request asks for; None for a full page (a history restore is one)."""
    htmx = request.htmx
    if not htmx or htmx.history_restore_request:
        return None
    return htmx.target or ""


def respond(request, context: dict, *, part: str | None = None, status: int = 200) -> HttpResponse:
    name = f"{TEMPLATE}#{part}" if part else TEMPLATE
    if part == "list":
        # The filter form, outside the list, learns the tab and sort the list is on.
        context = {**context, "oob": True}
    response = render(request, name, context, status=status)
    # The same URL answers a page or a fragment: caches and Back must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def querystring(request, **changes) -> str:
    query = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


def list_context(request, *, active_pk: int | None = None) -> dict:
    """The list region: tabs with counts, filters, the table of one page."""
    user, now = request.user, timezone.now()
    filterset = InboxFilter(request.GET, queryset=escalation_list(user=user), request=request)
    counts = inbox_counts(filterset.without_status(), user=user, now=now)
    tab = request.GET.get("tab")
    if tab not in TABS:
        tab = MINE if counts[MINE] else UNASSIGNED
    # Someone who may act on no case gets neither the bulk bar nor the boxes that feed it.
    can_act = can_act_on_cases(user)
    table = InboxTable(
        inbox_tab(filterset.qs, tab=tab, user=user, now=now),
        user=user,
        csrf_token=get_token(request),
        querystring=request.GET.urlencode(),
        active_pk=active_pk,
        now=now,
        exclude=() if can_act else ("select",),
    )
    RequestConfig(request, paginate=False).configure(table)
    _paginate(request, table)
    tabs = [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "active": key == tab,
            "query": querystring(request, tab=key, page=None),
        }
        for key, label in TABS.items()
    ]
    return {
        "filter": filterset,
        "table": table,
        "tab": tab,
        "tabs": tabs,
        "people": teammates(user=user) if can_act else [],
        "query": request.GET.urlencode(),
        "can_act_on_list": can_act,
    }


def _paginate(request, table: InboxTable) -> None:
    try:
        per_page = min(max(int(request.GET.get("per_page", PER_PAGE)), 1), MAX_PER_PAGE)
    except ValueError:
        per_page = PER_PAGE
    try:
        table.paginate(page=request.GET.get("page", 1), per_page=per_page)
    except PageNotAnInteger:
        table.paginate(page=1, per_page=per_page)
    except EmptyPage:
        table.paginate(page=table.paginator.num_pages, per_page=per_page)


def panel_context(request, *, pk: int, **extra) -> dict:
    """The panel region for one escalation; 404 for one of a team the user is not in."""
    try:
        detail = escalation_detail(user=request.user, pk=pk)
    except Escalation.DoesNotExist:
        raise Http404("No such escalation.") from None
    escalation = detail.escalation
    refusal = act_refusal(request.user, escalation.team)
    context = {
        "detail": detail,
        "escalation": escalation,
        "query": request.GET.urlencode(),
        "is_mine": escalation.assignee_id == request.user.pk,
        # Why the user may only read this case (None if they may act): the buttons go with it.
        "can_act": refusal is None,
        "read_only_reason": refusal,
        "can_resolve": refusal is None
        and (
            escalation.status == Escalation.Status.OPEN
            or (
                escalation.status == Escalation.Status.CLAIMED
                and escalation.assignee_id == request.user.pk
            )
        ),
        "assign_form": AssignForm(people=escalation.team.members.filter(is_active=True)),
        "comment_form": CommentForm(),
        "resolve_form": ResolveForm(escalation=escalation),
    }
    context.update(extra)
    return context


@require_GET
def inbox_list(request):
    part = region(request)
    if part == PANEL:  # closing the panel
        return respond(request, {"escalation": None}, part="panel")
    context = list_context(request)
    if part is not None:
        return respond(request, context, part="list")
    return respond(request, context)


@require_GET
def inbox_detail(request, pk: int):
    part = region(request)
    if part == LIST:  # the list refreshing itself while a case is open
        if not escalation_list(user=request.user).filter(pk=pk).exists():
            raise Http404("No such escalation.")
        return respond(request, list_context(request, active_pk=pk), part="list")
    if part is not None:
        return respond(request, panel_context(request, pk=pk), part="panel")
    context = panel_context(request, pk=pk)
    context.update(list_context(request, active_pk=pk))
    return respond(request, context)


@require_GET
def inbox_badge_view(request):
    return render(request, "escalations/_nav_badge.html", {"badge": inbox_badge(user=request.user)})
