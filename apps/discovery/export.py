"""A log's events as CSV or XES, streamed (a log can hold a million events)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from xml.sax.saxutils import quoteattr

from .models import Event, EventLog

CSV_HEADER = ("case:concept:name", "concept:name", "time:timestamp", "org:resource")
CHUNK = 5000


def _events(log: EventLog):
    return (
        Event.objects.filter(log=log)
        .order_by("case_id", "timestamp", "position")
        .values_list("case_id", "activity", "timestamp", "resource")
        .iterator(chunk_size=CHUNK)
    )


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(log: EventLog) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_HEADER)
    for case_id, activity, at, resource in _events(log):
        yield writer.writerow((case_id, activity, at.isoformat(), resource))


XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xes.features="" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace"><string key="concept:name" value="UNKNOWN"/></global>
  <global scope="event">
    <string key="concept:name" value="UNKNOWN"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
"""


def xes_lines(log: EventLog) -> Iterator[str]:
    yield XES_HEAD
    yield f'  <string key="concept:name" value={quoteattr(log.name)}/>\n'
    current = None
    for case_id, activity, at, resource in _events(log):
        if case_id != current:
            if current is not None:
                yield "  </trace>\n"
            yield f'  <trace>\n    <string key="concept:name" value={quoteattr(case_id)}/>\n'
            current = case_id
        parts = [
            f'      <string key="concept:name" value={quoteattr(activity)}/>\n',
            f'      <date key="time:timestamp" value="{at.isoformat()}"/>\n',
        ]
        if resource:
            parts.append(f'      <string key="org:resource" value={quoteattr(resource)}/>\n')
        yield "    <event>\n" + "".join(parts) + "    </event>\n"
    if current is not None:
        yield "  </trace>\n"
    yield "</log>\n"
