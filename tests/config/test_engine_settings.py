"""Engine settings that cannot work together stop start-up with a sentence naming them."""

import os
import subprocess
import sys

from django.conf import settings


def manage_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_heartbeat_of_half_the_lease_or_more_is_refused_at_start_up():
    result = manage_check(HANDOFF_LEASE_SECONDS="30", HANDOFF_HEARTBEAT_SECONDS="15")

    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Handoff cannot start: HANDOFF_HEARTBEAT_SECONDS (15) must be under half of "
        "HANDOFF_LEASE_SECONDS (30), so that a lease survives a missed renewal."
    )


def test_a_heartbeat_under_half_the_lease_starts():
    result = manage_check(HANDOFF_LEASE_SECONDS="30", HANDOFF_HEARTBEAT_SECONDS="14.9")

    assert result.returncode == 0, result.stderr


def test_a_circuit_release_batch_under_one_is_refused_at_start_up():
    result = manage_check(HANDOFF_CIRCUIT_RELEASE_BATCH="0")

    assert result.returncode != 0
    assert "HANDOFF_CIRCUIT_RELEASE_BATCH (0) must be at least 1." in result.stderr
