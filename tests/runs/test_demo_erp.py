"""The fake ERP the demo books invoices in (no database: it keeps nothing but a cache entry)."""

import time
import uuid

import pytest
from django.test import Client

from apps.runs.demo_erp.views import erp_id_for

URL = "/demo/erp/invoices"


@pytest.fixture(autouse=True)
def steady_erp(monkeypatch):
    """No random trouble unless a test asks for it."""
    for name in ("FAIL", "REJECT", "SLOW"):
        monkeypatch.setenv(f"HANDOFF_DEMO_ERP_{name}_RATE", "0")


def invoice(**fields):
    return {
        "invoice_number": "INV-2026-0001",
        "vendor": "ACME OFFICE SUPPLIES",
        "amount": 118.5,
        "currency": "EUR",
        **fields,
    }


def post(client, body, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(URL, body, content_type="application/json", headers=headers)


def test_booking_answers_201_with_an_erp_id_for_anonymous_callers(client):
    response = post(client, invoice(scenario="ok"))

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "booked"
    assert body["id"].startswith("ERP-")
    assert body["invoice_number"] == "INV-2026-0001"


def test_workers_need_no_csrf_token():
    response = post(Client(enforce_csrf_checks=True), invoice())

    assert response.status_code == 201


def test_same_idempotency_key_answers_the_same_id(client):
    key = f"handoff-run-{uuid.uuid4()}-post-to-erp"

    first = post(client, invoice(), key=key).json()["id"]
    second = post(client, invoice(), key=key).json()["id"]
    other = post(client, invoice(), key=f"{key}-other").json()["id"]

    assert first == second == erp_id_for(key)
    assert other != first


def test_same_key_and_body_replays_the_first_answer_even_a_refusal(client):
    key = f"strict-{uuid.uuid4()}"

    first = post(client, invoice(amount=-3), key=key)
    again = post(client, invoice(amount=-3), key=key)

    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_same_key_with_a_different_body_is_refused_like_a_strict_api(client):
    key = f"strict-{uuid.uuid4()}"
    assert post(client, invoice(amount=-3), key=key).status_code == 422

    response = post(client, invoice(amount=30), key=key)

    assert response.status_code == 422
    assert response.json() == {
        "error": f"Idempotency-Key {key} was already used with a different request body. "
        "Use a new key for a different request."
    }


def test_a_busy_answer_is_not_kept_so_a_retry_under_the_same_key_books(client):
    key = f"strict-{uuid.uuid4()}"

    assert post(client, invoice(scenario="unavailable"), key=key).status_code == 503
    assert post(client, invoice(), key=key).status_code == 201


def test_reject_scenario_answers_422_with_an_error(client):
    response = post(client, invoice(scenario="reject"))

    assert response.status_code == 422
    assert response.json()["error"]


def test_unavailable_scenario_answers_503_with_retry_after(client):
    response = post(client, invoice(scenario="unavailable"), key="k-unavailable")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "error" in response.json()


def test_slow_scenario_sleeps_the_configured_seconds_then_books(client, monkeypatch):
    monkeypatch.setenv("HANDOFF_DEMO_ERP_SLOW_SECONDS", "0.2")

    started = time.monotonic()
    response = post(client, invoice(scenario="slow"))

    assert time.monotonic() - started >= 0.2
    assert response.status_code == 201


def test_flaky_scenario_is_busy_once_per_key_then_books(client):
    key = f"flaky-{uuid.uuid4()}"

    first = post(client, invoice(scenario="flaky"), key=key)
    second = post(client, invoice(scenario="flaky"), key=key)

    assert first.status_code == 503
    assert first["Retry-After"] == "1"
    assert second.status_code == 201
    assert second.json()["id"] == erp_id_for(key)


@pytest.mark.parametrize(
    ("variable", "status"),
    [
        ("HANDOFF_DEMO_ERP_FAIL_RATE", 503),
        ("HANDOFF_DEMO_ERP_REJECT_RATE", 422),
    ],
)
def test_rates_from_the_environment_apply_to_bodies_without_scenario(
    client, monkeypatch, variable, status
):
    monkeypatch.setenv(variable, "1")

    assert post(client, invoice()).status_code == status
    assert post(client, invoice(scenario="ok")).status_code == 201


def test_slow_rate_from_the_environment_is_read_at_request_time(client, monkeypatch):
    monkeypatch.setenv("HANDOFF_DEMO_ERP_SLOW_RATE", "1")
    monkeypatch.setenv("HANDOFF_DEMO_ERP_SLOW_SECONDS", "0.1")

    started = time.monotonic()
    response = post(client, invoice())

    assert time.monotonic() - started >= 0.1
    assert response.status_code == 201


def test_an_invoice_without_a_positive_amount_is_refused_naming_the_field(client):
    response = post(client, invoice(amount=-3))

    assert response.status_code == 422
    assert response.json() == {"error": "`amount` must be a positive number."}


def test_an_unknown_scenario_is_a_bad_request(client):
    response = post(client, invoice(scenario="explode"))

    assert response.status_code == 400
    assert "explode" in response.json()["error"]


def test_a_malformed_rate_names_its_variable(client, monkeypatch):
    monkeypatch.setenv("HANDOFF_DEMO_ERP_FAIL_RATE", "lots")

    response = post(client, invoice())

    assert response.status_code == 500
    assert "HANDOFF_DEMO_ERP_FAIL_RATE" in response.json()["error"]


def test_invoices_accept_only_post(client):
    assert client.get(URL).status_code == 405


def test_health_answers_anonymously_with_the_settings(client, monkeypatch):
    monkeypatch.setenv("HANDOFF_DEMO_ERP_SLOW_SECONDS", "2.5")

    response = client.get("/demo/erp/health")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["settings"]["HANDOFF_DEMO_ERP_SLOW_SECONDS"] == 2.5
