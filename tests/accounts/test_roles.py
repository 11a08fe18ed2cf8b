import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def test_the_three_roles_exist_as_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "operator",
        "implementer",
        "manager",
    }


def test_implementers_may_edit_workflows_and_managers_only_read_them():
    implementer = Group.objects.get(name="implementer").permissions.values_list(
        "codename", flat=True
    )
    manager = Group.objects.get(name="manager").permissions.values_list("codename", flat=True)
    assert {"change_workflow", "add_step", "view_run"} <= set(implementer)
    assert "view_workflow" in manager and "change_workflow" not in manager


def test_a_staff_implementer_sees_workflows_in_admin(client):
    from tests.factories import UserFactory

    user = UserFactory(username="impl", role="implementer", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/workflows/workflow/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403
