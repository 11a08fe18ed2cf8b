"""Event frames: from parsed events (tests, benchmarks) or from the Event table."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import polars as pl
from django.db import connection

EVENT_SCHEMA = {
    "case": pl.String,
    "activity": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "pos": pl.Int64,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def epoch_us(ts: datetime) -> int:
    """Exact microseconds since the epoch (float seconds lose the last digit)."""
    return (ts - _EPOCH) // _US


def frame_from_events(events: Iterable[tuple]) -> pl.DataFrame:
    """A frame from ``(case, activity, timestamp, …)`` tuples; position = order given."""
    cases, activities, stamps = [], [], []
    for event in events:
        cases.append(event[0])
        activities.append(event[1])
        stamps.append(epoch_us(event[2]))
    return _frame(cases, activities, stamps, list(range(len(cases))))


def _frame(cases, activities, stamps, positions) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "case": pl.Series(cases, dtype=pl.String),
            "activity": pl.Series(activities, dtype=pl.String),
            "ts": pl.Series(stamps, dtype=pl.Int64)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC"),
            "pos": pl.Series(positions, dtype=pl.Int64),
        }
    )


def frame_from_db(log_id: int) -> pl.DataFrame:
    """The events of one log. PostgreSQL streams them out with COPY (epoch microseconds, so no
    datetime objects are built in Python); SQLite hands over its stored text."""
    from ..models import Event

    table = Event._meta.db_table
    if connection.vendor == "postgresql":
        # COPY takes no bind parameters; the id is an int and the table name our own.
        sql = (
            "COPY (SELECT case_id, activity, "  # noqa: S608
            "(EXTRACT(EPOCH FROM timestamp) * 1000000)::bigint, position "
            f"FROM {table} WHERE log_id = {int(log_id)}) TO STDOUT WITH (FORMAT csv)"
        )
        buffer = io.BytesIO()
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return _frame([], [], [], [])
        buffer.seek(0)
        raw = pl.read_csv(
            buffer,
            has_header=False,
            new_columns=["case", "activity", "us", "pos"],
            schema_overrides={
                "case": pl.String,
                "activity": pl.String,
                "us": pl.Int64,
                "pos": pl.Int64,
            },
        )
        return raw.select(
            "case",
            "activity",
            pl.col("us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("ts"),
            "pos",
        )
    with connection.cursor() as cursor:
        cursor.execute(
            # CAST: the text as stored, not a datetime per row built by the sqlite3 converter.
            f"SELECT case_id, activity, CAST(timestamp AS TEXT), position FROM {table} "  # noqa: S608
            "WHERE log_id = %s",
            [log_id],
        )
        rows = cursor.fetchall()
    if not rows:
        return _frame([], [], [], [])
    cases, activities, stamps, positions = zip(*rows, strict=True)
    ts = (
        pl.Series(stamps, dtype=pl.String)
        .str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us")
        .dt.replace_time_zone("UTC")
    )
    return pl.DataFrame(
        {
            "case": pl.Series(cases, dtype=pl.String),
            "activity": pl.Series(activities, dtype=pl.String),
            "ts": ts,
            "pos": pl.Series(positions, dtype=pl.Int64),
        }
    )
