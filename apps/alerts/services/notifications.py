"""Telling people: what happens to an incident becomes notifications on the team's channels.

``incident_changed`` is called by the incident services inside their transaction, once per
change worth telling ("opened", "regression", "acknowledged", "snoozed", "resolved"; counted
occurrences are grouped into updates by the sender, not told one by one). It writes outbox
rows; a job sends them after commit, so nothing is lost if the sender dies.
"""

from __future__ import annotations

from ..models import Incident

EVENTS = ("opened", "regression", "occurrence", "acknowledged", "snoozed", "resolved")


def incident_changed(incident: Incident, *, event: str) -> None:
    """Record that ``incident`` changed by ``event`` so its team's channels hear of it."""
    if event not in EVENTS:
        raise ValueError(f"Unknown incident event {event!r}; expected one of {EVENTS}")
    # The outbox and its channels are built on this seam (issue 10, point 3 and 4).
