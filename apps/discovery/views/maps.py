from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ..forms import ProcessMapForm
from ..mining import RARE_SHARE_DEFAULT
from ..models import EventLog
from ..selectors import (
    RARE_SHARES,
    can_create_maps,
    cases_with_activity,
    cases_with_edge,
    log_of,
    logs_of,
    map_page,
    observations_by_activity,
    process_maps_for,
)
from ..services import process_map_create, process_map_update
from .common import get_editable_map, get_log, get_map, int_param, map_context


@require_GET
def map_list(request):
    maps = process_maps_for(request.user).order_by("name")
    context = {"maps": maps, "can_create": can_create_maps(request.user)}
    return render(request, "discovery/map_list.html", context)


@require_http_methods(["GET", "POST"])
def map_create(request):
    if not can_create_maps(request.user):
        raise PermissionDenied("Only implementers create process maps.")
    form = ProcessMapForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        process_map = process_map_create(**form.cleaned_data)
        messages.success(request, f"Process map “{process_map.name}” created.")
        return redirect(process_map)
    return render(request, "discovery/map_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
def map_edit(request, slug: str):
    process_map = get_editable_map(request, slug)
    form = ProcessMapForm(request.POST or None, instance=process_map, user=request.user)
    if request.method == "POST" and form.is_valid():
        # The form validates; the service writes.
        process_map.refresh_from_db()
        process_map_update(process_map=process_map, **form.cleaned_data)
        messages.success(request, "Saved.")
        return redirect(process_map)
    return render(request, "discovery/map_form.html", map_context(request, process_map, form=form))


def _rare_share(request) -> float:
    try:
        share = float(request.GET.get("rare", RARE_SHARE_DEFAULT))
    except ValueError:
        return RARE_SHARE_DEFAULT
    return share if 0 < share < 1 else RARE_SHARE_DEFAULT


@require_GET
def map_detail(request, slug: str):
    process_map = get_map(request, slug)
    log = log_of(process_map, int_param(request, "log"))
    pinned = observations_by_activity(process_map)
    page = None
    if log is not None and log.status == EventLog.Status.READY:
        page = map_page(log=log, pinned=pinned, rare_share=_rare_share(request))
    return render(
        request,
        "discovery/map_detail.html",
        map_context(
            request,
            process_map,
            log=log,
            logs=logs_of(process_map)[:20],
            page=page,
            pinned=sorted(pinned.items()),
            rare_shares=RARE_SHARES,
        ),
    )


@require_GET
def map_cases(request, slug: str):
    """The cases behind a node (?activity=) or an edge (?from=&to=) of the map."""
    process_map = get_map(request, slug)
    log_id = int_param(request, "log")
    log = get_log(process_map, log_id) if log_id is not None else log_of(process_map, None)
    behind = None
    if log is not None and log.status == EventLog.Status.READY:
        if "activity" in request.GET:
            behind = cases_with_activity(log, request.GET["activity"])
        elif "from" in request.GET and "to" in request.GET:
            behind = cases_with_edge(log, request.GET["from"], request.GET["to"])
    context = {
        "process_map": process_map,
        "log": log,
        "behind": behind,
        "pinned": _pinned_for(process_map, request.GET.get("activity")),
    }
    return render(request, "discovery/_cases.html", context)


def _pinned_for(process_map, activity):
    if activity is None:
        return []
    return list(process_map.observations.filter(activity=activity).select_related("observed_by"))
