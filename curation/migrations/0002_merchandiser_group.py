"""The Merchandiser group: manage rules, preview, see their history; view items and model versions."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Merchandiser"
PERMISSIONS = [
    ("curation", "rule", ["add_rule", "change_rule", "delete_rule", "view_rule", "preview_rules"]),
    ("curation", "historicalrule", ["view_historicalrule"]),
    ("recsys", "item", ["view_item"]),
    ("recsys", "modelversion", ["view_modelversion"]),
]


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for label in ("curation", "recsys"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, codenames in PERMISSIONS:
        perms = Permission.objects.filter(
            content_type__app_label=app_label, content_type__model=model, codename__in=codenames
        )
        if perms.count() != len(codenames):
            raise RuntimeError(f"missing permissions for {app_label}.{model}: {codenames}")
        group.permissions.add(*perms)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0001_rules"),
        ("recsys", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
