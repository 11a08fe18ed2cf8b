"""The discovery itself: directly-follows graph, start/end, variants, bottleneck, rework,
rare variants, case durations. Returns plain JSON-ready data (the --json / API shape)."""

from __future__ import annotations

import polars as pl

# An edge competes for "the bottleneck" only when at least this share of cases take it: a
# wait seen in three cases out of thirteen thousand is an anecdote, not a bottleneck.
BOTTLENECK_MIN_CASE_SHARE = 0.01
RARE_SHARE_DEFAULT = 0.01

# Case-duration histogram: equal-width bins from the shortest case to the longest.
DURATION_BINS = 12


def _seconds(expr: pl.Expr) -> pl.Expr:
    return expr.dt.total_microseconds().cast(pl.Float64) / 1_000_000


def _r(value: float | None) -> float | None:
    # Microsecond precision is all the timestamps carry; rounding keeps float noise out of JSON.
    return None if value is None else round(float(value), 6)


def ordered(frame: pl.DataFrame) -> pl.DataFrame:
    """Events sorted as the conventions order them: by case, then time, then file position."""
    return frame.sort(["case", "ts", "pos"])


def _numbered(events: pl.DataFrame) -> pl.DataFrame:
    # A dense integer per case (the events are sorted by case): grouping by it is several
    # times faster than grouping by the case's name.
    return events.with_columns(
        cid=(pl.col("case") != pl.col("case").shift()).fill_null(True).cum_sum()
    )


def discover(frame: pl.DataFrame, *, rare_share: float = RARE_SHARE_DEFAULT) -> dict:
    """Mine an event frame (any order). See the package docstring for the conventions."""
    if frame.height == 0:
        return _empty()
    events = _numbered(ordered(frame))
    cases = events.group_by("cid", maintain_order=True).agg(
        trace=pl.col("activity"),
        first=pl.col("activity").first(),
        last=pl.col("activity").last(),
        duration_s=_seconds(pl.col("ts").last() - pl.col("ts").first()),
    )
    n_cases = cases.height
    edges = _edges(events)
    variants = (
        cases.group_by("trace")
        .agg(count=pl.len())
        .with_columns(share=pl.col("count") / n_cases)
        .sort(["count", "trace"], descending=[True, False])
    )
    variant_rows = [
        {"activities": trace, "count": count, "share": _r(share)}
        for trace, count, share in variants.iter_rows()
    ]
    activity_counts = (
        events.group_by("activity")
        .agg(events=pl.len(), cases=pl.col("cid").n_unique())
        .sort(["events", "activity"], descending=[True, False])
    )
    return {
        "events": events.height,
        "cases": n_cases,
        "activities": activity_counts.height,
        "edges": edges,
        "start": _counts(cases["first"]),
        "end": _counts(cases["last"]),
        "variants": variant_rows,
        "bottleneck": bottleneck(edges, n_cases),
        "rework": _rework(events),
        "rework_cases": _rework_cases(events),
        "rare_variants": rare_variants(variant_rows, rare_share),
        "activity_counts": [
            {"activity": a, "events": e, "cases": c} for a, e, c in activity_counts.iter_rows()
        ],
        "case_duration": _durations(cases["duration_s"]),
    }


def _empty() -> dict:
    return {
        "events": 0,
        "cases": 0,
        "activities": 0,
        "edges": [],
        "start": {},
        "end": {},
        "variants": [],
        "bottleneck": None,
        "rework": [],
        "rework_cases": 0,
        "rare_variants": rare_variants([], RARE_SHARE_DEFAULT),
        "activity_counts": [],
        "case_duration": None,
    }


def _edges(events: pl.DataFrame) -> list[dict]:
    nxt = events.select(
        "cid",
        pl.col("activity").alias("from"),
        pl.col("activity").shift(-1).alias("to"),
        _seconds(pl.col("ts").shift(-1) - pl.col("ts")).alias("wait_s"),
        (pl.col("cid").shift(-1) == pl.col("cid")).alias("same_case"),
    ).filter(pl.col("same_case"))
    grouped = (
        nxt.group_by(["from", "to"])
        .agg(
            count=pl.len(),
            cases=pl.col("cid").n_unique(),
            mean_s=pl.col("wait_s").mean(),
            median_s=pl.col("wait_s").median(),
        )
        .sort(["count", "from", "to"], descending=[True, False, False])
    )
    return [
        {
            "from": a,
            "to": b,
            "count": count,
            "cases": n_cases,
            "mean_s": _r(mean),
            "median_s": _r(median),
        }
        for a, b, count, n_cases, mean, median in grouped.iter_rows()
    ]


def bottleneck(edges: list[dict], n_cases: int) -> dict | None:
    """The edge with the largest median wait among those taken by ≥ 1% of cases."""
    floor = BOTTLENECK_MIN_CASE_SHARE * n_cases
    eligible = [e for e in edges if e["cases"] >= floor]
    if not eligible:
        return None
    best = max(eligible, key=lambda e: (e["median_s"], e["count"]))
    return {**best, "case_share": _r(best["cases"] / n_cases) if n_cases else 0.0}


def _counts(series: pl.Series) -> dict[str, int]:
    counted = series.value_counts(name="n").sort(["n", series.name], descending=[True, False])
    return dict(counted.iter_rows())


def _repeats(events: pl.DataFrame) -> pl.DataFrame:
    return events.group_by(["cid", "activity"]).agg(n=pl.len()).filter(pl.col("n") > 1)


def _rework(events: pl.DataFrame) -> list[dict]:
    per_activity = (
        _repeats(events)
        .group_by("activity")
        .agg(cases=pl.len(), repeats=(pl.col("n") - 1).sum())
        .sort(["cases", "activity"], descending=[True, False])
    )
    return [
        {"activity": a, "cases": cases, "repeats": repeats}
        for a, cases, repeats in per_activity.iter_rows()
    ]


def _rework_cases(events: pl.DataFrame) -> int:
    return _repeats(events)["cid"].n_unique()


def rare_variants(variants: list[dict], share: float) -> dict:
    """The exceptions: variants whose share of cases is under ``share``."""
    rare = [v for v in variants if v["share"] < share]
    total = sum(v["count"] for v in variants)
    rare_cases = sum(v["count"] for v in rare)
    return {
        "below_share": share,
        "variants": len(rare),
        "cases": rare_cases,
        "case_share": _r(rare_cases / total) if total else 0.0,
    }


def _durations(durations: pl.Series) -> dict:
    values = durations.sort()
    low, high = float(values.min()), float(values.max())
    width = (high - low) / DURATION_BINS
    histogram = []
    if width == 0:
        histogram.append({"from_s": _r(low), "to_s": _r(high), "count": values.len()})
    else:
        bins = ((values - low) / width).floor().clip(0, DURATION_BINS - 1).cast(pl.Int64)
        counts = dict(bins.value_counts().iter_rows())
        for i in range(DURATION_BINS):
            histogram.append(
                {
                    "from_s": _r(low + i * width),
                    "to_s": _r(low + (i + 1) * width),
                    "count": counts.get(i, 0),
                }
            )
    return {
        "min_s": _r(low),
        "median_s": _r(values.median()),
        "mean_s": _r(values.mean()),
        "p90_s": _r(values.quantile(0.9, interpolation="linear")),
        "max_s": _r(high),
        "histogram": histogram,
    }
