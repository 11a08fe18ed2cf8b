"""GET /api/v1/process-maps/<slug>/discovery: the same JSON as ``manage.py discover --json``.

A second NinjaAPI beside the intake API, not a router on it: the intake API authenticates
callers with per-workflow bearer tokens, while discovery belongs to people who map processes,
who are signed in (session auth, ``django_auth``), and what they see is scoped by team like the
pages. Mounted before the intake API under the same /api/v1/ prefix; its OpenAPI schema is at
/api/v1/process-maps/openapi.json.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Path, Query
from ninja.errors import AuthenticationError, HttpError
from ninja.security import django_auth

from .models import EventLog, ProcessMap
from .selectors import discovery_payload, log_of, process_map_for

NO_MAP = "No process map {slug!r} that you may see."
NO_LOG = "The process map {slug!r} has no imported event log {which}."
SIGN_IN = "Sign in first: the discovery API uses your Handoff session."

discovery_api = NinjaAPI(
    title="Handoff discovery API",
    version="1",
    description=__doc__,
    urls_namespace="discovery_api",
    auth=django_auth,
    docs_url=None,
    openapi_url="/process-maps/openapi.json",
)


@discovery_api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return discovery_api.create_response(request, {"detail": SIGN_IN}, status=401)


@discovery_api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return discovery_api.create_response(request, {"detail": exc.message}, status=exc.status_code)


@discovery_api.get(
    "/process-maps/{slug}/discovery",
    url_name="discovery",
    operation_id="getDiscovery",
    response={200: dict, 401: dict, 404: dict},
    summary="Mining results of a process map's event log",
    description="Directly-follows graph (count, mean and median wait per edge), start and end "
    "activities, variants, the bottleneck, rework. The newest ready log unless ?log=<id>.",
    tags=["discovery"],
)
def discovery(
    request: HttpRequest,
    slug: str = Path(description="Slug of the process map."),
    log: int | None = Query(None, description="Id of one of the map's logs."),
):
    try:
        process_map = process_map_for(request.user, slug)
    except ProcessMap.DoesNotExist:
        raise HttpError(404, NO_MAP.format(slug=slug)) from None
    event_log = log_of(process_map, log)
    if event_log is None or event_log.status != EventLog.Status.READY:
        which = f"with id {log} ready" if log is not None else "ready yet"
        raise HttpError(404, NO_LOG.format(slug=slug, which=which))
    return discovery_payload(event_log)
