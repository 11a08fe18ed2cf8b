"""The engine's front door: every change to a run goes through these functions.

Views, admin, commands, the API, the reconciler and the apps built on runs call only what is
exported here; a run's status changes only in ``transitions``.
"""

from .cases import (  # noqa: F401
    case_data_diff,
    person,
    run_cancel,
    run_finish_by_hand,
    run_lock,
    run_resume,
    run_retry_step,
    run_skip_step,
)
from .engine import (  # noqa: F401
    attempt_claim,
    attempt_execute,
    attempt_record_success,
    idempotency_key,
    run_hand_over,
)
from .events import event_append  # noqa: F401
from .intake import WorkflowNotAccepting, run_start, workflow_refusal  # noqa: F401
from .reconciler import ReconcileReport, reconcile  # noqa: F401
from .scheduling import backoff_delay, enqueue_due_attempts  # noqa: F401
from .transitions import MOVES, IllegalTransition  # noqa: F401
