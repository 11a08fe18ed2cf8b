"""Factories for discovery tests (factory_boy)."""

import datetime

import factory

from apps.discovery.models import Observation, ProcessMap
from tests.factories import TeamFactory


class ProcessMapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcessMap

    slug = factory.Sequence(lambda n: f"process-{n}")
    name = factory.Sequence(lambda n: f"Process {n}")
    team = factory.SubFactory(TeamFactory)


class ObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Observation

    process_map = factory.SubFactory(ProcessMapFactory)
    kind = Observation.Kind.NOTE
    activity = ""
    text = factory.Sequence(lambda n: f"Something seen {n}")
    observed_on = datetime.date(2024, 3, 4)
