from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..conformance import check_trace
from ..forms import IdealPathForm
from ..models import EventLog
from ..selectors import case_traces, conformance_of, discovery_of, log_of
from ..services import deviation_accept, ideal_paths_set
from ..services.runs_log import workflow_steps_path
from .common import get_editable_map, get_map, int_param, map_context

VARIANT_ROWS = 30
VARIANT_CHOICES = 25


def _ready_log(process_map, request) -> EventLog | None:
    log = log_of(process_map, int_param(request, "log"))
    return log if log is not None and log.status == EventLog.Status.READY else None


@require_http_methods(["GET", "POST"])
def conformance_page(request, slug: str):
    process_map = get_map(request, slug)
    log = _ready_log(process_map, request)
    variants = discovery_of(log)["variants"][:VARIANT_CHOICES] if log else []
    form = IdealPathForm(request.POST or None, user=request.user, variants=variants)
    if request.method == "POST":
        process_map = get_editable_map(request, slug)
        if form.is_valid():
            data = form.cleaned_data
            if data["source"] == IdealPathForm.SOURCE_WORKFLOW:
                workflow = data["workflow"]
                # The runs log of a workflow starts and ends with Handoff's own activities.
                is_runs_map = process_map.workflow_id == workflow.pk
                paths = [workflow_steps_path(workflow, with_bounds=is_runs_map)]
                source = f"steps of {workflow.name}"
            else:
                paths = data["paths"]
                source = dict(form.fields["source"].choices)[data["source"]].lower()
            ideal_paths_set(process_map=process_map, paths=paths, source=source)
            messages.success(request, "Ideal path saved.")
            return redirect(reverse("discovery:conformance", args=[process_map.slug]))
    if request.method == "GET" and process_map.ideal_paths:
        form.initial["activities"] = "\n".join(process_map.ideal_paths[0])
    report = conformance_of(log, process_map) if log else None
    return render(
        request,
        "discovery/conformance.html",
        map_context(
            request,
            process_map,
            log=log,
            form=form,
            report=report,
            variant_rows=report.variants[:VARIANT_ROWS] if report else [],
        ),
    )


@require_POST
def deviation_toggle(request, slug: str):
    process_map = get_editable_map(request, slug)
    deviation = request.POST.get("deviation", "").strip()
    if deviation:
        deviation_accept(
            process_map=process_map,
            deviation=deviation,
            accepted=request.POST.get("accepted") == "1",
        )
    return redirect(reverse("discovery:conformance", args=[process_map.slug]))


class _Line:
    def write(self, value: str) -> str:
        return value


@require_GET
def conformance_cases(request, slug: str):
    """Every case: conforms, accepted, first deviation, skipped, extra, repeated (CSV)."""
    process_map = get_map(request, slug)
    log = _ready_log(process_map, request)
    if log is None or not process_map.ideal_paths:
        raise Http404("State an ideal path and import a log first.")
    allowlist = set(process_map.accepted_deviations)

    def rows():
        writer = csv.writer(_Line())
        yield writer.writerow(
            ["case", "conforms", "accepted", "first_deviation", "skipped", "extra", "repeated"]
        )
        for trace, cases in case_traces(log).items():
            check = check_trace(trace, process_map.ideal_paths)
            fields = [
                "yes" if check.conforms else "no",
                "yes" if check.accepted(allowlist) else "no",
                check.first_deviation,
                "; ".join(check.skipped),
                "; ".join(check.extra),
                "; ".join(check.repeated),
            ]
            for case_id in cases:
                yield writer.writerow([case_id, *fields])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{process_map.slug}-conformance-log{log.pk}.csv"'
    )
    return response
