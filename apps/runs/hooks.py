"""How the engine hands a case to a person without knowing who keeps the inbox.

``runs`` never imports the apps built on it. The escalations app registers a ``Handover`` in its
``AppConfig.ready()``; the engine calls it inside its own transaction when a case needs a
person, and the reconciler asks it which handed-over runs have nobody's attention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured


class Handover(Protocol):
    def open(
        self,
        *,
        run,
        reason: str,
        summary: str,
        step=None,
        attempt=None,
        detail: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Any:
        """Put the case in front of a person (the caller holds the run's lock)."""

    def runs_waiting_for_a_person(self, run_ids: Iterable[int]) -> set[int]:
        """Of ``run_ids``, the runs that have an unresolved hand-over."""


_handover: Handover | None = None


def register_handover(handover: Handover) -> None:
    global _handover
    _handover = handover


def handover() -> Handover:
    if _handover is None:
        # A case the engine cannot hand over would be lost: refuse to run without an inbox.
        raise ImproperlyConfigured(
            "No hand-over is registered: the escalations app must be in INSTALLED_APPS."
        )
    return _handover


# Periodic checks: the apps built on the engine (alerts' detectors, metrics' rollups) register
# work the scheduler runs on its own loop, without ``runs`` importing them.


@dataclass(frozen=True)
class PeriodicCheck:
    name: str
    func: Callable[[], Any]
    every_s: float


_periodic_checks: dict[str, PeriodicCheck] = {}


def register_periodic_check(name: str, func: Callable[[], Any], *, every_s: float) -> None:
    """Have the scheduler call ``func()`` every ``every_s`` seconds (registering a name again
    replaces it). A check that raises is logged and tried again at its next turn."""
    _periodic_checks[name] = PeriodicCheck(name=name, func=func, every_s=every_s)


def periodic_checks() -> list[PeriodicCheck]:
    return list(_periodic_checks.values())
