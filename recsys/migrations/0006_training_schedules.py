"""Beat schedules for training (editable afterwards in the admin under Periodic tasks):
nightly training at 02:30 UTC, and a once-a-minute check for runs whose worker was lost."""
from django.db import migrations

NIGHTLY = "Nightly model training"
REAPER = "Fail training runs whose worker was lost"


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=NIGHTLY,
        defaults={"task": "recsys.tasks.train_scheduled", "crontab": nightly, "queue": "training",
                  "description": "Train, evaluate and (if it passes the gate) activate a new model version."},
    )
    PeriodicTask.objects.get_or_create(
        name=REAPER, defaults={"task": "recsys.tasks.reap_lost_training_runs", "interval": every_minute}
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[NIGHTLY, REAPER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recsys", "0005_apiclient_demo_scope"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
