"""Factories shared by every app's tests (factory_boy)."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.accounts.models import Team
from apps.workflows.models import Step, Workflow, WorkflowVersion


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    password = factory.django.Password("pw")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """Several groups at once: ``roles=[OPERATOR, SUPERVISOR]``."""
        if create and extracted:
            self.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in extracted))

    @factory.post_generation
    def team(self, create, extracted, **kwargs):
        if create and extracted:
            extracted.members.add(self)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    slug = factory.Sequence(lambda n: f"workflow-{n}")
    name = factory.Sequence(lambda n: f"Workflow {n}")
    team = factory.SubFactory(TeamFactory)
    status = Workflow.Status.LIVE


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkflowVersion

    workflow = factory.SubFactory(WorkflowFactory)
    number = factory.Sequence(lambda n: n + 1)
    published_at = factory.LazyFunction(timezone.now)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    version = factory.SubFactory(VersionFactory)
    position = factory.Sequence(lambda n: n + 1)
    key = factory.Sequence(lambda n: f"step-{n}")
    name = factory.Sequence(lambda n: f"Step {n}")
    action = "rules.check"
    config = factory.LazyFunction(dict)
    bounds = factory.LazyFunction(list)
    max_attempts = 3
    initial_interval_s = 0.05
    backoff_coefficient = 2.0
    max_interval_s = 0.2
    jitter = 0.0
    timeout_s = 5.0


def workflow_with_steps(*steps: dict, status: str = Workflow.Status.LIVE, **workflow_fields):
    """A workflow whose one published version has the given steps (StepFactory fields)."""
    workflow = WorkflowFactory(status=status, **workflow_fields)
    version = VersionFactory(workflow=workflow, number=1)
    for position, fields in enumerate(steps, start=1):
        StepFactory(
            version=version, position=position, key=fields.pop("key", f"s{position}"), **fields
        )
    return workflow
