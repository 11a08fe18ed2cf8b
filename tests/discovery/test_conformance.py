"""Ideal versus real, worked out by hand against the ideal path a → b → c."""

import pytest

from apps.discovery.conformance import check_trace, conformance
from apps.discovery.mining import discover, frame_from_events
from tests.discovery.conftest import SMALL_LOG

IDEAL = [["a", "b", "c"]]


def test_the_ideal_path_itself_conforms():
    check = check_trace(["a", "b", "c"], IDEAL)
    assert check.conforms and check.deviations == () and check.first_deviation == ""


def test_a_repeated_activity():
    check = check_trace(["a", "b", "b", "c"], IDEAL)
    assert not check.conforms
    assert check.first_deviation == "step 3: b instead of c"
    assert (check.skipped, check.extra, check.repeated) == ((), (), ("b",))
    assert check.deviations == ("repeated b",)


def test_a_skipped_activity():
    check = check_trace(["a", "c"], IDEAL)
    assert check.first_deviation == "step 2: c instead of b"
    assert check.deviations == ("skipped b",)


def test_an_extra_activity():
    check = check_trace(["a", "x", "b", "c"], IDEAL)
    assert check.first_deviation == "step 2: x instead of b"
    assert check.deviations == ("extra x",)


def test_stopping_early_and_going_on_after_the_end():
    early = check_trace(["a", "b"], IDEAL)
    assert early.first_deviation == "step 3: stopped before c"
    assert early.deviations == ("skipped c",)
    late = check_trace(["a", "b", "c", "d"], IDEAL)
    assert late.first_deviation == "step 4: d after c, where the path ends"
    assert late.deviations == ("extra d",)


def test_activities_out_of_order():
    check = check_trace(["b", "a", "c"], IDEAL)
    assert check.deviations == ("out of order: b before a",)


def test_the_nearest_of_several_ideal_paths_is_the_yardstick():
    ideals = [["a", "b", "c"], ["a", "d", "e", "c"]]
    assert check_trace(["a", "d", "e", "c"], ideals).conforms
    check = check_trace(["a", "d", "c"], ideals)
    assert check.ideal_index == 1
    assert check.deviations == ("skipped e",)


def test_accepted_deviations_count_as_conforming_with_acceptance():
    check = check_trace(["a", "b", "b", "c"], IDEAL)
    assert check.accepted({"repeated b"})
    assert not check.accepted({"skipped b"})


def test_report_on_the_small_log():
    variants = discover(frame_from_events(SMALL_LOG))["variants"]
    report = conformance(variants, IDEAL)
    assert (report.cases, report.conforming, report.accepted) == (4, 2, 2)
    assert report.conforming_share == 0.5
    assert report.deviations == [
        {"deviation": "repeated b", "cases": 1, "share": 0.25, "accepted": False},
        {"deviation": "skipped b", "cases": 1, "share": 0.25, "accepted": False},
    ]
    allowed = conformance(variants, IDEAL, allowlist=["repeated b"])
    assert (allowed.conforming, allowed.accepted, allowed.accepted_share) == (2, 3, 0.75)
    assert allowed.deviations[0]["accepted"] is True


def test_without_an_ideal_path_there_is_nothing_to_check():
    with pytest.raises(ValueError, match="State an ideal path first."):
        check_trace(["a"], [])
