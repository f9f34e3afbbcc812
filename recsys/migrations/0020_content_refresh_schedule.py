# The content index refresh (issue #31): new and changed items reach the active version's content lists without a
# retraining, as a new revision (recsys.training.content).

from django.db import migrations

REFRESH = "Refresh the content index (new items)"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=REFRESH, defaults={"task": "recsys.tasks.refresh_content", "interval": every_minute})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=REFRESH).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('recsys', '0019_model_revisions'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [
        migrations.RunPython(schedule, unschedule),
    ]
