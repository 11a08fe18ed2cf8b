"""What every discovery view needs: the map the user may see, and the right to change it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from ..models import EventLog, ProcessMap
from ..selectors import can_edit_map, process_map_for

CANNOT_EDIT = "Only implementers of the map's team change the map and import logs."


def get_map(request, slug: str) -> ProcessMap:
    try:
        return process_map_for(request.user, slug)
    except ProcessMap.DoesNotExist:
        raise Http404("No such process map.") from None


def get_editable_map(request, slug: str) -> ProcessMap:
    process_map = get_map(request, slug)
    if not can_edit_map(request.user, process_map):
        raise PermissionDenied(CANNOT_EDIT)
    return process_map


def get_log(process_map: ProcessMap, log_id: int) -> EventLog:
    log = process_map.logs.filter(pk=log_id).first()
    if log is None:
        raise Http404("No such event log.")
    return log


def int_param(request, name: str) -> int | None:
    try:
        return int(request.GET[name])
    except (KeyError, ValueError):
        return None


def map_context(request, process_map: ProcessMap, **extra) -> dict:
    """What the map's header needs, plus the page's own context."""
    return {
        "process_map": process_map,
        "can_edit": can_edit_map(request.user, process_map),
        **extra,
    }
