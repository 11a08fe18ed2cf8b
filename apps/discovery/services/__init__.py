"""Writes for discovery: maps and observations, event-log import, runs as a log."""

from .importing import event_log_import, event_log_import_file  # noqa: F401
from .imports import (  # noqa: F401
    ImportRefused,
    enqueue_import,
    event_log_delete,
    event_log_queue,
    event_log_upload,
    log_file_stream,
)
from .maps import (  # noqa: F401
    deviation_accept,
    ideal_paths_set,
    observation_create,
    observation_delete,
    observation_update,
    process_map_create,
    process_map_update,
)
