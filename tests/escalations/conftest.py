"""Fixtures for the inbox: two teams, their operators, a workflow whose bound can fail."""

import pytest

from apps.accounts.roles import OPERATOR
from tests.escalations.factories import BOUND
from tests.factories import TeamFactory, UserFactory, workflow_with_steps


@pytest.fixture
def team():
    return TeamFactory(name="Accounts payable", slug="ap", default_sla_minutes=240)


@pytest.fixture
def other_team():
    return TeamFactory(name="Claims", slug="claims")


@pytest.fixture
def member(team):
    return UserFactory(
        username="olivia", first_name="Olivia", last_name="Stone", team=team, role=OPERATOR
    )


@pytest.fixture
def teammate(team):
    return UserFactory(username="ana", first_name="Ana", last_name="Ruiz", team=team, role=OPERATOR)


@pytest.fixture
def outsider(other_team):
    return UserFactory(
        username="carl", first_name="Carl", last_name="Berg", team=other_team, role=OPERATOR
    )


@pytest.fixture
def workflow(team):
    return workflow_with_steps(
        {"key": "check", "name": "Check amount", "action": "rules.check", "bounds": [BOUND]},
        team=team,
        name="Invoice approval",
    )


@pytest.fixture
def other_workflow(other_team):
    return workflow_with_steps(
        {"key": "check", "name": "Check claim", "action": "rules.check"},
        team=other_team,
        name="Claims intake",
    )
