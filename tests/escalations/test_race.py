"""Twenty people claim the same case at the same moment, for real, on PostgreSQL."""

import re
import threading

import pytest
from django.db import connection
from django.test import Client

from apps.accounts.roles import OPERATOR
from apps.escalations.models import Escalation
from apps.runs.models import RunEvent
from tests.escalations.factories import escalate, htmx
from tests.factories import UserFactory

THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_of_twenty_simultaneous_claims_exactly_one_wins_and_the_rest_learn_who(
    on_postgres, team, workflow
):
    escalation = escalate(workflow, "INV-RACE")
    people = [
        UserFactory(username=f"op{n}", first_name="Op", last_name=str(n), team=team, role=OPERATOR)
        for n in range(THREADS)
    ]
    clients = []
    for person in people:
        client = Client()
        client.force_login(person)
        clients.append(client)
    barrier = threading.Barrier(THREADS)
    results: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def claim(client: Client, person) -> None:
        try:
            barrier.wait(timeout=30)
            response = client.post(f"/inbox/{escalation.pk}/claim/", headers=htmx())
            with lock:
                results.append((person.username, response.status_code, response.content.decode()))
        finally:
            connection.close()  # each thread had its own connection

    threads = [
        threading.Thread(target=claim, args=(c, p)) for c, p in zip(clients, people, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == THREADS
    statuses = sorted(status for _, status, _ in results)
    assert statuses == [200] + [409] * (THREADS - 1)
    [winner] = [username for username, status, _ in results if status == 200]
    winner_name = f"Op {winner[2:]}"
    for _, status, html in results:
        if status == 409:
            assert re.search(rf"Claimed by {winner_name} at \d\d:\d\d\.", html)
    fresh = Escalation.objects.get(pk=escalation.pk)
    assert fresh.assignee.username == winner
    assert fresh.status == Escalation.Status.CLAIMED
    assert fresh.run.events.filter(kind=RunEvent.Kind.CLAIMED).count() == 1
