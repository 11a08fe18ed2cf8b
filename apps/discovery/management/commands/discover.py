"""Mine a process map's event log and print the results (``--json``: the API's JSON)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ...formatting import duration
from ...models import EventLog, ProcessMap
from ...selectors import discovery_payload, log_of


class Command(BaseCommand):
    help = "Print the discovery of a process map's newest ready log (or --log <id>)."

    def add_arguments(self, parser):
        parser.add_argument("map_slug")
        parser.add_argument("--log", type=int, default=None, help="Id of one of the map's logs.")
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args, **options):
        process_map = ProcessMap.objects.filter(slug=options["map_slug"]).first()
        if process_map is None:
            raise CommandError(f"No process map {options['map_slug']!r}.")
        log = log_of(process_map, options["log"])
        if log is None:
            which = f"log {options['log']}" if options["log"] is not None else "ready log"
            raise CommandError(f"The map {process_map.slug!r} has no {which}.")
        if log.status != EventLog.Status.READY:
            raise CommandError(f"Log {log.pk} is {log.get_status_display().lower()}, not ready.")
        payload = discovery_payload(log)
        if options["json"]:
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self._summary(payload)

    def _summary(self, d: dict) -> None:
        out = self.stdout.write
        out(f"Log {d['log']['id']} ({d['log']['name']}) of map {d['map']}")
        out(
            f"{d['events']} events, {d['cases']} cases, {d['activities']} activities, "
            f"{len(d['edges'])} directly-follows edges, {len(d['variants'])} variants"
        )
        b = d["bottleneck"]
        if b:
            out(
                f"Bottleneck: {b['from']} → {b['to']}: median wait {duration(b['median_s'])}, "
                f"mean {duration(b['mean_s'])}, {b['count']} times in {b['cases']} cases"
            )
        for row in d["rework"][:5]:
            out(f"Rework: {row['activity']} repeated in {row['cases']} cases")
