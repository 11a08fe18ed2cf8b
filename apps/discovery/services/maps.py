"""Writes for process maps and their observations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.text import slugify

from apps.accounts.models import Team

from ..models import Observation, ProcessMap

MAP_FIELDS = ("name", "team", "owner", "description", "status")
OBSERVATION_FIELDS = (
    "kind",
    "activity",
    "text",
    "times_per_week",
    "minutes_each",
    "observed_by",
    "observed_on",
)


# Paths under /discovery/ that a map's slug must not take.
RESERVED_SLUGS = frozenset({"new", "runs"})


def unique_slug(name: str, *, taken=None) -> str:
    base = slugify(name)[:70] or "process"
    if base in RESERVED_SLUGS:
        base = f"{base}-process"
    taken = taken if taken is not None else ProcessMap.objects
    slug, n = base, 2
    while taken.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def process_map_create(
    *,
    name: str,
    team: Team,
    owner=None,
    description: str = "",
    status: str = ProcessMap.Status.MAPPING,
    slug: str | None = None,
) -> ProcessMap:
    return ProcessMap.objects.create(
        slug=slug or unique_slug(name),
        name=name,
        team=team,
        owner=owner,
        description=description,
        status=status,
    )


@transaction.atomic
def process_map_update(*, process_map: ProcessMap, **fields) -> ProcessMap:
    unknown = set(fields) - set(MAP_FIELDS)
    if unknown:
        raise TypeError(f"Not a process map field: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(process_map, name, value)
    process_map.save()
    return process_map


@transaction.atomic
def observation_create(
    *,
    process_map: ProcessMap,
    kind: str,
    text: str,
    observed_on: date,
    activity: str = "",
    times_per_week: Decimal | None = None,
    minutes_each: int | None = None,
    observed_by=None,
) -> Observation:
    return Observation.objects.create(
        process_map=process_map,
        kind=kind,
        activity=activity.strip(),
        text=text.strip(),
        times_per_week=times_per_week,
        minutes_each=minutes_each,
        observed_by=observed_by,
        observed_on=observed_on,
    )


@transaction.atomic
def observation_update(*, observation: Observation, **fields) -> Observation:
    unknown = set(fields) - set(OBSERVATION_FIELDS)
    if unknown:
        raise TypeError(f"Not an observation field: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(observation, name, value.strip() if name in ("activity", "text") else value)
    observation.save()
    return observation


@transaction.atomic
def observation_delete(*, observation: Observation) -> None:
    observation.delete()


@transaction.atomic
def ideal_paths_set(
    *,
    process_map: ProcessMap,
    paths: list[list[str]],
    source: str = "",
    accepted_deviations: list[str] | None = None,
) -> ProcessMap:
    """The ideal path(s) a case should follow, and the deviations accepted as conforming."""
    cleaned = [[a.strip() for a in path if a.strip()] for path in paths]
    process_map.ideal_paths = [p for p in cleaned if p]
    process_map.ideal_source = source
    if accepted_deviations is not None:
        process_map.accepted_deviations = sorted({d.strip() for d in accepted_deviations if d})
    process_map.save(update_fields=["ideal_paths", "ideal_source", "accepted_deviations"])
    return process_map


@transaction.atomic
def deviation_accept(*, process_map: ProcessMap, deviation: str, accepted: bool) -> ProcessMap:
    current = set(process_map.accepted_deviations)
    if accepted:
        current.add(deviation)
    else:
        current.discard(deviation)
    process_map.accepted_deviations = sorted(current)
    process_map.save(update_fields=["accepted_deviations"])
    return process_map
