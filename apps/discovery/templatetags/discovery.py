from django import template

from ..formatting import duration as format_duration

register = template.Library()


@register.filter
def duration(seconds):
    """Seconds as people read them: 42 s, 5.2 min, 3.4 h, 2.1 d."""
    return format_duration(seconds)


@register.filter
def percent(share, digits=1):
    """A share (0–1) as a percentage."""
    if share is None:
        return "–"
    return f"{100 * float(share):.{int(digits)}f}%"


@register.filter
def bar_width(value, maximum):
    """Width (percent) of a bar for ``value`` on a scale up to ``maximum``."""
    if not maximum:
        return 0
    return round(100 * float(value) / float(maximum), 1)


@register.filter
def thousands(value):
    """1234567 → 1,234,567."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value
