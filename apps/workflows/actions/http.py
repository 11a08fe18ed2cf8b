"""``http.request``: call another system's HTTP API with data from the case."""

from __future__ import annotations

import string
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.utils import timezone

from . import expressions
from .errors import PermanentError, TransientError
from .registry import ActionContext, ActionResult, expression_map_errors, register

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
_session = requests.Session()


def _url_fields(url: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(url) if name]


def validate(config: dict[str, Any]) -> list[str]:
    errors = []
    method = str(config.get("method", "POST")).upper()
    if method not in METHODS:
        errors.append(f"`method` must be one of {', '.join(sorted(METHODS))}, not {method!r}.")
    url = config.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in {"http", "https"}:
        errors.append("`url` must be an http:// or https:// address.")
    else:
        try:
            fields = _url_fields(url)
        except ValueError as exc:
            errors.append(f"`url` has a broken {{field}} placeholder: {exc}.")
        else:
            errors += [
                f"`url` placeholder {{{f}}} must be a plain field name."
                for f in fields
                if not f.isidentifier()
            ]
    headers = config.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        errors.append("`headers` must be an object of header: text.")
    if "body" in config:
        errors += expression_map_errors(config["body"], "body")
    response = config.get("response", {})
    if not isinstance(response, dict) or not all(isinstance(v, str) for v in response.values()):
        errors.append("`response` must be an object of case field: path in the JSON answer.")
    timeout = config.get("timeout_s")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        errors.append("`timeout_s` must be a positive number of seconds.")
    return errors


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def _dig(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            raise PermanentError(
                f"The answer has no `{path}` (missing at `{part}`).", code="response_shape"
            )
    return document


def _build_url(template: str, data: dict[str, Any]) -> str:
    values = {}
    for name in _url_fields(template):
        if name not in data:
            raise PermanentError(
                f"The URL needs the field {name!r}, which the case does not have.",
                code="missing_field",
            )
        values[name] = quote(str(data[name]), safe="")
    return template.format(**values)


def target(config: dict[str, Any]) -> str:
    return urlsplit(str(config.get("url", ""))).netloc


@register("http.request", label="Call an HTTP API", validate=validate, target=target)
def http_request(ctx: ActionContext) -> ActionResult:
    config = ctx.config
    method = str(config.get("method", "POST")).upper()
    url = _build_url(config["url"], ctx.data)
    body = {
        name: expressions.evaluate(expr, ctx.data) for name, expr in config.get("body", {}).items()
    }
    headers = {**config.get("headers", {}), "Idempotency-Key": ctx.idempotency_key}
    timeout = min(float(config.get("timeout_s", ctx.timeout_s)), ctx.timeout_s)
    response = _session.request(
        method,
        url,
        json=body if method != "GET" else None,
        headers=headers,
        timeout=timeout,
    )
    detail = {
        "request": {"method": method, "url": url, "body": body},
        "response": {"status": response.status_code, "body": response.text[:2000]},
    }
    status = response.status_code
    if status == 429 or status >= 500:
        raise TransientError(
            f"{urlsplit(url).netloc} answered {status} {response.reason}.",
            code=f"http_{status}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            detail=detail,
        )
    if status >= 400:
        raise PermanentError(
            f"{urlsplit(url).netloc} refused the request: {status} {response.reason}.",
            code=f"http_{status}",
            detail=detail,
        )
    updates: dict[str, Any] = {}
    mapping = config.get("response", {})
    if mapping:
        try:
            document = response.json()
        except ValueError as exc:
            raise PermanentError(
                f"{urlsplit(url).netloc} answered {status} but not with JSON.",
                code="response_not_json",
                detail=detail,
            ) from exc
        updates = {field: _dig(document, path) for field, path in mapping.items()}
    return ActionResult(updates=updates, detail=detail)
