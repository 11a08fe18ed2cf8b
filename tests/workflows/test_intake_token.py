"""Intake tokens: made by a service or `manage.py intake_token`, shown once, stored hashed."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.workflows.models import IntakeToken, Workflow
from apps.workflows.services import (
    intake_token_create,
    intake_token_lookup,
    intake_token_mark_used,
    intake_token_revoke,
    intake_token_revoke_all,
)
from tests.factories import UserFactory, workflow_with_steps

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow():
    return workflow_with_steps({"action": "rules.check"}, slug="invoices")


def post_case(client, token):
    return client.post(
        "/api/v1/workflows/invoices/runs",
        {"external_id": "INV-1", "data": {}},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


# ---------------------------------------------------------------------------------------------
# The service


def test_a_new_token_is_random_prefixed_and_stored_only_as_its_sha256_digest(workflow):
    row, token = intake_token_create(workflow=workflow)
    _, other = intake_token_create(workflow=workflow)

    assert token.startswith("hnd_")
    assert len(token) >= 40
    assert token != other
    row.refresh_from_db()
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:12]
    assert token not in {row.digest, row.prefix}


def test_lookup_finds_a_live_token_with_its_workflow(workflow, django_assert_num_queries):
    row, token = intake_token_create(workflow=workflow)

    with django_assert_num_queries(1):
        found = intake_token_lookup(token=token)
        assert found.workflow == workflow
    assert found == row


@pytest.mark.parametrize("guess", ["", "hnd_", "hnd_nope", "x" * 50, "hnd_" + "a" * 500])
def test_lookup_finds_nothing_for_a_guess(workflow, guess):
    intake_token_create(workflow=workflow)

    assert intake_token_lookup(token=guess) is None


def test_lookup_finds_nothing_for_a_revoked_token(workflow):
    row, token = intake_token_create(workflow=workflow)
    IntakeToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())

    assert intake_token_lookup(token=token) is None


def test_marking_a_token_used_writes_at_most_once_a_minute(workflow):
    row, _ = intake_token_create(workflow=workflow)

    intake_token_mark_used(token=row)
    first = IntakeToken.objects.get(pk=row.pk).last_used_at
    intake_token_mark_used(token=row)
    second = IntakeToken.objects.get(pk=row.pk).last_used_at
    IntakeToken.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
    intake_token_mark_used(token=row)
    third = IntakeToken.objects.get(pk=row.pk).last_used_at

    assert first is not None
    assert second == first
    assert third >= first


def test_revoke_all_revokes_only_the_workflows_live_tokens(workflow):
    _, token = intake_token_create(workflow=workflow)
    intake_token_create(workflow=workflow)
    other = workflow_with_steps({"action": "rules.check"})
    _, other_token = intake_token_create(workflow=other)

    revoked = intake_token_revoke_all(workflow=workflow)

    assert revoked == 2
    assert intake_token_lookup(token=token) is None
    assert intake_token_lookup(token=other_token) is not None
    assert intake_token_revoke_all(workflow=workflow) == 0


# ---------------------------------------------------------------------------------------------
# The management command


def test_the_command_prints_the_token_once_and_the_token_authenticates(workflow, capsys, client):
    call_command("intake_token", "invoices")
    printed = capsys.readouterr()

    token = printed.out.strip()
    assert token.startswith("hnd_")
    assert (printed.out + printed.err).count(token) == 1
    row = IntakeToken.objects.get(workflow=workflow)
    assert row.digest != token
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert post_case(client, token).status_code == 201


def test_the_command_explains_how_to_use_the_token_with_curl(workflow, capsys):
    call_command("intake_token", "invoices")
    printed = capsys.readouterr()

    assert "shown only this once" in printed.err
    assert "curl -X POST http://" in printed.err
    assert "/api/v1/workflows/invoices/runs" in printed.err
    assert "Authorization: Bearer $HANDOFF_TOKEN" in printed.err


def test_the_command_warns_when_the_workflow_does_not_accept_cases_yet(workflow, capsys):
    Workflow.objects.filter(pk=workflow.pk).update(status=Workflow.Status.DRAFT)

    call_command("intake_token", "invoices")

    assert "is draft" in capsys.readouterr().err
    assert IntakeToken.objects.filter(workflow=workflow).exists()


def test_the_command_refuses_an_unknown_slug_naming_it(workflow):
    with pytest.raises(CommandError, match="no-such-workflow"):
        call_command("intake_token", "no-such-workflow")

    assert not IntakeToken.objects.exists()


def test_revoke_all_from_the_command_makes_the_tokens_fail(workflow, capsys, client):
    _, token = intake_token_create(workflow=workflow)

    call_command("intake_token", "invoices", "--revoke-all")

    assert capsys.readouterr().out.strip() == "Revoked 1 token(s) of workflow 'invoices'."
    assert IntakeToken.objects.get().revoked_at is not None
    assert post_case(client, token).status_code == 401


def test_admin_revokes_through_the_service_and_someone_without_the_permission_cannot(
    workflow, client
):
    row, _ = intake_token_create(workflow=workflow)
    reader = UserFactory(username="reader", is_staff=True)
    with pytest.raises(PermissionDenied):
        intake_token_revoke(tokens=IntakeToken.objects.all(), user=reader)
    assert IntakeToken.objects.get().revoked_at is None

    implementer = UserFactory(username="impl", is_staff=True)
    implementer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_intaketoken", "change_intaketoken"])
    )
    client.force_login(implementer)
    client.post(
        reverse("admin:workflows_intaketoken_changelist"),
        {"action": "revoke", "_selected_action": [row.pk]},
    )

    assert IntakeToken.objects.get().revoked_at is not None
