"""Event-log import, before the job: store the upload, choose CSV columns, queue the import.

The job itself (``importing``) reads the whole file before writing anything and writes every
event in one transaction: a failure at any point leaves no events behind, and the log is marked
failed with a sentence that says where and what.
"""

from __future__ import annotations

import gzip
import io
import logging
import shutil
from datetime import timedelta
from typing import BinaryIO

import django_rq
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from ..models import Event, EventLog, EventLogFile, ProcessMap
from ..parsing import ColumnMapping, Format, LogFormatError, open_log

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
JOB_TIMEOUT_S = 3600
# An import this long in "importing" has lost its worker (RQ would have stopped it by now).
STALE_AFTER = timedelta(seconds=JOB_TIMEOUT_S + 300)
TOO_LARGE = "The file is larger than {limit} MB."


class ImportRefused(ValueError):
    """The file cannot be taken (empty, too large, not a log): nothing was created."""


# ---------------------------------------------------------------------------------------------
# Upload and column mapping


def _store_gzipped(source: BinaryIO) -> tuple[bytes, int]:
    """The upload as gzip (a CSV shrinks ~10×); an already gzipped file is kept as it is."""
    head = source.read(2)
    source.seek(0)
    if head == b"\x1f\x8b":
        data = source.read(MAX_UPLOAD_BYTES + 1)
    else:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=3) as gz:
            shutil.copyfileobj(source, gz, 1 << 20)
        data = buffer.getvalue()
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportRefused(TOO_LARGE.format(limit=MAX_UPLOAD_BYTES // (1024 * 1024)))
    return data, len(data)


def sniff_format(source: BinaryIO) -> Format:
    """CSV or XES; raises ImportRefused for an empty file or one that is not a log at all."""
    try:
        fmt = open_log(source).format
    except LogFormatError as exc:
        raise ImportRefused(str(exc)) from None
    finally:
        source.seek(0)
    return fmt


@transaction.atomic
def event_log_upload(
    *,
    process_map: ProcessMap,
    source: BinaryIO,
    filename: str,
    name: str = "",
    user=None,
    mapping: ColumnMapping | None = None,
) -> EventLog:
    """Keep an uploaded log. An XES log (or a CSV with ``mapping``) is queued for import at once;
    a CSV otherwise waits for its columns to be chosen (``event_log_queue``)."""
    fmt = sniff_format(source)
    content, size = _store_gzipped(source)
    waits_for_columns = fmt == Format.CSV and mapping is None
    log = EventLog.objects.create(
        process_map=process_map,
        name=name or filename,
        format=fmt.value,
        status=EventLog.Status.MAPPING if waits_for_columns else EventLog.Status.QUEUED,
        mapping=mapping.as_dict() if mapping else {},
        uploaded_by=user,
        bytes_total=size,
    )
    EventLogFile.objects.create(log=log, filename=filename[:255], content=content, size=size)
    if not waits_for_columns:
        enqueue_import_after_commit(log.pk)
    return log


def log_file_stream(log: EventLog) -> BinaryIO:
    row = EventLogFile.objects.only("content").get(log=log)
    return io.BytesIO(bytes(row.content))


@transaction.atomic
def event_log_queue(*, log: EventLog, mapping: ColumnMapping | None = None) -> EventLog:
    """Queue a waiting or failed log for (another) import, with the columns chosen for a CSV."""
    has_source = log.format == EventLog.Format.RUNS or EventLogFile.objects.filter(log=log).exists()
    if not has_source:
        raise ImportRefused("The uploaded file is no longer kept; upload it again.")
    fields = {"status": EventLog.Status.QUEUED, "error": "", "phase": "", "bytes_read": 0}
    if mapping is not None:
        fields["mapping"] = mapping.as_dict()
    # Also a log still queued (its job lost with Redis) or importing long past any job's time
    # limit (its worker killed; the import's transaction rolled back): the job's claim is
    # conditional, so a second delivery stays harmless.
    startable = Q(status__in=[EventLog.Status.MAPPING, EventLog.Status.FAILED])
    startable |= Q(status=EventLog.Status.QUEUED)
    startable |= Q(status=EventLog.Status.IMPORTING, started_at__lt=timezone.now() - STALE_AFTER)
    updated = EventLog.objects.filter(startable, pk=log.pk).update(**fields)
    if updated:
        enqueue_import_after_commit(log.pk)
    log.refresh_from_db()
    return log


def enqueue_import_after_commit(log_id: int) -> None:
    # After commit, so the worker never looks for a log that is not there yet.
    transaction.on_commit(lambda: enqueue_import(log_id))


def enqueue_import(log_id: int) -> None:
    from ..tasks import import_event_log

    try:
        django_rq.get_queue("default").enqueue(
            import_event_log,
            log_id,
            job_id=f"event-log-import-{log_id}-{timezone.now().timestamp():.0f}",
            job_timeout=JOB_TIMEOUT_S,
            result_ttl=300,
            failure_ttl=7 * 24 * 3600,
        )
    except RedisError:
        # The log stays queued in the database; the page offers to start it again.
        logger.exception("Could not enqueue the import of event log %s", log_id)


def event_log_delete(*, log: EventLog) -> None:
    # Events go in one DELETE (no per-row cascade in Python), then the log.
    with transaction.atomic():
        Event.objects.filter(log=log).delete()
        log.delete()
