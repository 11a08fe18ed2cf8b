"""The escalation inbox (HTMX): pages in ``pages``, the POST actions in ``actions``."""

from .actions import assign, bulk, claim, comment, release, resolve  # noqa: F401
from .pages import inbox_badge_view, inbox_detail, inbox_list  # noqa: F401
