"""Process mining on an event table: one code path for every database and for tests.

The events arrive as a polars frame (``case``, ``activity``, ``ts`` — aware, UTC, microseconds —
and ``pos``, the position in the file). Conventions (those of shared/data/event-logs/README.md):
events of a case are ordered by timestamp, equal timestamps by position; a directly-follows
edge a→b counts every pair of consecutive events of a case, and its waiting time is the
difference of their timestamps; a variant is a case's whole sequence of activities.
"""

from __future__ import annotations

from .discover import (
    BOTTLENECK_MIN_CASE_SHARE,
    DURATION_BINS,
    RARE_SHARE_DEFAULT,
    discover,
    rare_variants,
)
from .frames import EVENT_SCHEMA, frame_from_db, frame_from_events

__all__ = [
    "BOTTLENECK_MIN_CASE_SHARE",
    "DURATION_BINS",
    "EVENT_SCHEMA",
    "RARE_SHARE_DEFAULT",
    "discover",
    "frame_from_db",
    "frame_from_events",
    "rare_variants",
]
