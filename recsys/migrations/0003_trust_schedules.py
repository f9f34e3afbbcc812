"""Beat schedules for the trust tasks (editable afterwards in the admin under Periodic tasks)."""
from django.db import migrations

RETENTION = "Purge events past the retention age"
FLUSH = "Flush buffered impressions from Redis"


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="15", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    every_10s, _ = IntervalSchedule.objects.get_or_create(every=10, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=RETENTION, defaults={"task": "recsys.tasks_trust.purge_expired_events", "crontab": nightly}
    )
    PeriodicTask.objects.get_or_create(
        name=FLUSH, defaults={"task": "recsys.tasks_trust.flush_impressions", "interval": every_10s}
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[RETENTION, FLUSH]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recsys", "0002_trust"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
