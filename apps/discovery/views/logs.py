from __future__ import annotations

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.selectors import visible_workflows

from ..export import csv_lines, xes_lines
from ..forms import ColumnMappingForm, UploadForm
from ..models import EventLog
from ..parsing import LogFormatError
from ..selectors import log_preview
from ..services import (
    ImportRefused,
    event_log_delete,
    event_log_queue,
    event_log_upload,
)
from ..services.runs_log import workflow_runs_log
from .common import get_editable_map, get_log, get_map, map_context


@require_http_methods(["GET", "POST"])
def log_upload(request, slug: str):
    process_map = get_editable_map(request, slug)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            log = event_log_upload(
                process_map=process_map,
                source=upload.file,
                filename=upload.name,
                name=form.cleaned_data["name"],
                user=request.user,
            )
        except ImportRefused as exc:
            form.add_error("file", str(exc))
        else:
            if log.status == EventLog.Status.MAPPING:
                return redirect("discovery:log_mapping", process_map.slug, log.pk)
            return redirect(log)
    return render(
        request, "discovery/log_upload.html", map_context(request, process_map, form=form)
    )


@require_http_methods(["GET", "POST"])
def log_mapping(request, slug: str, log_id: int):
    """Choose the case, activity, timestamp and resource columns of a CSV from a preview."""
    process_map = get_editable_map(request, slug)
    log = get_log(process_map, log_id)
    if log.status not in (EventLog.Status.MAPPING, EventLog.Status.FAILED):
        return redirect(log)
    try:
        preview = log_preview(log)
    except (LogFormatError, ImportRefused) as exc:
        preview, error = None, str(exc)
    else:
        error = ""
    if preview is None:
        return render(
            request,
            "discovery/log_mapping.html",
            map_context(request, process_map, log=log, error=error or "Not a CSV log."),
        )
    form = ColumnMappingForm(request.POST or None, preview=preview)
    if request.method == "POST" and form.is_valid():
        try:
            event_log_queue(log=log, mapping=form.mapping())
        except ImportRefused as exc:
            messages.error(request, str(exc))
        return redirect(log)
    return render(
        request,
        "discovery/log_mapping.html",
        map_context(request, process_map, log=log, preview=preview, form=form),
    )


@require_GET
def log_detail(request, slug: str, log_id: int):
    """The import's progress; htmx polls the fragment until the log is ready or failed."""
    process_map = get_map(request, slug)
    log = get_log(process_map, log_id)
    template = "discovery/log_detail.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, map_context(request, process_map, log=log))


@require_POST
def log_retry(request, slug: str, log_id: int):
    process_map = get_editable_map(request, slug)
    log = get_log(process_map, log_id)
    if log.format == EventLog.Format.CSV and log.status == EventLog.Status.FAILED:
        return redirect("discovery:log_mapping", process_map.slug, log.pk)  # other columns?
    try:
        event_log_queue(log=log)
    except ImportRefused as exc:
        messages.error(request, str(exc))
    return redirect(log)


@require_POST
def log_delete(request, slug: str, log_id: int):
    process_map = get_editable_map(request, slug)
    log = get_log(process_map, log_id)
    event_log_delete(log=log)
    messages.success(request, f"Event log “{log.name}” deleted.")
    return redirect(process_map)


@require_GET
def log_export(request, slug: str, log_id: int, fmt: str):
    process_map = get_map(request, slug)
    log = get_log(process_map, log_id)
    if log.status != EventLog.Status.READY:
        raise Http404("The log is not imported yet.")
    formats = {
        "csv": (csv_lines, "text/csv; charset=utf-8"),
        "xes": (xes_lines, "application/xml; charset=utf-8"),
    }
    if fmt not in formats:
        raise Http404("Export as .csv or .xes.")
    lines, content_type = formats[fmt]
    response = StreamingHttpResponse(lines(log), content_type=content_type)
    filename = f"{process_map.slug}-{slugify(log.name) or log.pk}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_POST
def workflow_runs(request, workflow_slug: str):
    """Open a workflow's own runs as an event log (made in the background)."""
    workflow = visible_workflows(request.user).filter(slug=workflow_slug).first()
    if workflow is None:
        raise Http404("No such workflow.")
    log = workflow_runs_log(workflow=workflow, user=request.user)
    return redirect(log)


@require_GET
def workflow_runs_pick(request):
    workflows = visible_workflows(request.user).select_related("team").order_by("name")
    return render(request, "discovery/workflow_runs.html", {"workflows": workflows})
