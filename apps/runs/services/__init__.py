"""Writes for runs: intake, the engine, the timeline, the reconciler."""

from .engine import attempt_execute, idempotency_key  # noqa: F401
from .events import event_append  # noqa: F401
from .intake import WorkflowNotAccepting, run_start, workflow_refusal  # noqa: F401
from .reconciler import ReconcileReport, reconcile  # noqa: F401
from .scheduling import backoff_delay, enqueue_due_attempts  # noqa: F401
