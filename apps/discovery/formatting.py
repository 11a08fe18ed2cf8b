"""Numbers as people read them."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """A wait or a case duration in the largest unit that keeps it readable: 42 s, 5.2 min,
    3.4 h, 2.1 d."""
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    if s < 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"
