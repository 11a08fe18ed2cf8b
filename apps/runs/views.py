import json
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from .filters import RunFilter
from .models import Run
from .selectors import run_detail as select_run_detail
from .selectors import run_list as select_run_list
from .selectors import system_health
from .tables import RunTable


@require_GET
def run_list(request):
    filterset = RunFilter(request.GET, queryset=select_run_list(user=request.user), request=request)
    table = RunTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": RunTable.Meta.per_page}).configure(table)
    return render(request, "runs/run_list.html", {"filter": filterset, "table": table})


@require_GET
def run_detail(request, pk: int):
    try:
        detail = select_run_detail(user=request.user, pk=pk)
    except Run.DoesNotExist:
        raise Http404("No such run.") from None
    return render(
        request,
        "runs/run_detail.html",
        {"detail": detail, "run": detail.run, "case_fields": case_fields(detail.run.data)},
    )


def case_fields(data: Any) -> list[tuple[str, Any, bool]]:
    """Case data as (key, value, is_json) rows: nested values are shown as indented JSON."""
    if not isinstance(data, dict):
        return [("(data)", json.dumps(data, indent=2, ensure_ascii=False), True)]
    rows = []
    for key, value in data.items():
        if isinstance(value, dict | list):
            rows.append((key, json.dumps(value, indent=2, ensure_ascii=False), True))
        elif value is None or isinstance(value, bool):
            rows.append((key, json.dumps(value), False))
        else:
            rows.append((key, value, False))
    return rows


@login_not_required
@require_GET
@never_cache
def healthz(request):
    report = system_health()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
