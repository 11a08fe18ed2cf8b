"""The action registry: Python functions registered under a key such as ``http.request``.

An action receives an ``ActionContext`` and returns an ``ActionResult`` whose ``updates`` are
merged into the case data. It raises ``TransientError``, ``PermanentError``, ``OutOfBounds`` or
``NeedsReview``; any other exception is classified by ``errors.classify``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import expressions


@dataclass(frozen=True)
class ActionContext:
    run_id: int
    step_key: str
    attempt_number: int
    idempotency_key: str
    data: dict[str, Any]
    config: dict[str, Any]
    timeout_s: float


@dataclass
class ActionResult:
    updates: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    key: str
    label: str
    execute: Callable[[ActionContext], ActionResult]
    validate: Callable[[dict[str, Any]], list[str]]
    # The external system a step calls (for its circuit breaker), from the step's config.
    target: Callable[[dict[str, Any]], str] | None = None


_ACTIONS: dict[str, Action] = {}


def register(
    key: str,
    *,
    label: str,
    validate: Callable[[dict[str, Any]], list[str]],
    target: Callable[[dict[str, Any]], str] | None = None,
):
    def decorator(fn: Callable[[ActionContext], ActionResult]):
        _ACTIONS[key] = Action(key=key, label=label, execute=fn, validate=validate, target=target)
        return fn

    return decorator


def get(key: str) -> Action:
    return _ACTIONS[key]


def target_of(key: str, config: dict[str, Any]) -> str:
    """The external target a step calls, or "" when its action calls none."""
    action = _ACTIONS.get(key)
    return action.target(config) if action and action.target else ""


def choices() -> list[tuple[str, str]]:
    return sorted((action.key, f"{action.key} — {action.label}") for action in _ACTIONS.values())


def validate_step(*, action: str, config: Any, bounds: Any) -> dict[str, list[str]]:
    """Errors by field name for a step's action, config and bounds; empty when all is well."""
    errors: dict[str, list[str]] = {}
    if action not in _ACTIONS:
        known = ", ".join(sorted(_ACTIONS))
        errors["action"] = [f"Unknown action {action!r}. Known actions: {known}."]
    elif not isinstance(config, dict):
        errors["config"] = ["The config must be a JSON object."]
    else:
        config_errors = _ACTIONS[action].validate(config)
        if config_errors:
            errors["config"] = config_errors
    if not isinstance(bounds, list):
        errors["bounds"] = ['Bounds must be a JSON list of expressions, e.g. ["amount <= 10000"].']
    else:
        bound_errors = [
            f"Bound {i + 1} `{expr}` {problem}."
            for i, expr in enumerate(bounds)
            if (problem := expressions.syntax_error(expr))
        ]
        if bound_errors:
            errors["bounds"] = bound_errors
    return errors


def expression_map_errors(value: Any, where: str) -> list[str]:
    """Validate a {field: expression} mapping used by several actions' configs."""
    if not isinstance(value, dict):
        return [f"`{where}` must be an object of field: expression."]
    return [
        f"`{where}.{name}`: `{expr}` {problem}."
        for name, expr in value.items()
        if (problem := expressions.syntax_error(expr))
    ]
