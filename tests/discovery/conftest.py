"""Discovery fixtures: small logs built by hand, the public logs beside the repository."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.accounts.roles import IMPLEMENTER
from apps.discovery.models import EventLog
from apps.discovery.parsing import ColumnMapping
from apps.discovery.services import event_log_import, event_log_upload
from tests.discovery.factories import ProcessMapFactory
from tests.factories import TeamFactory, UserFactory

REPO = Path(__file__).resolve().parents[2]
# shared/ sits beside the repository (here /work/shared beside /work/main; in CI beside the
# clone). The logs are read from there, never copied in.
PUBLIC_LOGS = REPO.parent / "shared" / "data" / "event-logs"
T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# The small log every mining test works out by hand (times in minutes from T0):
#   case A: a@0  b@10  c@30           → a b c
#   case B: a@0  b@20  b@25  c@85     → a b b c
#   case C: a@0  c@5                  → a c
#   case D: a@0  b@10  c@40           → a b c
SMALL_LOG = [
    ("A", "a", at(0), "ann"),
    ("A", "b", at(10), "bob"),
    ("A", "c", at(30), "cy"),
    ("B", "a", at(0), "ann"),
    ("B", "b", at(20), "bob"),
    ("B", "b", at(25), "bob"),
    ("B", "c", at(85), "cy"),
    ("C", "a", at(0), "ann"),
    ("C", "c", at(5), "cy"),
    ("D", "a", at(0), "ann"),
    ("D", "b", at(10), "bob"),
    ("D", "c", at(40), "cy"),
]


def events_csv(events, header=("case", "activity", "time", "who")) -> bytes:
    lines = [",".join(header)]
    lines += [f"{c},{a},{t.isoformat()},{r}" for c, a, t, r in events]
    return ("\n".join(lines) + "\n").encode()


SMALL_MAPPING = ColumnMapping(case="case", activity="activity", timestamp="time", resource="who")


@pytest.fixture
def small_log_events():
    return list(SMALL_LOG)


@pytest.fixture
def team():
    return TeamFactory(name="Service desk", slug="service-desk")


@pytest.fixture
def implementer(team):
    return UserFactory(username="ines", team=team, role=IMPLEMENTER)


@pytest.fixture
def process_map(team):
    return ProcessMapFactory(name="Ticket handling", slug="tickets", team=team)


def import_bytes(process_map, data: bytes, *, filename="log.csv", mapping=None) -> EventLog:
    """Upload and import now, in this process (the job's own code, without RQ)."""
    log = event_log_upload(
        process_map=process_map, source=io.BytesIO(data), filename=filename, mapping=mapping
    )
    if log.status == EventLog.Status.MAPPING:
        from apps.discovery.services import event_log_queue

        log = event_log_queue(log=log, mapping=mapping or ColumnMapping())
    event_log_import(log_id=log.pk)
    log.refresh_from_db()
    return log


@pytest.fixture
def small_log(db, process_map):
    log = import_bytes(process_map, events_csv(SMALL_LOG), mapping=SMALL_MAPPING)
    assert log.status == EventLog.Status.READY, log.error
    return log


PUBLIC_LOGS_MISSING = pytest.mark.skipif(
    not PUBLIC_LOGS.is_dir(),
    reason=f"public event logs not found at {PUBLIC_LOGS} (shared/ beside the repository)",
)


@pytest.fixture(scope="session")
def public_logs() -> Path:
    """The shared public logs; a test that asks for them is skipped (with the reason printed by
    -ra) where the folder is absent, and runs wherever it exists, as in CI."""
    return PUBLIC_LOGS


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "public_logs" in getattr(item, "fixturenames", ()):
            item.add_marker(PUBLIC_LOGS_MISSING)


def readme_counts(folder: Path) -> dict[str, dict[str, int]]:
    """The README's table: file name → events, cases, activities, edges, variants."""
    counts = {}
    for line in (folder / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[0].startswith("`"):
            continue
        numbers = [int(c.replace(",", "")) for c in cells[2:]]
        names = re.findall(r"`([^`]+)`", cells[0])
        stem = names[0].split(".")[0]
        for name in names:
            full = name if name.startswith(stem) else stem + name
            counts[full] = dict(
                zip(["events", "cases", "activities", "edges", "variants"], numbers, strict=True)
            )
    return counts
