"""Impression.user_id: one plain index instead of db_index's two on PostgreSQL (the second, a LIKE
index, was written on every impression and read by nothing).

The existing index is renamed, not rebuilt: dropping and recreating it in one migration would lock
the impressions table for the whole build.
"""
from django.db import migrations, models

OLD = "recsys_impression_user_id_fa25949c"  # Django's name for the db_index index
NEW = "impression_user"


def forwards(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run(f"DROP INDEX IF EXISTS {OLD}_like")
        run(f"ALTER INDEX IF EXISTS {OLD} RENAME TO {NEW}")
    else:  # SQLite cannot rename an index, so it is rebuilt there (the single-machine default)
        run(f"DROP INDEX IF EXISTS {OLD}")
    run(f"CREATE INDEX IF NOT EXISTS {NEW} ON recsys_impression (user_id)")


def backwards(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run(f"ALTER INDEX IF EXISTS {NEW} RENAME TO {OLD}")
        run(f"CREATE INDEX IF NOT EXISTS {OLD}_like ON recsys_impression (user_id varchar_pattern_ops)")
    else:
        run(f"DROP INDEX IF EXISTS {NEW}")
    run(f"CREATE INDEX IF NOT EXISTS {OLD} ON recsys_impression (user_id)")


class Migration(migrations.Migration):

    dependencies = [
        ("recsys", "0011_impression_item_no_db_constraint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="impression",
                    name="user_id",
                    field=models.CharField(blank=True, default="", max_length=128),
                ),
                migrations.AddIndex(
                    model_name="impression",
                    index=models.Index(fields=["user_id"], name=NEW),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
