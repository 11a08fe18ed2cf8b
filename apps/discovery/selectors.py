"""Reads for the discovery pages, the command and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Count, Q, QuerySet

from apps.accounts.roles import IMPLEMENTER
from apps.accounts.selectors import sees_all_teams, teams_of

from .mining import discover, frame_from_db
from .models import Event, EventLog, Observation, ProcessMap
from .parsing import CsvPreview, Format, csv_preview, open_log

CASES_SHOWN = 200


def process_maps_for(user) -> QuerySet[ProcessMap]:
    """Maps of the teams ``user`` may see, with what the list shows already joined."""
    maps = ProcessMap.objects.select_related("team", "owner", "workflow").annotate(
        observation_count=Count("observations", distinct=True),
        ready_logs=Count("logs", filter=Q(logs__status=EventLog.Status.READY), distinct=True),
    )
    if sees_all_teams(user):
        return maps
    return maps.filter(team__in=teams_of(user))


def process_map_for(user, slug: str) -> ProcessMap:
    """Raises ProcessMap.DoesNotExist for a map ``user`` may not see."""
    return process_maps_for(user).get(slug=slug)


def can_create_maps(user) -> bool:
    return sees_all_teams(user) or user.groups.filter(name=IMPLEMENTER).exists()


def can_edit_map(user, process_map: ProcessMap) -> bool:
    """Implementers of the map's team (and staff) change the map and import logs; anyone who
    sees it may add observations."""
    if sees_all_teams(user):
        return True
    return (
        user.groups.filter(name=IMPLEMENTER).exists()
        and process_map.team.members.filter(pk=user.pk).exists()
    )


def logs_of(process_map: ProcessMap) -> QuerySet[EventLog]:
    return process_map.logs.defer("discovery").select_related("uploaded_by")


def log_of(process_map: ProcessMap, log_id: int | None) -> EventLog | None:
    """The log asked for, else the newest ready one."""
    logs = process_map.logs.all()
    if log_id is not None:
        return logs.filter(pk=log_id).first()
    return logs.filter(status=EventLog.Status.READY).order_by("-finished_at", "-id").first()


def discovery_of(log: EventLog) -> dict:
    """The mining results of a ready log (kept on the log when it was imported)."""
    if log.discovery is None:
        return discover(frame_from_db(log.pk))
    return log.discovery


def discovery_payload(log: EventLog) -> dict:
    """The machine-readable discovery: the command's --json and the API answer alike."""
    result = discovery_of(log)
    return {"map": log.process_map.slug, "log": {"id": log.pk, "name": log.name}, **result}


def observations_of(process_map: ProcessMap) -> QuerySet[Observation]:
    return process_map.observations.select_related("observed_by")


def observations_by_activity(process_map: ProcessMap) -> dict[str, list[Observation]]:
    pinned: dict[str, list[Observation]] = {}
    for observation in observations_of(process_map):
        pinned.setdefault(observation.activity, []).append(observation)
    return pinned


def log_preview(log: EventLog) -> CsvPreview | None:
    from .services import log_file_stream

    if log.format != EventLog.Format.CSV:
        return None
    opened = open_log(log_file_stream(log))
    if opened.format != Format.CSV:
        return None
    return csv_preview(opened.stream)


# ---------------------------------------------------------------------------------------------
# The cases behind a node or an edge of the map (window functions, in the database).


@dataclass
class CaseRow:
    case_id: str
    wait_s: float | None = None


@dataclass
class CasesBehind:
    title: str
    total: int
    rows: list[CaseRow]


def cases_with_activity(log: EventLog, activity: str) -> CasesBehind:
    cases = (
        Event.objects.filter(log=log, activity=activity)
        .values("case_id")
        .annotate(times=Count("id"))
        .order_by("-times", "case_id")
    )
    total = cases.count()
    rows = [CaseRow(case_id=row["case_id"]) for row in cases[:CASES_SHOWN]]
    return CasesBehind(title=activity, total=total, rows=rows)


def cases_with_edge(log: EventLog, source: str, target: str) -> CasesBehind:
    """Cases in which ``target`` directly follows ``source``, slowest first.

    LEAD over each case's events in the database; the activity filter must apply after the
    window (a WHERE beside it would drop the events in between), hence the subquery.
    """
    table = Event._meta.db_table
    sql = f"""
        SELECT case_id, timestamp, next_at FROM (
            SELECT case_id, activity, timestamp,
                   LEAD(activity) OVER w AS next_activity,
                   LEAD(timestamp) OVER w AS next_at
            FROM {table} WHERE log_id = %s
            WINDOW w AS (PARTITION BY case_id ORDER BY timestamp, position)
        ) pairs
        WHERE activity = %s AND next_activity = %s
    """  # noqa: S608 - the table name is ours; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [log.pk, source, target])
        pairs = cursor.fetchall()
    slowest: dict[str, float] = {}
    for case_id, at, next_at in pairs:
        wait = (_aware(next_at) - _aware(at)).total_seconds()
        if wait >= slowest.get(case_id, -1.0):
            slowest[case_id] = wait
    ordered = sorted(slowest.items(), key=lambda item: (-item[1], item[0]))
    rows = [CaseRow(case_id=c, wait_s=w) for c, w in ordered[:CASES_SHOWN]]
    return CasesBehind(title=f"{source} → {target}", total=len(slowest), rows=rows)


def _aware(value) -> datetime:
    # SQLite hands back a window function's timestamps as their stored text (UTC).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def case_trace(log: EventLog, case_id: str) -> list[Event]:
    return list(Event.objects.filter(log=log, case_id=case_id).order_by("timestamp", "position"))


# ---------------------------------------------------------------------------------------------
# The map page


VARIANTS_SHOWN = 12
RARE_SHARES = (0.001, 0.005, 0.01, 0.05)


@dataclass
class MapPage:
    discovery: dict
    graph: dict
    variants: list[dict]
    variants_max_share: float
    rare: dict
    rare_share: float
    rework: list[dict]
    duration_max: int
    activity_names: list[str]


def map_page(*, log: EventLog, pinned: dict[str, list[Observation]], rare_share: float) -> MapPage:
    from .mining import rare_variants

    d = discovery_of(log)
    rework_by_activity = {r["activity"]: r for r in d["rework"]}
    nodes = [
        {
            "id": row["activity"],
            "events": row["events"],
            "cases": row["cases"],
            "start": d["start"].get(row["activity"], 0),
            "end": d["end"].get(row["activity"], 0),
            "rework_cases": rework_by_activity.get(row["activity"], {}).get("cases", 0),
            "observations": [
                {"kind": o.get_kind_display(), "text": o.text[:140]}
                for o in pinned.get(row["activity"], [])
            ],
        }
        for row in d["activity_counts"]
    ]
    bottleneck = d["bottleneck"]
    graph = {
        "cases": d["cases"],
        "nodes": nodes,
        "edges": [
            {k: e[k] for k in ("from", "to", "count", "cases", "mean_s", "median_s")}
            for e in d["edges"]
        ],
        "start": d["start"],
        "end": d["end"],
        "bottleneck": [bottleneck["from"], bottleneck["to"]] if bottleneck else None,
    }
    variants = d["variants"][:VARIANTS_SHOWN]
    rework = [
        {**r, "share": r["cases"] / d["cases"] if d["cases"] else 0.0} for r in d["rework"][:5]
    ]
    histogram = (d["case_duration"] or {}).get("histogram", [])
    return MapPage(
        discovery=d,
        graph=graph,
        variants=variants,
        variants_max_share=max((v["share"] for v in variants), default=0),
        rare=rare_variants(d["variants"], rare_share),
        rare_share=rare_share,
        rework=rework,
        duration_max=max((b["count"] for b in histogram), default=0),
        activity_names=[row["activity"] for row in d["activity_counts"]],
    )


def activity_names(log: EventLog | None) -> list[str]:
    if log is None or log.status != EventLog.Status.READY:
        return []
    return [row["activity"] for row in discovery_of(log)["activity_counts"]]


# ---------------------------------------------------------------------------------------------
# Ideal versus real


def case_traces(log: EventLog) -> dict[tuple[str, ...], list[str]]:
    """Case ids by their sequence of activities (the variants, with their cases)."""
    import polars as pl

    from .mining.discover import ordered

    frame = ordered(frame_from_db(log.pk))
    traces = frame.group_by("case", maintain_order=True).agg(pl.col("activity"))
    grouped: dict[tuple[str, ...], list[str]] = {}
    for case_id, trace in traces.iter_rows():
        grouped.setdefault(tuple(trace), []).append(case_id)
    return grouped


def conformance_of(log: EventLog, process_map: ProcessMap):
    from .conformance import conformance

    if not process_map.ideal_paths:
        return None
    return conformance(
        discovery_of(log)["variants"], process_map.ideal_paths, process_map.accepted_deviations
    )
