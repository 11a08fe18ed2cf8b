"""Reading event logs (CSV and XES, gzipped or not) as a stream of events.

Every reader yields ``(case_id, activity, timestamp, resource)`` tuples in file order, with
timezone-aware timestamps; the position in the file is the index in that stream. Bad input
raises ``LogFormatError`` with a sentence that names the line or element and what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO

from .errors import EMPTY_FILE, NOT_A_LOG, LogFormatError
from .source import Format, open_log
from .tabular import ColumnMapping, CsvPreview, csv_events, csv_preview
from .xes import xes_events

Event = tuple[str, str, datetime, str]

__all__ = [
    "EMPTY_FILE",
    "NOT_A_LOG",
    "ColumnMapping",
    "CsvPreview",
    "Event",
    "Format",
    "LogFormatError",
    "csv_preview",
    "open_log",
    "read_events",
]


def read_events(
    raw: BinaryIO,
    *,
    mapping: ColumnMapping | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """The events of the log in ``raw`` (CSV or XES, gzipped or not), in file order.

    ``mapping`` names the CSV columns (XES logs ignore it; a CSV without one uses the
    XES-style defaults). ``on_progress`` is called now and then with the bytes read so far from
    ``raw`` (compressed bytes for a gzipped file).
    """
    log = open_log(raw, on_progress=on_progress)
    if log.format == Format.XES:
        return xes_events(log.stream)
    return csv_events(log.stream, mapping=mapping)
