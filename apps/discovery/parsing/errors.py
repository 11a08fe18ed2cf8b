"""What a reader says about a file it cannot read: one sentence, naming where and what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

EMPTY_FILE = "The file is empty."
NOT_A_LOG = (
    "This is not an event log: expected a CSV file with a header row or an XES file "
    "(<log> with <trace> and <event> elements), gzipped or not."
)
MAX_VALUE_LENGTH = 255


class LogFormatError(ValueError):
    """The file is not a log that can be imported; the message says where and why."""


# Formats tried after ISO 8601 (which covers XES dates and most exports), day before month:
# month-first dates are ambiguous and are refused rather than guessed.
_FALLBACK_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
)


def parse_timestamp(text: str, default_tz: timezone = UTC) -> datetime | None:
    """An aware datetime, or None when ``text`` is not a date and time we read.

    A timestamp without an offset is taken to be in ``default_tz`` (UTC unless said otherwise).
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
        for fmt in _FALLBACK_FORMATS:
            try:
                value = datetime.strptime(text, fmt)  # noqa: DTZ007 - tz added below
                break
            except ValueError:
                continue
        if value is None:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    elif value.utcoffset() is None:  # pragma: no cover - tzinfo that knows no offset
        value = value.replace(tzinfo=timezone(timedelta(0)))
    return value


def check_length(value: str, what: str, where: str) -> str:
    if len(value) > MAX_VALUE_LENGTH:
        raise LogFormatError(
            f"{where}: the {what} is longer than {MAX_VALUE_LENGTH} characters ({value[:40]!r}…)."
        )
    return value
