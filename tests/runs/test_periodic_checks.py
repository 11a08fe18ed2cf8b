"""The scheduler runs the checks other apps register, each at its own interval, and one that
fails does not stop the others."""

from apps.runs import hooks
from apps.runs.management.commands.scheduler import Command


def test_registered_checks_run_at_their_interval_and_a_failing_one_does_not_stop_the_rest(
    monkeypatch,
):
    monkeypatch.setattr(hooks, "_periodic_checks", {})
    calls = []

    def broken():
        calls.append("broken")
        raise RuntimeError("boom")

    hooks.register_periodic_check("broken", broken, every_s=0)
    hooks.register_periodic_check("often", lambda: calls.append("often"), every_s=0)
    hooks.register_periodic_check("rarely", lambda: calls.append("rarely"), every_s=3600)
    next_check: dict[str, float] = {}
    Command._run_periodic_checks(next_check)
    Command._run_periodic_checks(next_check)
    assert calls == ["broken", "often", "rarely", "broken", "often"]
