"""CSV event logs: a preview for the column-mapping step, then the events."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .errors import NOT_A_LOG, LogFormatError, check_length, parse_timestamp

DELIMITERS = (",", ";", "\t", "|")
PREVIEW_ROWS = 8

# XES-style names first, then what spreadsheets and other tools usually call them.
DEFAULT_NAMES = {
    "case": ("case:concept:name", "case_id", "case id", "caseid", "case"),
    "activity": ("concept:name", "activity", "activity name", "event"),
    "timestamp": (
        "time:timestamp",
        "timestamp",
        "complete timestamp",
        "end timestamp",
        "time",
        "date",
    ),
    "resource": ("org:resource", "resource", "user", "performer"),
}
ROLES = ("case", "activity", "timestamp", "resource")
REQUIRED_ROLES = ("case", "activity", "timestamp")
ROLE_LABELS = {
    "case": "case id",
    "activity": "activity",
    "timestamp": "timestamp",
    "resource": "resource",
}


@dataclass(frozen=True)
class ColumnMapping:
    case: str = "case:concept:name"
    activity: str = "concept:name"
    timestamp: str = "time:timestamp"
    resource: str = "org:resource"  # "" for none

    def as_dict(self) -> dict[str, str]:
        return {role: getattr(self, role) for role in ROLES}


@dataclass
class CsvPreview:
    columns: list[str]
    rows: list[list[str]]
    delimiter: str
    suggested: ColumnMapping
    missing: list[str] = field(default_factory=list)  # roles with no default column


def _text(stream: io.BufferedIOBase) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _reader(stream: io.BufferedIOBase) -> tuple[csv.reader, list[str], str]:
    text = _text(stream)
    try:
        first = text.readline()
    except UnicodeDecodeError:
        raise LogFormatError(f"Line 1 is not UTF-8 text. {NOT_A_LOG}") from None
    if not first.strip():
        raise LogFormatError("Line 1 is blank: a CSV log starts with a header row.")
    delimiter = _delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    header = [name.strip() for name in header]
    reader = csv.reader(text, delimiter=delimiter)
    return reader, header, delimiter


def suggest_mapping(columns: list[str]) -> tuple[ColumnMapping, list[str]]:
    by_lower = {}
    for name in columns:
        by_lower.setdefault(name.lower(), name)
    chosen: dict[str, str] = {}
    missing = []
    for role in ROLES:
        match = next((by_lower[n] for n in DEFAULT_NAMES[role] if n in by_lower), "")
        chosen[role] = match
        if not match and role in REQUIRED_ROLES:
            missing.append(role)
    return ColumnMapping(**chosen), missing


def csv_preview(stream: io.BufferedIOBase, *, rows: int = PREVIEW_ROWS) -> CsvPreview:
    reader, header, delimiter = _reader(stream)
    sample = []
    try:
        for row in reader:
            if row:
                sample.append(row)
            if len(sample) >= rows:
                break
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LogFormatError(f"Line {reader.line_num + 2}: {exc}.") from None
    suggested, missing = suggest_mapping(header)
    return CsvPreview(
        columns=header, rows=sample, delimiter=delimiter, suggested=suggested, missing=missing
    )


def _column_index(
    header: list[str], mapping: ColumnMapping, *, optional_resource: bool = False
) -> dict[str, int | None]:
    index = {}
    for role in ROLES:
        name = getattr(mapping, role)
        if role == "resource" and optional_resource and name not in header:
            name = ""
        if not name:
            if role in REQUIRED_ROLES:
                raise LogFormatError(f"Choose the column that holds the {ROLE_LABELS[role]}.")
            index[role] = None
            continue
        if name not in header:
            raise LogFormatError(
                f"Line 1: there is no column {name!r} for the {ROLE_LABELS[role]} "
                f"(the columns are: {', '.join(repr(c) for c in header[:30])})."
            )
        index[role] = header.index(name)
    return index


def csv_events(
    stream: io.BufferedIOBase, *, mapping: ColumnMapping | None = None
) -> Iterator[tuple[str, str, datetime, str]]:
    reader, header, _ = _reader(stream)
    # With the default columns, a log without a resource column is still a log.
    index = _column_index(header, mapping or ColumnMapping(), optional_resource=mapping is None)
    i_case, i_act, i_ts, i_res = (index[r] for r in ROLES)
    width = len(header)
    ts_name = header[i_ts]
    seen = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except UnicodeDecodeError:
            raise LogFormatError(f"Line {reader.line_num + 2} is not UTF-8 text.") from None
        except csv.Error as exc:
            raise LogFormatError(f"Line {reader.line_num + 1}: {exc}.") from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        # The header line was read before the reader started counting.
        where = f"Line {reader.line_num + 1}"
        if len(row) != width:
            raise LogFormatError(f"{where} has {len(row)} fields where the header has {width}.")
        case = check_length(row[i_case].strip(), "case id", where)
        activity = check_length(row[i_act].strip(), "activity", where)
        if not case:
            raise LogFormatError(f"{where}: the case id (column {header[i_case]!r}) is empty.")
        if not activity:
            raise LogFormatError(f"{where}: the activity (column {header[i_act]!r}) is empty.")
        raw_ts = row[i_ts]
        ts = parse_timestamp(raw_ts)
        if ts is None:
            raise LogFormatError(
                f"{where}: the timestamp {raw_ts!r} in column {ts_name!r} is not a date and "
                "time (expected e.g. 2024-03-01 14:30:00+01:00)."
            )
        resource = check_length(row[i_res].strip(), "resource", where) if i_res is not None else ""
        seen += 1
        yield case, activity, ts, resource
    if not seen:
        raise LogFormatError("The file has a header row but no events.")
