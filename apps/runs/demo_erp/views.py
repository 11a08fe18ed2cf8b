"""A fake ERP for the demo: books supplier invoices, and fails the way real ones do.

Workers call it, not people, so its views need no login and no CSRF token. How often it fails
is read from the environment at request time (so a running demo can be made worse or better
without a restart); a ``scenario`` field in the body forces one outcome, so the demo can
guarantee every kind of failure.

It honours ``Idempotency-Key`` like a strict API (Stripe's rules, the IETF draft): the first
final answer for a key is kept; the same key with the same body gets that answer again, the same
key with a different body is refused with 422. "Busy" answers are not kept: they are worth
retrying. Nor is the answer to a forced ``slow`` call: the demo uses it to show a step that
times out on every attempt.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_not_required
from django.core.cache import caches
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

# Environment variable: default. Rates are probabilities (0 to 1) for a body without scenario.
SETTINGS = {
    "HANDOFF_DEMO_ERP_FAIL_RATE": 0.2,
    "HANDOFF_DEMO_ERP_REJECT_RATE": 0.05,
    "HANDOFF_DEMO_ERP_SLOW_RATE": 0.05,
    "HANDOFF_DEMO_ERP_SLOW_SECONDS": 6.0,
}
SCENARIOS = ("ok", "unavailable", "reject", "slow", "flaky")
REJECTIONS = (
    "Vendor is blocked for payment in the ERP master data.",
    "The posting period of the invoice date is closed.",
    "Duplicate invoice: this vendor already has an invoice with this number.",
)
FLAKY_CACHE_TTL_S = 24 * 3600
KEY_REUSED = (
    "Idempotency-Key {key} was already used with a different request body. Use a new key for "
    "a different request."
)


def _memory():
    return caches["demo_erp"]


class Misconfigured(Exception):
    pass


def _setting(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return SETTINGS[name]
    try:
        value = float(raw)
    except ValueError:
        raise Misconfigured(f"The environment variable {name} is malformed: {raw!r}.") from None
    if value < 0 or (name.endswith("_RATE") and value > 1):
        raise Misconfigured(f"The environment variable {name} is out of range: {raw!r}.")
    return value


def _settings() -> dict[str, float]:
    return {name: _setting(name) for name in SETTINGS}


def erp_id_for(key: str) -> str:
    """The ERP id for an idempotency key: derived from the key, so it survives restarts."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"ERP-{int(digest[:12], 16) % 10**8:08d}"


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unavailable() -> JsonResponse:
    return _error(503, "The ERP is busy; try again later.", Retry_After="1")


def _invoice_problem(invoice: dict) -> str | None:
    for field in ("invoice_number", "vendor", "currency"):
        if not isinstance(invoice.get(field), str) or not invoice[field].strip():
            return f"`{field}` is required text."
    try:
        amount = Decimal(str(invoice.get("amount")))
    except (InvalidOperation, ValueError):
        return "`amount` must be a number."
    if not amount.is_finite() or amount <= 0:
        return "`amount` must be a positive number."
    if len(invoice["currency"]) != 3 or not invoice["currency"].isalpha():
        return "`currency` must be a three-letter ISO code, e.g. EUR."
    return None


@csrf_exempt
@login_not_required
@require_POST
def invoice_create(request: HttpRequest) -> JsonResponse:
    try:
        invoice = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "The body must be a JSON object.")
    if not isinstance(invoice, dict):
        return _error(400, "The body must be a JSON object.")
    scenario = invoice.get("scenario") or None
    if scenario is not None and scenario not in SCENARIOS:
        return _error(400, f"Unknown scenario {scenario!r}; use one of {', '.join(SCENARIOS)}.")
    try:
        rates = _settings()
    except Misconfigured as exc:
        return _error(500, str(exc))
    key = request.headers.get("Idempotency-Key", "")
    digest = hashlib.sha256(request.body).hexdigest()
    if key and (kept := _memory().get(f"demo-erp:key:{key}")) is not None:
        if kept["digest"] != digest:
            return _error(422, KEY_REUSED.format(key=key))
        response = JsonResponse(kept["body"], status=kept["status"])
        response["Idempotent-Replayed"] = "true"
        return response
    response = _book(invoice=invoice, scenario=scenario, rates=rates, key=key)
    if key and response.status_code != 503 and scenario != "slow":
        # add, not set: of two racing first requests, the first answer kept wins.
        _memory().add(
            f"demo-erp:key:{key}",
            {
                "digest": digest,
                "status": response.status_code,
                "body": json.loads(response.content),
            },
        )
    return response


def _book(*, invoice: dict, scenario: str | None, rates: dict, key: str) -> JsonResponse:
    rolled = scenario is None

    if scenario == "slow" or (rolled and random.random() < rates["HANDOFF_DEMO_ERP_SLOW_RATE"]):
        time.sleep(rates["HANDOFF_DEMO_ERP_SLOW_SECONDS"])
    if scenario == "unavailable" or (
        rolled and random.random() < rates["HANDOFF_DEMO_ERP_FAIL_RATE"]
    ):
        return _unavailable()
    # Busy on the first call for a key, fine on the next: a retry that works, every time.
    if scenario == "flaky" and _memory().add(
        f"demo-erp:flaky:{key or invoice.get('invoice_number')}", True, FLAKY_CACHE_TTL_S
    ):
        return _unavailable()
    if scenario == "reject" or (rolled and random.random() < rates["HANDOFF_DEMO_ERP_REJECT_RATE"]):
        return _error(422, random.choice(REJECTIONS))
    if problem := _invoice_problem(invoice):
        return _error(422, problem)

    erp_id = erp_id_for(key) if key else f"ERP-{random.randrange(10**8):08d}"
    return JsonResponse(
        {"id": erp_id, "status": "booked", "invoice_number": invoice["invoice_number"]},
        status=201,
    )


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    try:
        rates = _settings()
    except Misconfigured as exc:
        return JsonResponse({"ok": False, "error": str(exc)}, status=500)
    return JsonResponse({"ok": True, "settings": rates, "scenarios": list(SCENARIOS)})
