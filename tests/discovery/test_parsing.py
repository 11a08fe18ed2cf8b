"""Reading CSV and XES logs, gzipped or not; bad files get a sentence naming where and what."""

import gzip
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.discovery.parsing import (
    EMPTY_FILE,
    ColumnMapping,
    LogFormatError,
    csv_preview,
    open_log,
    read_events,
)


def events(data: bytes, mapping=None):
    return list(read_events(io.BytesIO(data), mapping=mapping))


def error_of(data: bytes, mapping=None) -> str:
    with pytest.raises(LogFormatError) as exc:
        events(data, mapping)
    return str(exc.value)


XES_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">\n'


def xes(body: str) -> bytes:
    return XES_HEAD + body.encode() + b"\n</log>\n"


def trace(name, *evs):
    inner = "".join(
        "<event>"
        + f'<string key="concept:name" value="{a}"/>'
        + (f'<date key="time:timestamp" value="{t}"/>' if t else "")
        + (f'<string key="org:resource" value="{r}"/>' if r else "")
        + "</event>"
        for a, t, r in evs
    )
    return f'<trace><string key="concept:name" value="{name}"/>{inner}</trace>'


CSV = (
    b"case:concept:name,concept:name,time:timestamp,org:resource\n"
    b"1,register,2010-12-30 14:32:00+01:00,Pete\n"
    b"1,decide,2010-12-31 10:00:00+01:00,Sara\n"
    b"2,register,2011-01-02 08:00:00.250000+01:00,Mike\n"
)


# ---------------------------------------------------------------------------------- CSV


def test_csv_with_the_xes_style_default_columns():
    rows = events(CSV)
    assert [(c, a, r) for c, a, _, r in rows] == [
        ("1", "register", "Pete"),
        ("1", "decide", "Sara"),
        ("2", "register", "Mike"),
    ]
    assert rows[0][2] == datetime(2010, 12, 30, 13, 32, tzinfo=UTC)
    assert rows[2][2].utcoffset() == timedelta(hours=1)
    assert rows[2][2].microsecond == 250000


def test_gzipped_csv_reads_the_same():
    assert events(gzip.compress(CSV)) == events(CSV)


def test_csv_with_chosen_columns_semicolons_and_a_bom():
    data = "\ufeffTicket;Step;When\nT-1;open;2024-03-01T10:00:00Z\nT-1;close;01-03-2024 12:00\n"
    rows = events(
        data.encode(), ColumnMapping(case="Ticket", activity="Step", timestamp="When", resource="")
    )
    assert [(c, a, t) for c, a, t, _ in rows] == [
        ("T-1", "open", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("T-1", "close", datetime(2024, 3, 1, 12, tzinfo=UTC)),  # no offset: read as UTC
    ]


def test_csv_without_a_resource_column_is_fine_with_the_defaults():
    data = b"case:concept:name,concept:name,time:timestamp\n1,a,2024-01-01T00:00:00Z\n"
    assert events(data)[0][3] == ""


def test_preview_suggests_the_columns_and_shows_the_first_rows():
    data = b"id,Activity,Resource,Complete Timestamp,Case ID\n" + b"".join(
        f"{i},act,res,2024-01-01T00:00:0{i}Z,c{i}\n".encode() for i in range(9)
    )
    preview = csv_preview(open_log(io.BytesIO(data)).stream)
    assert preview.columns == ["id", "Activity", "Resource", "Complete Timestamp", "Case ID"]
    assert len(preview.rows) == 8
    assert preview.suggested == ColumnMapping(
        case="Case ID", activity="Activity", timestamp="Complete Timestamp", resource="Resource"
    )
    assert preview.missing == []


def test_missing_column_is_named_with_the_columns_there_are():
    message = error_of(b"case,activity,when\n1,a,2024-01-01\n")
    assert message.startswith("Line 1: there is no column 'case:concept:name' for the case id")
    assert "'case', 'activity', 'when'" in message


def test_unparseable_timestamp_names_the_line_the_value_and_the_column():
    data = CSV + b"2,decide,next tuesday,Sara\n"
    assert error_of(data) == (
        "Line 5: the timestamp 'next tuesday' in column 'time:timestamp' is not a date and time "
        "(expected e.g. 2024-03-01 14:30:00+01:00)."
    )


def test_month_first_dates_are_refused_not_guessed():
    assert "is not a date and time" in error_of(CSV + b"2,decide,12/31/2010 10:00,Sara\n")


def test_empty_case_id_and_wrong_field_count_name_the_line():
    assert error_of(CSV + b",decide,2011-01-02 09:00:00+01:00,Sara\n") == (
        "Line 5: the case id (column 'case:concept:name') is empty."
    )
    assert error_of(CSV + b"2,decide\n") == "Line 5 has 2 fields where the header has 4."


def test_empty_files_are_refused():
    assert error_of(b"") == EMPTY_FILE
    assert error_of(b"  \n\n ") == "The file is empty (only blank space)."
    assert error_of(gzip.compress(b"")) == EMPTY_FILE
    header_only = b"case:concept:name,concept:name,time:timestamp\n"
    assert error_of(header_only) == "The file has a header row but no events."


def test_a_binary_file_is_not_a_log():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert error_of(png).startswith("This is not an event log")


def test_a_truncated_gzip_is_refused_in_words():
    assert "gzipped but cannot be decompressed" in error_of(gzip.compress(CSV * 50)[:-40])


# ---------------------------------------------------------------------------------- XES


def test_xes_reads_case_activity_time_and_resource():
    data = xes(
        trace(
            "c1", ("a", "2024-01-01T10:00:00.000+01:00", "ann"), ("b", "2024-01-01T11:00:00Z", "")
        )
        + trace("c2", ("a", "2024-01-02T10:00:00+00:00", "bob"))
    )
    rows = events(data)
    assert rows == [
        ("c1", "a", datetime(2024, 1, 1, 10, tzinfo=timezone(timedelta(hours=1))), "ann"),
        ("c1", "b", datetime(2024, 1, 1, 11, tzinfo=UTC), ""),
        ("c2", "a", datetime(2024, 1, 2, 10, tzinfo=UTC), "bob"),
    ]
    assert events(gzip.compress(data)) == rows


def test_xes_ignores_nested_attributes_globals_and_lifecycle():
    data = xes(
        '<global scope="event"><string key="concept:name" value="UNKNOWN"/></global>'
        '<trace><string key="concept:name" value="c1"/>'
        '<event><string key="concept:name" value="a"/>'
        '<string key="lifecycle:transition" value="complete"/>'
        '<date key="time:timestamp" value="2024-01-01T10:00:00Z"/>'
        '<list key="meta"><string key="concept:name" value="nested"/></list>'
        "</event></trace>"
    )
    assert events(data) == [("c1", "a", datetime(2024, 1, 1, 10, tzinfo=UTC), "")]


def test_trace_name_may_follow_its_events():
    data = xes(
        '<trace><event><string key="concept:name" value="a"/>'
        '<date key="time:timestamp" value="2024-01-01T10:00:00Z"/></event>'
        '<string key="concept:name" value="late"/></trace>'
    )
    assert events(data)[0][0] == "late"


def test_event_without_a_timestamp_names_its_line_and_place():
    data = xes(trace("c1", ("a", "2024-01-01T10:00:00Z", ""), ("b", None, "")))
    assert error_of(data) == "Line 3: <event> 2 of <trace> 1 has no time:timestamp."


def test_unparseable_xes_date_is_named():
    data = xes(trace("c1", ("a", "yesterday", "")))
    assert error_of(data) == (
        "Line 3: <event> 1 of <trace> 1: time:timestamp 'yesterday' is not a date and time."
    )


def test_trace_without_a_case_id():
    data = xes(
        '<trace><event><string key="concept:name" value="a"/>'
        '<date key="time:timestamp" value="2024-01-01T10:00:00Z"/></event></trace>'
    )
    assert error_of(data) == "Line 3: <trace> 1 has no concept:name (its case id)."


def test_malformed_xml_names_line_and_column():
    data = XES_HEAD + b'<trace><string key="concept:name" value="c1"></trace>\n</log>'
    message = error_of(data)
    assert message.startswith("Line 3, column ")
    assert "the XML is not well-formed (mismatched tag)" in message


def test_xml_that_is_not_a_log():
    assert error_of(b"<html><body>Hello</body></html>").startswith(
        "Line 1: the root element is <html>, not <log>."
    )


def test_an_xes_log_without_events():
    assert error_of(xes("")) == "The XES log has no events (no <event> inside a <trace>)."


def test_entity_expansion_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE log [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<log><trace><string key="concept:name" value="&b;"/></trace></log>'
    )
    assert "entities or external references" in error_of(bomb)


def test_external_entities_are_refused():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE log [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<log><trace><string key="concept:name" value="&x;"/></trace></log>'
    )
    assert "entities or external references" in error_of(xxe)
