"""Mining on small logs whose every count is worked out by hand (no database)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.discovery.mining import discover, frame_from_events, rare_variants
from tests.discovery.conftest import SMALL_LOG, at


@pytest.fixture
def small():
    return discover(frame_from_events(SMALL_LOG))


def edge(result, a, b):
    return next(e for e in result["edges"] if (e["from"], e["to"]) == (a, b))


def test_sizes_of_the_small_log(small):
    assert (small["events"], small["cases"], small["activities"]) == (12, 4, 3)
    assert len(small["edges"]) == 4
    assert len(small["variants"]) == 3


def test_each_edge_counts_every_consecutive_pair_with_its_waits(small):
    # a→b: A waits 10 min, B 20, D 10 → mean 800 s, median 600 s.
    assert edge(small, "a", "b") == {
        "from": "a",
        "to": "b",
        "count": 3,
        "cases": 3,
        "mean_s": 800.0,
        "median_s": 600.0,
    }
    # b→c: A 20 min, B 60 (from the second b), D 30 → mean 2200 s, median 1800 s.
    assert edge(small, "b", "c")["count"] == 3
    assert edge(small, "b", "c")["mean_s"] == 2200.0
    assert edge(small, "b", "c")["median_s"] == 1800.0
    # b→b in B (5 min) and a→c in C (5 min).
    assert edge(small, "b", "b")["count"] == 1
    assert edge(small, "b", "b")["median_s"] == 300.0
    assert edge(small, "a", "c")["count"] == 1
    assert edge(small, "a", "c")["mean_s"] == 300.0


def test_edges_come_most_frequent_first(small):
    assert [(e["from"], e["to"]) for e in small["edges"]] == [
        ("a", "b"),
        ("b", "c"),
        ("a", "c"),
        ("b", "b"),
    ]


def test_start_and_end_activities(small):
    assert small["start"] == {"a": 4}
    assert small["end"] == {"c": 4}


def test_variants_with_count_and_share(small):
    assert small["variants"] == [
        {"activities": ["a", "b", "c"], "count": 2, "share": 0.5},
        {"activities": ["a", "b", "b", "c"], "count": 1, "share": 0.25},
        {"activities": ["a", "c"], "count": 1, "share": 0.25},
    ]


def test_bottleneck_is_the_largest_median_wait(small):
    b = small["bottleneck"]
    assert (b["from"], b["to"], b["count"], b["median_s"], b["mean_s"]) == (
        "b",
        "c",
        3,
        1800.0,
        2200.0,
    )
    assert b["case_share"] == 0.75


def test_rework_counts_cases_that_repeat_an_activity(small):
    assert small["rework"] == [{"activity": "b", "cases": 1, "repeats": 1}]
    assert small["rework_cases"] == 1


def test_rare_variants_under_a_chosen_share(small):
    assert rare_variants(small["variants"], 0.3) == {
        "below_share": 0.3,
        "variants": 2,
        "cases": 2,
        "case_share": 0.5,
    }
    assert rare_variants(small["variants"], 0.25)["variants"] == 0  # strictly under


def test_case_duration_distribution(small):
    # A 30 min, B 85, C 5, D 40.
    d = small["case_duration"]
    assert (d["min_s"], d["max_s"], d["median_s"], d["mean_s"]) == (300.0, 5100.0, 2100.0, 2400.0)
    assert sum(b["count"] for b in d["histogram"]) == 4
    assert d["histogram"][0] == {"from_s": 300.0, "to_s": 700.0, "count": 1}  # C
    assert d["histogram"][-1]["count"] == 1  # B, the longest, in the last bin


def test_activity_counts(small):
    # Four events each (most first, then by name); b happens in three cases only.
    assert small["activity_counts"] == [
        {"activity": "a", "events": 4, "cases": 4},
        {"activity": "b", "events": 4, "cases": 3},
        {"activity": "c", "events": 4, "cases": 4},
    ]


def test_equal_timestamps_keep_the_order_of_the_file():
    first = [("X", "p", at(0), ""), ("X", "q", at(0), ""), ("X", "r", at(10), "")]
    swapped = [("X", "q", at(0), ""), ("X", "p", at(0), ""), ("X", "r", at(10), "")]
    assert discover(frame_from_events(first))["variants"][0]["activities"] == ["p", "q", "r"]
    assert discover(frame_from_events(swapped))["variants"][0]["activities"] == ["q", "p", "r"]


def test_events_are_ordered_by_time_not_by_file_order_and_cases_may_interleave():
    events = [
        ("X", "s", at(20), ""),
        ("Y", "a", at(0), ""),
        ("X", "r", at(10), ""),
        ("Y", "b", at(1), ""),
    ]
    result = discover(frame_from_events(events))
    assert sorted(tuple(v["activities"]) for v in result["variants"]) == [("a", "b"), ("r", "s")]
    assert edge(result, "r", "s")["mean_s"] == 600.0


def test_timestamps_with_different_offsets_are_compared_in_utc():
    plus2 = timezone(timedelta(hours=2))
    plus1 = timezone(timedelta(hours=1))
    events = [
        ("X", "b", datetime(2024, 6, 1, 9, 30, tzinfo=plus1), ""),  # 08:30 UTC
        ("X", "a", datetime(2024, 6, 1, 10, 0, tzinfo=plus2), ""),  # 08:00 UTC
    ]
    result = discover(frame_from_events(events))
    assert result["variants"][0]["activities"] == ["a", "b"]
    assert edge(result, "a", "b")["median_s"] == 1800.0


def _cases(n, trace, waits_s):
    events = []
    for i in range(n):
        t = datetime(2024, 1, 1, tzinfo=UTC)
        events.append((f"{trace}-{i}", trace[0], t, ""))
        for activity, wait in zip(trace[1:], waits_s, strict=True):
            t += timedelta(seconds=wait)
            events.append((f"{trace}-{i}", activity, t, ""))
    return events


def test_an_edge_taken_by_fewer_than_one_percent_of_cases_is_not_the_bottleneck():
    # 1 case in 200 (0.5%) waits ten days between x and z; 199 wait a minute between x and y.
    events = _cases(199, "xy", [60]) + _cases(1, "xz", [10 * 86400])
    assert discover(frame_from_events(events))["bottleneck"]["to"] == "y"


def test_an_edge_taken_by_exactly_one_percent_of_cases_can_be_the_bottleneck():
    events = _cases(99, "xy", [60]) + _cases(1, "xz", [10 * 86400])
    b = discover(frame_from_events(events))["bottleneck"]
    assert (b["from"], b["to"], b["cases"], b["median_s"]) == ("x", "z", 1, 864000.0)


def test_the_bottleneck_is_judged_by_the_median_not_the_mean():
    # x→y: waits 10, 10, 10000 (mean 3340, median 10); u→v: 100, 100, 100.
    events = (
        _cases(2, "xy", [10])
        + [("slow", "x", at(0), ""), ("slow", "y", at(0) + timedelta(seconds=10000), "")]
        + _cases(3, "uv", [100])
    )
    b = discover(frame_from_events(events))["bottleneck"]
    assert (b["from"], b["to"], b["median_s"], b["mean_s"]) == ("u", "v", 100.0, 100.0)


def test_an_empty_frame_mines_to_nothing():
    result = discover(frame_from_events([]))
    assert (result["events"], result["cases"], result["edges"], result["bottleneck"]) == (
        0,
        0,
        [],
        None,
    )
