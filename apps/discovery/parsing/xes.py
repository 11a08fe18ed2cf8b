"""XES event logs, read as a stream with a hardened parser.

defusedxml's expat reader refuses entity declarations and external references (billion laughs,
XXE); the SAX interface keeps no tree, so memory stays flat however long the log. Attributes are
read only where XES puts them: directly under <trace> (the case id) and directly under <event>
(activity, time, resource); nested attributes and globals are not events' data.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler

import defusedxml.sax
from defusedxml import DefusedXmlException

from .errors import NOT_A_LOG, LogFormatError, check_length, parse_timestamp

CHUNK = 1 << 16
ATTRIBUTE_TAGS = frozenset(
    {"string", "date", "int", "float", "boolean", "id", "list", "container", "values"}
)
EVENT_KEYS = frozenset({"concept:name", "time:timestamp", "org:resource"})


def _local(name: str) -> str:
    return name.rpartition(":")[2]


class _XesHandler(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ready: list[tuple[str, str, datetime, str]] = []
        self.case: str | None = None
        self.trace_line = 0
        self.trace_events: list[tuple[str, str, datetime, str]] = []
        self.trace_count = 0
        self.event: dict[str, str] | None = None
        self.event_line = 0
        self.events_in_trace = 0
        self.saw_root = False

    def _line(self) -> int:
        return self._locator.getLineNumber() if self._locator else 0

    def startElement(self, name, attrs):  # noqa: N802 - SAX's name
        tag = _local(name)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            if tag != "log":
                raise LogFormatError(
                    f"Line {self._line()}: the root element is <{name}>, not <log>. {NOT_A_LOG}"
                )
            self.saw_root = True
        elif tag == "trace" and parent == "log":
            self.case = None
            self.trace_line = self._line()
            self.trace_events = []
            self.events_in_trace = 0
            self.trace_count += 1
        elif tag == "event":
            if parent != "trace":
                raise LogFormatError(
                    f"Line {self._line()}: an <event> outside a <trace> (inside <{parent}>)."
                )
            self.event = {}
            self.event_line = self._line()
            self.events_in_trace += 1
        elif tag in ATTRIBUTE_TAGS:
            key = attrs.get("key")
            if parent == "event" and self.event is not None and key in EVENT_KEYS:
                self.event[key] = attrs.get("value", "")
            elif parent == "trace" and key == "concept:name":
                self.case = attrs.get("value", "")
        self.stack.append(tag)

    def endElement(self, name):  # noqa: N802
        tag = self.stack.pop()
        if tag == "event" and self.event is not None:
            self.trace_events.append(self._finish_event(self.event))
            self.event = None
        elif tag == "trace" and self.stack == ["log"]:
            where = f"Line {self.trace_line}: <trace> {self.trace_count}"
            if not self.case or not self.case.strip():
                raise LogFormatError(f"{where} has no concept:name (its case id).")
            case = check_length(self.case.strip(), "case id", where)
            self.ready.extend((case, a, t, r) for (_, a, t, r) in self.trace_events)
            self.trace_events = []

    def _finish_event(self, event: dict[str, str]) -> tuple[str, str, datetime, str]:
        where = (
            f"Line {self.event_line}: <event> {self.events_in_trace} of <trace> {self.trace_count}"
        )
        activity = event.get("concept:name", "").strip()
        if not activity:
            raise LogFormatError(f"{where} has no concept:name (its activity).")
        raw_ts = event.get("time:timestamp")
        if raw_ts is None:
            raise LogFormatError(f"{where} has no time:timestamp.")
        ts = parse_timestamp(raw_ts)
        if ts is None:
            raise LogFormatError(f"{where}: time:timestamp {raw_ts!r} is not a date and time.")
        resource = event.get("org:resource", "").strip()
        return (
            "",
            check_length(activity, "activity", where),
            ts,
            check_length(resource, "resource", where),
        )


def xes_events(stream: io.BufferedIOBase) -> Iterator[tuple[str, str, datetime, str]]:
    handler = _XesHandler()
    parser = defusedxml.sax.make_parser()
    parser.setContentHandler(handler)
    # parse() would hand the handler a locator; feed() does not, and the parser is one.
    handler.setDocumentLocator(parser)
    seen = 0
    try:
        while chunk := stream.read(CHUNK):
            parser.feed(chunk)
            if handler.ready:
                seen += len(handler.ready)
                yield from handler.ready
                handler.ready = []
        parser.close()
    except SAXParseException as exc:
        raise LogFormatError(
            f"Line {exc.getLineNumber()}, column {exc.getColumnNumber()}: the XML is not "
            f"well-formed ({exc.getMessage()})."
        ) from None
    except DefusedXmlException as exc:
        raise LogFormatError(
            f"The file declares XML entities or external references ({exc}); they are refused, "
            "as a defence against entity-expansion and external-entity attacks."
        ) from None
    if handler.ready:
        seen += len(handler.ready)
        yield from handler.ready
    if not handler.saw_root:
        raise LogFormatError(NOT_A_LOG)
    if not seen:
        raise LogFormatError("The XES log has no events (no <event> inside a <trace>).")
