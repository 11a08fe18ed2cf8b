"""The import job: read the whole file into a staging file (finding any bad line before a row
is written), then write every event and the mining results in one transaction.

Progress is written on the log row outside that transaction, so the page can poll it.
"""

from __future__ import annotations

import logging
import pickle  # noqa: S403 - our own staging file, written and read by this process only
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC
from typing import BinaryIO

from django.db import connection, transaction
from django.utils import timezone

from ..mining import discover, frame_from_db
from ..models import Event, EventLog, EventLogFile, ProcessMap
from ..parsing import ColumnMapping, LogFormatError, read_events
from .imports import log_file_stream, sniff_format

logger = logging.getLogger(__name__)

BATCH = 10_000
NO_EVENTS = "There are no events to import."
UNEXPECTED = "The import stopped on an unexpected error ({error}); no events were kept."


def event_log_import(*, log_id: int, source: BinaryIO | None = None) -> EventLog | None:
    """Import a queued log (the RQ job's body; also run inline by the command).

    Safe to run twice: only a queued log is claimed, so a second delivery is a no-op and
    returns None. ``source`` reads the file from elsewhere than the stored upload (the command
    reads it from disk).
    """
    claimed = EventLog.objects.filter(pk=log_id, status=EventLog.Status.QUEUED).update(
        status=EventLog.Status.IMPORTING,
        started_at=timezone.now(),
        finished_at=None,
        phase="Reading the file",
        bytes_read=0,
        events_read=0,
        error="",
    )
    if not claimed:
        logger.info("Event log %s is not queued; nothing to import", log_id)
        return None
    log = EventLog.objects.select_related("process_map__workflow").get(pk=log_id)
    try:
        progress = _Progress(log)
        if log.format == EventLog.Format.RUNS:
            from .runs_log import runs_events

            if log.process_map.workflow is None:
                raise LogFormatError("The workflow whose runs this log held is gone.")
            events = runs_events(log.process_map.workflow)
        else:
            if source is None:
                source = log_file_stream(log)
            mapping = ColumnMapping(**log.mapping) if log.mapping else None
            events = read_events(source, mapping=mapping, on_progress=progress.bytes)
        with tempfile.TemporaryFile() as staging:
            _stage(events, staging, progress)
            _write(log, staging)
    except LogFormatError as exc:
        _fail(log_id, str(exc))
    except Exception as exc:
        # Recorded on the log (the database is the source of truth), with the traceback in the
        # logs; the message names only the exception's class, which carries no data.
        logger.exception("Import of event log %s failed", log_id)
        _fail(log_id, UNEXPECTED.format(error=type(exc).__name__))
    log.refresh_from_db()
    return log


class _Progress:
    """Writes progress on the log row (autocommit, outside the write transaction)."""

    def __init__(self, log: EventLog) -> None:
        self.log_id = log.pk
        self.total = log.bytes_total
        self.last = 0.0

    def events(self, count: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= 0.5:
            self.last = now
            EventLog.objects.filter(pk=self.log_id).update(events_read=count)

    def bytes(self, read: int) -> None:
        EventLog.objects.filter(pk=self.log_id).update(bytes_read=read)


def _stage(events: Iterator, staging: BinaryIO, progress: _Progress) -> int:
    """Read every event into the staging file, in batches, reporting progress (events counted
    here, bytes by the reader)."""
    batch: list[tuple] = []
    count = 0
    for case, activity, ts, resource in events:
        batch.append((case, activity, ts.astimezone(UTC), resource, count))
        count += 1
        if len(batch) >= BATCH:
            pickle.dump(batch, staging, protocol=pickle.HIGHEST_PROTOCOL)
            batch = []
            progress.events(count)
    if batch:
        pickle.dump(batch, staging, protocol=pickle.HIGHEST_PROTOCOL)
    if not count:
        raise LogFormatError(NO_EVENTS)
    progress.events(count, force=True)
    staging.seek(0)
    return count


def _batches(staging: BinaryIO) -> Iterator[list[tuple]]:
    while True:
        try:
            yield pickle.load(staging)  # noqa: S301 - written above by this process
        except EOFError:
            return


@transaction.atomic
def _write(log: EventLog, staging: BinaryIO) -> None:
    EventLog.objects.filter(pk=log.pk).update(phase="Writing events", bytes_read=log.bytes_total)
    # A retried import starts from nothing (the earlier attempt's transaction rolled back, but
    # be sure).
    Event.objects.filter(log=log).delete()
    if connection.vendor == "postgresql":
        _copy_postgres(log.pk, staging)
    else:
        _insert_batches(log.pk, staging)
    result = discover(frame_from_db(log.pk))
    EventLog.objects.filter(pk=log.pk).update(
        status=EventLog.Status.READY,
        phase="",
        event_count=result["events"],
        case_count=result["cases"],
        discovery=result,
        finished_at=timezone.now(),
    )
    EventLogFile.objects.filter(log=log).delete()


def _copy_escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t")
        value = value.replace("\n", "\\n").replace("\r", "\\r")
    return value


def _copy_postgres(log_id: int, staging: BinaryIO) -> None:
    table = Event._meta.db_table
    sql = (
        f"COPY {table} (log_id, case_id, activity, timestamp, resource, position) "  # noqa: S608
        "FROM STDIN"
    )
    prefix = f"{log_id}\t"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for batch in _batches(staging):
            lines = [
                f"{prefix}{_copy_escape(c)}\t{_copy_escape(a)}\t{t.isoformat()}\t"
                f"{_copy_escape(r)}\t{p}\n"
                for c, a, t, r, p in batch
            ]
            copy.write("".join(lines))


def _insert_batches(log_id: int, staging: BinaryIO) -> None:
    table = Event._meta.db_table
    sql = (
        f"INSERT INTO {table} (log_id, case_id, activity, timestamp, resource, position) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for batch in _batches(staging):
            cursor.executemany(sql, [(log_id, c, a, adapt(t), r, p) for c, a, t, r, p in batch])


def _fail(log_id: int, message: str) -> None:
    EventLog.objects.filter(pk=log_id).update(
        status=EventLog.Status.FAILED, phase="", error=message, finished_at=timezone.now()
    )


def event_log_import_file(
    *,
    process_map: ProcessMap,
    source: BinaryIO,
    name: str,
    size: int,
    mapping: ColumnMapping | None = None,
    user=None,
) -> EventLog:
    """Import a file from disk now, in this process (the management command's path): the file
    is read where it lies instead of being stored first. Returns the log, ready or failed."""
    fmt = sniff_format(source)
    log = EventLog.objects.create(
        process_map=process_map,
        name=name,
        format=fmt.value,
        status=EventLog.Status.QUEUED,
        mapping=mapping.as_dict() if mapping else {},
        uploaded_by=user,
        bytes_total=size,
    )
    return event_log_import(log_id=log.pk, source=source) or log
