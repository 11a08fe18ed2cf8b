"""The supervisor group: its one permission, accounts.view_all_teams, lets its members see every
team's cases (staff status no longer does). What they may do with them is still up to their role.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPERVISOR = "supervisor"
CODENAME = "view_all_teams"


def grant(apps, schema_editor):
    # Permissions are normally made after migrations; make this one now so it can be granted.
    config = apps.get_app_config("accounts")
    config.models_module = True
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPERVISOR)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="accounts", codename=CODENAME)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_team_view_all_teams"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
