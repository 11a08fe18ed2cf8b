from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from .filters import EscalationFilter
from .selectors import escalation_list as select_escalation_list
from .tables import EscalationTable


@require_GET
def escalation_list(request):
    filterset = EscalationFilter(
        request.GET, queryset=select_escalation_list(user=request.user), request=request
    )
    table = EscalationTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": EscalationTable.Meta.per_page}).configure(table)
    return render(
        request, "escalations/escalation_list.html", {"filter": filterset, "table": table}
    )
