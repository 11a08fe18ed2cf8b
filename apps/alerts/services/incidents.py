"""Incidents: one per problem. Raising an open fingerprint again counts an occurrence instead of
opening (and notifying) a second incident; a fingerprint raised after its incident resolved
opens a new incident marked as a regression of the old one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import Team
from apps.workflows.models import Workflow

from ..models import Incident
from .notifications import incident_changed


def incident_raise(
    *,
    fingerprint: str,
    kind: str,
    title: str,
    team: Team | None = None,
    workflow: Workflow | None = None,
    detail: dict[str, Any] | None = None,
    run_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> tuple[Incident, bool]:
    """Record one occurrence of the problem ``fingerprint``. Returns ``(incident, opened)``:
    ``opened`` is True when this occurrence opened a new incident (the one to notify about)."""
    now = now or timezone.now()
    run_ids = list(run_ids)
    for _ in range(3):
        try:
            with transaction.atomic():
                return _raise(
                    fingerprint=fingerprint,
                    kind=kind,
                    title=title,
                    team=team or (workflow.team if workflow else None),
                    workflow=workflow,
                    detail=detail or {},
                    run_ids=run_ids,
                    now=now,
                )
        except IntegrityError:
            # Two processes opened the same fingerprint at once: the other won; count on it.
            continue
    raise RuntimeError(f"Could not record incident {fingerprint!r}")


def _raise(*, fingerprint, kind, title, team, workflow, detail, run_ids, now):
    counted = Incident.objects.unresolved().filter(fingerprint=fingerprint)
    if counted.update(occurrences=F("occurrences") + 1, last_seen=now, title=title, detail=detail):
        incident = counted.get()
        opened = False
    else:
        previous = (
            Incident.objects.filter(fingerprint=fingerprint, status=Incident.Status.RESOLVED)
            .order_by("-resolved_at")
            .first()
        )
        incident = Incident.objects.create(
            fingerprint=fingerprint,
            kind=kind,
            title=title,
            detail=detail,
            team=team,
            workflow=workflow,
            first_seen=now,
            last_seen=now,
            regression_of=previous,
        )
        opened = True
    if run_ids:
        incident.runs.add(*run_ids)
    incident_changed(
        incident,
        event=("regression" if incident.regression_of_id else "opened") if opened else "occurrence",
    )
    return incident, opened


@transaction.atomic
def incident_clear(
    *, fingerprint: str, note: str = "", now: datetime | None = None
) -> Incident | None:
    """The problem is gone (the circuit closed, the backlog drained): resolve its unresolved
    incident, by the system. Returns the incident it resolved, or None."""
    now = now or timezone.now()
    incident = Incident.objects.unresolved().filter(fingerprint=fingerprint).first()
    if incident is None:
        return None
    if (
        not Incident.objects.filter(pk=incident.pk)
        .unresolved()
        .update(status=Incident.Status.RESOLVED, resolved_at=now, note=note or incident.note)
    ):
        return None
    incident.refresh_from_db()
    incident_changed(incident, event="resolved")
    return incident
