"""Ideal versus real: how each case compares with the ideal path(s) the implementer states.

A case conforms when its activities are exactly one ideal path. Otherwise it is compared with
the nearest ideal path (fewest insertions and deletions) and its deviations are named in words
that stay stable, so they can be counted across cases and accepted on an allowlist:

- ``skipped X``: X is on the ideal path but never happened;
- ``extra X``: X happened but is not on the ideal path;
- ``repeated X``: X happened more often than the ideal path has it;
- ``out of order: X before Y``: both happened, X first, where the ideal path has Y first.

A case whose every deviation is accepted counts as conforming "with accepted deviations".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TraceCheck:
    conforms: bool
    ideal_index: int
    first_deviation: str = ""
    skipped: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    repeated: tuple[str, ...] = ()
    out_of_order: str = ""

    @property
    def deviations(self) -> tuple[str, ...]:
        items = [f"skipped {a}" for a in self.skipped]
        items += [f"extra {a}" for a in self.extra]
        items += [f"repeated {a}" for a in self.repeated]
        if self.out_of_order:
            items.append(f"out of order: {self.out_of_order}")
        return tuple(items)

    def accepted(self, allowlist: set[str]) -> bool:
        """Conforming, or deviating only in accepted ways."""
        return self.conforms or (bool(self.deviations) and set(self.deviations) <= allowlist)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def nearest_ideal(trace: Sequence[str], ideals: Sequence[Sequence[str]]) -> int:
    """Index of the ideal path with the fewest insertions + deletions from ``trace``."""
    return min(
        range(len(ideals)),
        key=lambda i: len(trace) + len(ideals[i]) - 2 * _lcs(trace, ideals[i]),
    )


def _first_deviation(trace: Sequence[str], ideal: Sequence[str]) -> str:
    for i, (real, expected) in enumerate(zip(trace, ideal, strict=False)):
        if real != expected:
            return f"step {i + 1}: {real} instead of {expected}"
    if len(trace) > len(ideal):
        after = f"after {ideal[-1]}" if ideal else "at the start"
        return f"step {len(ideal) + 1}: {trace[len(ideal)]} {after}, where the path ends"
    return f"step {len(trace) + 1}: stopped before {ideal[len(trace)]}"


def _out_of_order(trace: Sequence[str], ideal: Sequence[str]) -> str:
    shared = set(trace) & set(ideal)
    seen: list[str] = []
    for activity in trace:
        if activity in shared and activity not in seen:
            seen.append(activity)
    expected: list[str] = []
    for activity in ideal:
        if activity in shared and activity not in expected:
            expected.append(activity)
    for real, wanted in zip(seen, expected, strict=True):
        if real != wanted:
            return f"{real} before {wanted}"
    return ""


def check_trace(trace: Sequence[str], ideals: Sequence[Sequence[str]]) -> TraceCheck:
    if not ideals:
        raise ValueError("State an ideal path first.")
    trace = tuple(trace)
    for i, ideal in enumerate(ideals):
        if trace == tuple(ideal):
            return TraceCheck(conforms=True, ideal_index=i)
    index = nearest_ideal(trace, ideals)
    ideal = ideals[index]
    real_counts, ideal_counts = Counter(trace), Counter(ideal)
    ordered_unique = list(dict.fromkeys(trace))
    return TraceCheck(
        conforms=False,
        ideal_index=index,
        first_deviation=_first_deviation(trace, ideal),
        skipped=tuple(a for a in dict.fromkeys(ideal) if real_counts[a] == 0),
        extra=tuple(a for a in ordered_unique if ideal_counts[a] == 0),
        repeated=tuple(
            a for a in ordered_unique if ideal_counts[a] and real_counts[a] > ideal_counts[a]
        ),
        out_of_order=_out_of_order(trace, ideal),
    )


@dataclass
class VariantCheck:
    activities: list[str]
    count: int
    check: TraceCheck
    accepted: bool


@dataclass
class ConformanceReport:
    cases: int
    conforming: int
    accepted: int
    variants: list[VariantCheck]
    deviations: list[dict] = field(default_factory=list)

    @property
    def conforming_share(self) -> float:
        return self.conforming / self.cases if self.cases else 0.0

    @property
    def accepted_share(self) -> float:
        return self.accepted / self.cases if self.cases else 0.0


def conformance(
    variants: Iterable[dict], ideals: Sequence[Sequence[str]], allowlist: Iterable[str] = ()
) -> ConformanceReport:
    """Check each variant once (every case of a variant deviates the same way) and count
    cases; ``variants`` as in the discovery: ``{"activities": [...], "count": n}``."""
    allowed = set(allowlist)
    checked: list[VariantCheck] = []
    by_deviation: Counter[str] = Counter()
    cases = conforming = accepted = 0
    for variant in variants:
        result = check_trace(variant["activities"], ideals)
        ok = result.accepted(allowed)
        checked.append(
            VariantCheck(
                activities=list(variant["activities"]),
                count=variant["count"],
                check=result,
                accepted=ok,
            )
        )
        cases += variant["count"]
        conforming += variant["count"] if result.conforms else 0
        accepted += variant["count"] if ok else 0
        for deviation in result.deviations:
            by_deviation[deviation] += variant["count"]
    deviations = [
        {"deviation": d, "cases": n, "share": n / cases if cases else 0.0, "accepted": d in allowed}
        for d, n in sorted(by_deviation.items(), key=lambda item: (-item[1], item[0]))
    ]
    return ConformanceReport(
        cases=cases,
        conforming=conforming,
        accepted=accepted,
        variants=checked,
        deviations=deviations,
    )
