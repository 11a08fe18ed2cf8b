"""Exact counts on the public logs in shared/data/event-logs (read from there, never copied).

They run wherever that folder sits beside the repository (as in CI) and are skipped, saying
so, where it does not. Every log is mined from its parsed events; the smaller ones also go
through the whole import into the database and out through ``discover --json``.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from apps.discovery.mining import discover, frame_from_events
from apps.discovery.models import EventLog
from apps.discovery.parsing import read_events
from tests.discovery.conftest import readme_counts

EXPECTED = {
    "running-example.xes": dict(events=42, cases=6, activities=8, edges=16, variants=6),
    "running-example.csv": dict(events=42, cases=6, activities=8, edges=16, variants=6),
    "helpdesk.xes.gz": dict(events=21348, cases=4580, activities=14, edges=55, variants=226),
    "receipt.csv": dict(events=8577, cases=1434, activities=27, edges=99, variants=116),
    "bpic2012.xes.gz": dict(events=262200, cases=13087, activities=24, edges=125, variants=4366),
}
THROUGH_THE_DATABASE = [
    "running-example.csv",
    "running-example.xes",
    "helpdesk.xes.gz",
    "receipt.csv",
]


def counts(result: dict) -> dict:
    return {
        "events": result["events"],
        "cases": result["cases"],
        "activities": result["activities"],
        "edges": len(result["edges"]),
        "variants": len(result["variants"]),
    }


@pytest.fixture(scope="session")
def mined(public_logs):
    cache = {}

    def get(name):
        if name not in cache:
            with (public_logs / name).open("rb") as f:
                cache[name] = discover(frame_from_events(read_events(f)))
        return cache[name]

    return get


def test_the_readme_states_the_counts_these_tests_expect(public_logs):
    assert readme_counts(public_logs) == EXPECTED


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_counts(mined, name):
    assert counts(mined(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_event_is_in_one_edge_end_or_start(mined, name):
    result = mined(name)
    # Each case of n events has n − 1 directly-follows pairs, one start and one end.
    assert sum(e["count"] for e in result["edges"]) == result["events"] - result["cases"]
    assert sum(result["start"].values()) == sum(result["end"].values()) == result["cases"]
    assert sum(v["count"] for v in result["variants"]) == result["cases"]


def test_the_running_example_reads_the_same_as_csv_and_as_xes(mined):
    assert mined("running-example.csv") == mined("running-example.xes")


def test_running_example_details_by_hand(mined):
    result = mined("running-example.xes")
    assert result["start"] == {"register request": 6}
    assert result["end"] == {"pay compensation": 3, "reject request": 3}
    rework = {r["activity"]: r["cases"] for r in result["rework"]}
    # Cases 3 and 5 go round once more ("reinitiate request"), case 5 twice.
    assert rework["decide"] == 2
    assert rework["check ticket"] == 2


def test_helpdesk_bottleneck_is_the_wait_before_closing(mined):
    b = mined("helpdesk.xes.gz")["bottleneck"]
    assert (b["from"], b["to"]) == ("Resolve ticket", "Closed")
    assert b["count"] == 4558
    assert b["median_s"] > b["mean_s"] * 0.5  # both shown; the median is the verdict


@pytest.mark.django_db
@pytest.mark.parametrize("name", THROUGH_THE_DATABASE)
def test_exact_counts_through_import_and_discover_json(public_logs, team, mined, name):
    out = StringIO()
    call_command(
        "import_event_log", "public", str(public_logs / name), "--team", team.slug, stdout=out
    )
    log = EventLog.objects.get(pk=int(out.getvalue().strip()))
    assert log.status == EventLog.Status.READY
    assert (log.event_count, log.case_count) == (EXPECTED[name]["events"], EXPECTED[name]["cases"])
    out = StringIO()
    call_command("discover", "public", "--log", str(log.pk), "--json", stdout=out)
    payload = json.loads(out.getvalue())
    assert counts(payload) == EXPECTED[name]
    # The database path mines exactly what the in-memory path mines.
    assert {k: v for k, v in payload.items() if k not in ("map", "log")} == mined(name)


# ------------------------------------------------------------------ bad copies of real logs


def _import(process_map, data: bytes, filename: str):
    from tests.discovery.conftest import import_bytes

    return import_bytes(process_map, data, filename=filename)


@pytest.mark.django_db
def test_a_real_csv_with_one_bad_timestamp_deep_inside_keeps_nothing(public_logs, process_map):
    from apps.discovery.models import Event

    lines = (public_logs / "receipt.csv").read_bytes().split(b"\n")
    fields = lines[4999].split(b",")  # line 5000 of the file
    fields[-1] = b"31/02/2011 25:61"
    lines[4999] = b",".join(fields)
    log = _import(process_map, b"\n".join(lines), "receipt-bad.csv")
    assert log.status == EventLog.Status.FAILED
    assert log.error.startswith(
        "Line 5000: the timestamp '31/02/2011 25:61' in column 'time:timestamp'"
    )
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_truncated_real_xes_is_refused_with_its_line(public_logs, process_map):
    import gzip

    from apps.discovery.models import Event

    xml = gzip.decompress((public_logs / "helpdesk.xes.gz").read_bytes())
    cut = xml[: len(xml) * 6 // 10]
    log = _import(process_map, gzip.compress(cut), "helpdesk-cut.xes.gz")
    assert log.status == EventLog.Status.FAILED
    last_line = cut.count(b"\n") + 1
    assert log.error.startswith(f"Line {last_line}, column ")
    assert "the XML is not well-formed" in log.error
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_real_csv_without_its_activity_column(public_logs, process_map):
    text = (public_logs / "running-example.csv").read_text()
    data = text.replace(",concept:name,", ",step,", 1).encode()
    log = _import(process_map, data, "no-activity.csv")
    assert log.status == EventLog.Status.FAILED
    assert log.error.startswith("Line 1: there is no column 'concept:name' for the activity")
