"""Merchandisers also read the curation impact report (impressions), the review queue (feedback) and the
board's change sets: the landing page and the guide send them there. Deciding on reports stays separate."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Merchandiser"
PERMISSIONS = [("recsys", "impression", "view_impression"), ("recsys", "feedback", "view_feedback"),
               ("curation", "changeset", "view_changeset")]


def grant(apps, schema_editor):
    for label in ("curation", "recsys"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                     content_type__model=model, codename=codename))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(
            codename__in=[codename for _, _, codename in PERMISSIONS],
            content_type__app_label__in=["curation", "recsys"]))


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0006_change_sets"),
        ("recsys", "0014_feedback_id"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
