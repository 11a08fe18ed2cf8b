"""Test-only actions that misbehave about their time limit, and the app that registers them in
worker processes (started with ``DJANGO_SETTINGS_MODULE=tests.chaos.worker_settings``)."""

from __future__ import annotations

import signal
import time

from django.apps import AppConfig

from apps.workflows.actions import ActionResult, registry

WEDGED = "test.wedged"  # blocks where no alarm reaches it
SWALLOWS_EXCEPTION = "test.swallows_exception"  # `except Exception` around a long wait
RETURNS_LATE = "test.returns_late"  # never sees the alarm, and returns a result after the limit


def wedged(ctx):
    # Like C code that blocks signals: the alarm is ignored and the sleep is never interrupted.
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(3600)
    return ActionResult(updates={"wedged_returned": True})


def swallows_exception(ctx):
    try:
        time.sleep(ctx.timeout_s + 5)
    except Exception:  # noqa: BLE001 - the point of the action
        return ActionResult(updates={"swallowed": True})
    return ActionResult(updates={"slept": True})


def returns_late(ctx):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(ctx.timeout_s + float(ctx.config.get("overrun_s", 0.5)))
    return ActionResult(updates={"late_result": True})


ACTIONS = {
    WEDGED: wedged,
    SWALLOWS_EXCEPTION: swallows_exception,
    RETURNS_LATE: returns_late,
}


def register_test_actions() -> None:
    for key, fn in ACTIONS.items():
        registry.register(key, label=f"Test: {fn.__name__}", validate=lambda config: [])(fn)


def unregister_test_actions() -> None:
    for key in ACTIONS:
        registry._ACTIONS.pop(key, None)


class ChaosActionsConfig(AppConfig):
    name = "tests.chaos"
    label = "chaos_actions"

    def ready(self) -> None:
        register_test_actions()
