"""RQ jobs: ids in, a service call, no logic of their own."""

from __future__ import annotations

from django.db import close_old_connections


def import_event_log(log_id: int) -> str:
    from .services import event_log_import

    # Workers are long-lived: drop a connection the database closed before using it.
    close_old_connections()
    try:
        log = event_log_import(log_id=log_id)
        return "skipped" if log is None else log.status
    finally:
        close_old_connections()
