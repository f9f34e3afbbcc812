"""GET /metrics: Prometheus text format, write-scope token (docs/operations.md, "Metrics")."""
from __future__ import annotations

import os

from django.db.models import Count, F, Sum
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.views import APIView

from recsys.catalog.models import ErasureReceipt
from recsys.clients.auth import WRITE
from recsys.suggestions.selectors import suggestion_counts
from recsys.training.models import TrainingRun


class DatabaseFigures:
    """Figures kept in the database, read at scrape time (right whichever process did the work)."""

    def collect(self):
        pending = GaugeMetricFamily("curio_erasures_pending",
                                    "Erasures whose model part is not finished yet (a retried DELETE or the "
                                    "periodic task finishes them).")
        pending.add_metric([], ErasureReceipt.objects.filter(model_completed_at__isnull=True).count())
        yield pending
        runs = CounterMetricFamily("curio_training_runs", "Training runs by outcome (status).", labels=["outcome"])
        for status, n in TrainingRun.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"):
            runs.add_metric([status], n)
        yield runs
        duration = SummaryMetricFamily("curio_training_duration_seconds", "Duration of finished training runs.",
                                       labels=["outcome"])
        finished = (TrainingRun.objects.filter(finished_at__isnull=False, started_at__isnull=False)
                    .values("status").annotate(n=Count("pk"), seconds=Sum(F("finished_at") - F("started_at"))))
        for row in finished:
            seconds = row["seconds"].total_seconds() if row["seconds"] is not None else 0.0
            duration.add_metric([row["status"]], count_value=row["n"], sum_value=seconds)
        yield duration
        suggestions = GaugeMetricFamily("curio_suggestions", "Suggestions in the inbox by detector and status.",
                                        labels=["detector", "status"])
        for (detector, status), n in sorted(suggestion_counts().items()):
            suggestions.add_metric([detector, status], n)
        yield suggestions


class PrometheusText(BaseRenderer):
    media_type = "text/plain"
    format = "txt"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return str(data.get("detail", data) if isinstance(data, dict) else data)


def registry() -> CollectorRegistry:
    """All processes' samples (multiprocess mode) or this process's, plus the database's figures."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    reg = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(reg)
    return reg


_db_figures = DatabaseFigures()


class MetricsView(APIView):
    required_scope = {"GET": WRITE}
    renderer_classes = [JSONRenderer, PrometheusText]
    throttle_classes = []

    @extend_schema(summary="Prometheus metrics (text format; write scope)", operation_id="metrics",
                   responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request):
        text = generate_latest(registry())
        extra = CollectorRegistry(auto_describe=False)
        extra.register(_db_figures)
        return HttpResponse(text + generate_latest(extra), content_type=CONTENT_TYPE_LATEST)
