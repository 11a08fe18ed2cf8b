"""What each role may do in Django admin (staff status is still needed to enter it).

Implementers build workflows: they change workflows, versions and steps and read runs.
Managers and operators read; operators work in the inbox, not in admin.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

IMPLEMENTER = {
    "workflows": {"workflow": "add change view", "workflowversion": "add change view",
                  "step": "add change delete view", "intaketoken": "change view"},
    "runs": {"run": "view", "stepattempt": "view", "runevent": "view"},
    "escalations": {"escalation": "view"},
    "accounts": {"team": "view"},
}
MANAGER = {
    "workflows": {"workflow": "view", "workflowversion": "view", "step": "view"},
    "runs": {"run": "view", "stepattempt": "view", "runevent": "view"},
    "escalations": {"escalation": "view"},
    "accounts": {"team": "view"},
}


def grant(apps, schema_editor):
    # Permissions are normally made after migrations; make them now so they can be granted.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, table in (("implementer", IMPLEMENTER), ("manager", MANAGER)):
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, models in table.items():
            for model, actions in models.items():
                codenames = [f"{action}_{model}" for action in actions.split()]
                group.permissions.add(
                    *Permission.objects.filter(
                        content_type__app_label=app_label, codename__in=codenames
                    )
                )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("workflows", "0001_initial"),
        ("runs", "0001_initial"),
        ("escalations", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
