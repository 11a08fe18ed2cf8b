import json
import time

import django_rq
import pytest
import rq
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker(redis_conn):
    w = rq.Worker([django_rq.get_queue("default")], connection=redis_conn)
    w.register_birth()
    yield w
    w.register_death()


def test_healthz_is_ok_with_a_worker_registered(client, worker):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["workers"] == {"ok": True, "count": 1}


def test_healthz_is_degraded_without_a_worker(client, redis_conn):
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["workers"] == {"ok": False, "count": 0}
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True


@override_settings(REDIS_URL="redis://:hunter2-secret@127.0.0.1:1/0")
def test_healthz_reports_redis_down_quickly_without_leaking_the_url(client):
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["workers"]["ok"] is False
    assert body["database"]["ok"] is True
    assert "hunter2" not in json.dumps(body)
    assert "127.0.0.1" not in json.dumps(body)
    assert elapsed < 3


@override_settings(REDIS_URL="not-a-redis-url")
def test_healthz_reports_a_malformed_redis_url_as_down(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["redis"] == {"ok": False, "error": "ValueError"}


def test_healthz_needs_no_sign_in_and_is_not_cached(client, worker):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405
