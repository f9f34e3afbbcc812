from django.db import models


class TrainingRun(models.Model):
    """One attempt to train a model: its progress, timings, metrics and outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        REJECTED = "rejected"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    triggered_by = models.CharField(max_length=200, blank=True, default="", help_text="Who or what started it.")
    stage = models.CharField(max_length=64, blank=True, default="")
    progress = models.FloatField(default=0.0, help_text="0..100")
    worker_host = models.CharField(max_length=255, blank=True, default="")
    worker_pid = models.IntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    data_counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage.")
    metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    executor = models.CharField(max_length=16, blank=True, default="", help_text="celery, thread or inline.")
    # The deployment-wide training lock: True while queued/running, NULL otherwise. The unique
    # constraint lets only one row hold it (works on SQLite and PostgreSQL, with or without Redis);
    # the heartbeat is its lease (see recsys.training.lease.training_runs_reap_lost).
    lock = models.BooleanField(null=True, default=None, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["lock"], name="one_training_at_a_time")]

    def __str__(self) -> str:
        return f"run #{self.pk} ({self.status})"


class ModelVersion(models.Model):
    """A trained model whose artifact lives in the artifact store (recsys.training.stored_versions). At most one
    is active. `revision` counts the erasures that rewrote it: hosts serve that revision and no older one."""

    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="model_version", null=True)
    kind = models.CharField(max_length=32, help_text="als or itemknn")
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    baseline_metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=1000, blank=True, default="",
                                     help_text="Where the stored version lives; empty: not stored (or pruned).")
    revision = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    rejected_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_model")
        ]

    def __str__(self) -> str:
        return f"v{self.pk} {self.kind}{' (active)' if self.is_active else ''}"


class ModelStamp(models.Model):
    """One row whose `version` moves with every activation and every new revision: each process looks at it every
    CURIO_MODEL_POLL_SECONDS (recsys.ops.stamps) and fetches and loads what changed."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"models v{self.version}"
