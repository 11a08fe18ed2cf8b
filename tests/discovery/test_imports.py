"""Importing logs: upload, column mapping, the background job, failures that keep nothing."""

import gzip
import io
from io import StringIO

import django_rq
import pytest
from django.core.management import CommandError, call_command
from rq import SimpleWorker

from apps.discovery.models import Event, EventLog, EventLogFile, ProcessMap
from apps.discovery.parsing import ColumnMapping
from apps.discovery.services import (
    ImportRefused,
    event_log_import,
    event_log_queue,
    event_log_upload,
)
from apps.discovery.services.importing import UNEXPECTED
from tests.discovery.conftest import SMALL_LOG, SMALL_MAPPING, events_csv, import_bytes

pytestmark = pytest.mark.django_db


def upload(process_map, data: bytes, filename="log.csv", mapping=None):
    return event_log_upload(
        process_map=process_map, source=io.BytesIO(data), filename=filename, mapping=mapping
    )


def test_a_csv_waits_for_its_columns_then_imports(process_map):
    log = upload(process_map, events_csv(SMALL_LOG))
    assert log.status == EventLog.Status.MAPPING
    assert EventLogFile.objects.get(log=log).content[:2] == b"\x1f\x8b"  # kept gzipped
    event_log_queue(log=log, mapping=SMALL_MAPPING)
    log.refresh_from_db()
    assert log.status == EventLog.Status.QUEUED
    event_log_import(log_id=log.pk)
    log.refresh_from_db()
    assert log.status == EventLog.Status.READY
    assert (log.event_count, log.case_count) == (12, 4)
    assert Event.objects.filter(log=log).count() == 12
    assert log.discovery["variants"][0] == {"activities": ["a", "b", "c"], "count": 2, "share": 0.5}
    assert not EventLogFile.objects.filter(log=log).exists()  # the events are the log now


def test_events_keep_case_activity_time_resource_and_file_position(small_log):
    first = Event.objects.filter(log=small_log).order_by("position").first()
    assert (first.case_id, first.activity, first.resource, first.position) == ("A", "a", "ann", 0)
    assert first.timestamp == SMALL_LOG[0][2]
    assert first.timestamp.tzinfo is not None


def test_an_xes_upload_is_queued_at_once(process_map):
    data = (
        b'<log><trace><string key="concept:name" value="c1"/>'
        b'<event><string key="concept:name" value="a"/>'
        b'<date key="time:timestamp" value="2024-01-01T10:00:00+01:00"/></event></trace></log>'
    )
    log = upload(process_map, gzip.compress(data), filename="log.xes.gz")
    assert (log.format, log.status) == ("xes", EventLog.Status.QUEUED)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This is not an event log"),
    ],
)
def test_an_empty_or_binary_upload_is_refused_and_nothing_is_created(process_map, data, message):
    with pytest.raises(ImportRefused, match=message.replace(".", r"\.")):
        upload(process_map, data)
    assert not EventLog.objects.exists()


def test_a_bad_line_fails_the_import_names_it_and_keeps_no_event(process_map):
    data = events_csv(SMALL_LOG * 500) + b"Z,a,not a time,ann\n"
    log = import_bytes(process_map, data, mapping=SMALL_MAPPING)
    assert log.status == EventLog.Status.FAILED
    assert log.error.startswith("Line 6002: the timestamp 'not a time' in column 'time'")
    assert not Event.objects.exists()
    assert EventLogFile.objects.filter(log=log).exists()  # kept, to choose columns again


def test_a_missing_column_fails_with_its_name(process_map):
    mapping = ColumnMapping(case="case", activity="step", timestamp="time", resource="")
    log = import_bytes(process_map, events_csv(SMALL_LOG), mapping=mapping)
    assert log.status == EventLog.Status.FAILED
    assert "there is no column 'step' for the activity" in log.error


def test_an_import_that_fails_halfway_through_writing_leaves_nothing(process_map, monkeypatch):
    # Every event is written before the mining runs; make the mining fail.
    def broken(frame):
        assert frame.height == 12 * 100  # the rows were there, inside the transaction
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("apps.discovery.services.importing.discover", broken)
    log = import_bytes(process_map, events_csv(SMALL_LOG * 100), mapping=SMALL_MAPPING)
    assert log.status == EventLog.Status.FAILED
    assert log.error == UNEXPECTED.format(error="RuntimeError")
    assert not Event.objects.exists()
    assert log.discovery is None


def test_a_failed_import_can_be_run_again_with_other_columns(process_map):
    bad = ColumnMapping(case="case", activity="who", timestamp="activity", resource="")
    log = import_bytes(process_map, events_csv(SMALL_LOG), mapping=bad)
    assert log.status == EventLog.Status.FAILED
    event_log_queue(log=log, mapping=SMALL_MAPPING)
    event_log_import(log_id=log.pk)
    log.refresh_from_db()
    assert (log.status, log.event_count, log.error) == (EventLog.Status.READY, 12, "")


def test_the_job_runs_once_a_second_delivery_is_a_no_op(small_log):
    assert event_log_import(log_id=small_log.pk) is None
    assert Event.objects.filter(log=small_log).count() == 12


def test_a_job_for_a_vanished_log_does_nothing(db):
    assert event_log_import(log_id=987654) is None


@pytest.mark.django_db(transaction=True)
def test_upload_enqueues_after_commit_and_a_real_worker_imports(redis_conn, process_map):
    log = upload(process_map, events_csv(SMALL_LOG), mapping=SMALL_MAPPING)
    queue = django_rq.get_queue("default")
    assert queue.count == 1  # enqueued once the upload's transaction committed
    SimpleWorker([queue], connection=redis_conn).work(burst=True, with_scheduler=False)
    log.refresh_from_db()
    assert (log.status, log.event_count, log.case_count) == (EventLog.Status.READY, 12, 4)


# ---------------------------------------------------------------------------- the command


def test_command_creates_the_map_and_prints_the_new_log_id(team, tmp_path):
    path = tmp_path / "small.csv"
    path.write_bytes(
        events_csv(
            SMALL_LOG,
            header=("case:concept:name", "concept:name", "time:timestamp", "org:resource"),
        )
    )
    out = StringIO()
    call_command("import_event_log", "new-process", str(path), stdout=out)
    log = EventLog.objects.get(pk=int(out.getvalue()))
    assert log.process_map.slug == "new-process"
    assert log.process_map.team == team  # the only team
    assert (log.status, log.event_count) == (EventLog.Status.READY, 12)


def test_command_with_named_columns(team, tmp_path):
    path = tmp_path / "small.csv"
    path.write_bytes(events_csv(SMALL_LOG))
    out = StringIO()
    call_command(
        "import_event_log",
        "p",
        str(path),
        "--case",
        "case",
        "--activity",
        "activity",
        "--timestamp",
        "time",
        "--resource",
        "who",
        stdout=out,
    )
    assert EventLog.objects.get(pk=int(out.getvalue())).event_count == 12


def test_command_failure_names_the_problem_and_leaves_no_map_log_or_event(team, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(events_csv(SMALL_LOG) + b"Z,a,soon,ann\n")
    with pytest.raises(CommandError, match="Line 14: the timestamp 'soon'"):
        call_command(
            "import_event_log",
            "p",
            str(path),
            "--case",
            "case",
            "--activity",
            "activity",
            "--timestamp",
            "time",
            "--resource",
            "who",
        )
    assert not ProcessMap.objects.exists()
    assert not EventLog.objects.exists()
    assert not Event.objects.exists()


def test_command_keeps_an_existing_map_when_its_import_fails(process_map, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match="The file is empty."):
        call_command("import_event_log", process_map.slug, str(path))
    assert ProcessMap.objects.filter(pk=process_map.pk).exists()
    assert not EventLog.objects.exists()


def test_command_needs_a_team_when_there_is_more_than_one(team, tmp_path):
    from tests.factories import TeamFactory

    TeamFactory()
    path = tmp_path / "x.csv"
    path.write_bytes(events_csv(SMALL_LOG))
    with pytest.raises(CommandError, match="pass --team"):
        call_command("import_event_log", "p", str(path))


def test_a_log_whose_worker_died_can_be_started_again(process_map):
    from datetime import timedelta

    from django.utils import timezone

    log = upload(process_map, events_csv(SMALL_LOG), mapping=SMALL_MAPPING)
    # A worker claimed it, then was killed: its transaction rolled back, the row says importing.
    EventLog.objects.filter(pk=log.pk).update(
        status=EventLog.Status.IMPORTING, started_at=timezone.now() - timedelta(minutes=5)
    )
    assert event_log_queue(log=log).status == EventLog.Status.IMPORTING  # may still be running
    EventLog.objects.filter(pk=log.pk).update(started_at=timezone.now() - timedelta(hours=2))
    assert event_log_queue(log=log).status == EventLog.Status.QUEUED
    event_log_import(log_id=log.pk)
    log.refresh_from_db()
    assert (log.status, log.event_count) == (EventLog.Status.READY, 12)
