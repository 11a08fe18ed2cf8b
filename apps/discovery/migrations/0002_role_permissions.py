"""What each role may do with process maps in Django admin (staff status is still needed)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

IMPLEMENTER = {
    "processmap": "add change delete view",
    "observation": "add change delete view",
    "eventlog": "view",
}
MANAGER = {"processmap": "view", "observation": "view", "eventlog": "view"}


def grant(apps, schema_editor):
    config = apps.get_app_config("discovery")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, table in (("implementer", IMPLEMENTER), ("manager", MANAGER)):
        group, _ = Group.objects.get_or_create(name=role)
        for model, actions in table.items():
            codenames = [f"{action}_{model}" for action in actions.split()]
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label="discovery", codename__in=codenames
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_role_permissions"),
        ("discovery", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
