"""Refuse API bodies the views cannot take (oversized, unsized) in JSON, before a view runs."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
LENGTH_REQUIRED = "Send the body with a Content-Length header; chunked bodies are not supported."


def _unread_chunked_body(request: HttpRequest) -> bool:
    return (
        "wsgi.input" in request.META
        and not request.META.get("CONTENT_LENGTH")
        and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def body_too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(
        {"detail": f"The request body is larger than the limit of {limit} bytes.", "limit": limit},
        status=413,
    )


class ApiBodyLimitMiddleware:
    """For /api/ paths: 413 over DATA_UPLOAD_MAX_MEMORY_SIZE, 400 for a malformed Content-Length,
    411 for a chunked body under WSGI.

    Django raises RequestDataTooBig itself, but as a SuspiciousOperation (an HTML 400, and an
    error logged as if it were an attack). The Content-Length check refuses an announced
    oversize body without reading it; reading ``request.body`` here catches the bodies that do
    not announce their size (chunked, on ASGI), which Django stops reading past the limit.
    Under WSGI Django reads a body without Content-Length as empty, so a chunked request would
    otherwise be told its (unread) body is not a JSON object.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        announced = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(announced)
        except ValueError:
            length = -1
        if length < 0:
            return JsonResponse({"detail": "The Content-Length header is malformed."}, status=400)
        if _unread_chunked_body(request):
            return JsonResponse({"detail": LENGTH_REQUIRED}, status=411)
        if limit is not None and length > limit:
            return body_too_large()
        try:
            request.body  # noqa: B018 - reads (and caches) the body under Django's size limit
        except RequestDataTooBig:
            return body_too_large()
        return None
