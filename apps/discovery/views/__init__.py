from .conformance import conformance_cases, conformance_page, deviation_toggle  # noqa: F401
from .logs import (  # noqa: F401
    log_delete,
    log_detail,
    log_export,
    log_mapping,
    log_retry,
    log_upload,
    workflow_runs,
    workflow_runs_pick,
)
from .maps import map_cases, map_create, map_detail, map_edit, map_list  # noqa: F401
from .observations import (  # noqa: F401
    observation_edit,
    observation_list,
    observation_remove,
)
