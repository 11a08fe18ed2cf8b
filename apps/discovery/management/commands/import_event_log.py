"""Import an event log (CSV or XES, gzipped or not) into a process map, creating the map."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.models import Team

from ...models import EventLog, ProcessMap
from ...parsing import ColumnMapping
from ...services import (
    ImportRefused,
    event_log_delete,
    event_log_import_file,
    process_map_create,
)


class Command(BaseCommand):
    help = (
        "Import an event log into the process map <map-slug> (created if missing) and print "
        "the new log's id. CSV columns default to the XES names (case:concept:name, "
        "concept:name, time:timestamp, org:resource)."
    )

    def add_arguments(self, parser):
        parser.add_argument("map_slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", default="", help="Name of the log (default: file name).")
        parser.add_argument("--team", default="", help="Team slug for a new map.")
        parser.add_argument("--case", default="case:concept:name", help="CSV case column.")
        parser.add_argument("--activity", default="concept:name", help="CSV activity column.")
        parser.add_argument("--timestamp", default="time:timestamp", help="CSV time column.")
        parser.add_argument(
            "--resource", default="org:resource", help="CSV resource column ('' for none)."
        )

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        process_map, created = self._map(options["map_slug"], options["team"])
        mapping = ColumnMapping(
            case=options["case"],
            activity=options["activity"],
            timestamp=options["timestamp"],
            resource=options["resource"],
        )
        # The defaults leave the resource column optional; named columns must all be there.
        if mapping == ColumnMapping():
            mapping = None
        try:
            with path.open("rb") as source:
                log = event_log_import_file(
                    process_map=process_map,
                    source=source,
                    name=options["name"] or path.name,
                    size=path.stat().st_size,
                    mapping=mapping,
                )
        except ImportRefused as exc:
            self._undo(None, process_map if created else None)
            raise CommandError(str(exc)) from None
        if log.status != EventLog.Status.READY:
            error = log.error
            self._undo(log, process_map if created else None)
            raise CommandError(error)
        if options["verbosity"] > 1:
            self.stderr.write(
                f"{log.event_count} events, {log.case_count} cases into map {process_map.slug}"
            )
        self.stdout.write(str(log.pk))

    def _map(self, slug: str, team_slug: str) -> tuple[ProcessMap, bool]:
        existing = ProcessMap.objects.filter(slug=slug).first()
        if existing:
            return existing, False
        if team_slug:
            team = Team.objects.filter(slug=team_slug).first()
            if team is None:
                raise CommandError(f"No team with the slug {team_slug!r}.")
        else:
            teams = list(Team.objects.all()[:2])
            if len(teams) != 1:
                raise CommandError(
                    f"The map {slug!r} does not exist yet: pass --team <slug> for its team."
                )
            team = teams[0]
        name = slug.replace("-", " ").capitalize()
        return process_map_create(name=name, team=team, slug=slug), True

    def _undo(self, log: EventLog | None, process_map: ProcessMap | None) -> None:
        # A failed import keeps nothing: its log row, and the map if this command made it.
        with transaction.atomic():
            if log is not None:
                event_log_delete(log=log)
            if process_map is not None:
                process_map.delete()
