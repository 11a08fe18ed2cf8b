"""Open a log file: count the bytes read (for progress), undo gzip, tell CSV from XES."""

from __future__ import annotations

import gzip
import io
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from .errors import EMPTY_FILE, NOT_A_LOG, LogFormatError

GZIP_MAGIC = b"\x1f\x8b"
PROGRESS_EVERY_S = 0.5
SNIFF_BYTES = 4096


class Format(StrEnum):
    CSV = "csv"
    XES = "xes"


@dataclass
class OpenedLog:
    format: Format
    gzipped: bool
    stream: io.BufferedIOBase  # the decompressed bytes


class _Counting(io.RawIOBase):
    """Counts the bytes read from ``raw`` and reports them at most every PROGRESS_EVERY_S."""

    def __init__(self, raw: BinaryIO, on_progress: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.read_bytes = 0
        self.on_progress = on_progress
        self._last = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.read_bytes += n
        if self.on_progress is not None:
            now = time.monotonic()
            if now - self._last >= PROGRESS_EVERY_S or n == 0:
                self._last = now
                self.on_progress(self.read_bytes)
        return n


class _Decompressed(io.RawIOBase):
    """A gzip stream whose corruption is told as a LogFormatError, not an OSError."""

    def __init__(self, fileobj: io.BufferedIOBase) -> None:
        self.gz = gzip.GzipFile(fileobj=fileobj, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            return self.gz.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            raise LogFormatError(
                f"The file is gzipped but cannot be decompressed ({exc}); it may be truncated."
            ) from None


def open_log(raw: BinaryIO, *, on_progress: Callable[[int], None] | None = None) -> OpenedLog:
    """Wrap ``raw`` for reading; raises LogFormatError for an empty file or one that is neither
    CSV nor XML."""
    counted = io.BufferedReader(_Counting(raw, on_progress), buffer_size=1 << 16)
    gzipped = counted.peek(2)[:2] == GZIP_MAGIC
    stream = io.BufferedReader(_Decompressed(counted), 1 << 16) if gzipped else counted
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not stripped:
        if not head:
            raise LogFormatError(EMPTY_FILE)
        raise LogFormatError(f"{EMPTY_FILE[:-1]} (only blank space).")
    if stripped.startswith(b"<"):
        return OpenedLog(format=Format.XES, gzipped=gzipped, stream=stream)
    if b"\x00" in head:
        raise LogFormatError(NOT_A_LOG)
    return OpenedLog(format=Format.CSV, gzipped=gzipped, stream=stream)
