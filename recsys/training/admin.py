"""Admin for the training area: runs (progress, logs, errors, a start button) and model versions
(metrics beside the popularity baseline, a chart across versions, activate/rollback)."""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from recsys.training.lease import training_runs_reap_lost
from recsys.training.model_card import model_card_for, selection_by_kind
from recsys.training.models import ModelVersion, TrainingRun
from recsys.training.services import ActivationError, model_version_activate, training_run_start

# Badge colours are classes in recsys/static/recsys/admin.css (curio-badge-<state>): no style attributes (CSP).
BADGE_STATES = frozenset({"queued", "running", "succeeded", "failed", "rejected", "active", "pruned", "inactive"})
CHART_W, CHART_H, PAD = 520, 170, 30


def _badge(state: str):
    return format_html('<span class="curio-badge curio-badge-{}">{}</span>',
                       state if state in BADGE_STATES else "inactive", state)


def _versus(value, baseline, digits: int = 4):
    if value is None:
        return "-"
    better = baseline is not None and value > baseline
    return format_html('<b class="{}">{}</b> <small>vs {}</small>', "curio-better" if better else "curio-worse",
                       f"{value:.{digits}f}", "-" if baseline is None else f"{baseline:.{digits}f}")


def chart_series(versions: list[ModelVersion], metric: str) -> dict:
    """SVG polylines for `metric` of the model and of its popularity baseline, oldest version first."""
    model = [(v.pk, v.metrics.get(metric)) for v in versions if v.metrics]
    base = [(v.pk, v.baseline_metrics.get(metric)) for v in versions if v.metrics]
    values = [y for _, y in model + base if y is not None]
    top = max(values, default=0.0) or 1.0
    n = max(len(model) - 1, 1)

    def points(series):
        xs = (PAD + i * (CHART_W - 2 * PAD) / n for i in range(len(series)))
        ys = (CHART_H - PAD - (y or 0) / top * (CHART_H - 2 * PAD) for _, y in series)
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False))

    labels = [{"x": round(PAD + i * (CHART_W - 2 * PAD) / n, 1), "text": f"v{pk}"} for i, (pk, _) in enumerate(model)]
    return {"metric": metric, "model": points(model), "baseline": points(base), "labels": labels,
            "top": f"{top:.3f}", "width": CHART_W, "height": CHART_H, "pad": PAD,
            "top_y": PAD, "bottom_y": CHART_H - PAD, "right_x": CHART_W - PAD}


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    change_list_template = "admin/recsys/trainingrun/change_list.html"
    list_display = ["id", "status_badge", "stage", "progress_pct", "triggered_by", "worker", "created_at",
                    "duration", "version_link"]
    list_filter = ["status", "executor"]
    search_fields = ["=id", "triggered_by", "worker_host"]
    readonly_fields = ["status", "stage", "progress", "triggered_by", "executor", "worker_host", "worker_pid",
                       "heartbeat_at", "created_at", "started_at", "finished_at", "version_link", "error_text",
                       "log_text", "selection_table", "metrics_text", "params_text", "data_counts_text",
                       "timings_text"]
    fieldsets = [
        (None, {"fields": ["status", "stage", "progress", "version_link", "triggered_by", "executor",
                           ("worker_host", "worker_pid", "heartbeat_at"),
                           ("created_at", "started_at", "finished_at")]}),
        ("Outcome", {"fields": ["error_text", "selection_table", "metrics_text", "data_counts_text", "timings_text"]}),
        ("Log and parameters", {"fields": ["log_text", "params_text"]}),
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("start/", self.admin_site.admin_view(require_POST(self.start_view)), name="recsys_trainingrun_start"),
            path("reap/", self.admin_site.admin_view(require_POST(self.reap_view)), name="recsys_trainingrun_reap"),
            *super().get_urls(),
        ]

    def start_view(self, request):
        if not request.user.has_perm("recsys.add_modelversion"):
            self.message_user(request, "You may not start training runs.", messages.ERROR)
        else:
            run, created = training_run_start(triggered_by=f"admin:{request.user.get_username()}")
            if created:
                self.message_user(request, f"Training run {run.pk} started ({run.executor}).", messages.SUCCESS)
            else:
                self.message_user(request, f"Training run {run.pk} is already {run.status}.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:recsys_trainingrun_changelist"))

    def reap_view(self, request):
        if not request.user.has_perm("recsys.add_modelversion"):
            self.message_user(request, "You may not change training runs.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index"))
        reaped = training_runs_reap_lost()
        self.message_user(request, f"Marked {len(reaped)} run(s) failed (worker lost / never picked up)."
                          if reaped else "No lost runs.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:recsys_trainingrun_changelist"))

    @admin.display(description="status", ordering="status")
    def status_badge(self, run):
        return _badge(run.status)

    @admin.display(description="progress")
    def progress_pct(self, run):
        return f"{run.progress:.0f}%"

    @admin.display(description="worker")
    def worker(self, run):
        return f"{run.worker_host}:{run.worker_pid}" if run.worker_pid else "-"

    @admin.display(description="duration")
    def duration(self, run):
        if run.started_at and run.finished_at:
            return f"{(run.finished_at - run.started_at).total_seconds():.1f}s"
        return "-"

    @admin.display(description="model version")
    def version_link(self, run):
        version = getattr(run, "model_version", None)
        if version is None:
            return "-"
        url = reverse("admin:recsys_modelversion_change", args=[version.pk])
        return format_html('<a href="{}">v{}</a>{}', url, version.pk, " (active)" if version.is_active else "")

    @staticmethod
    def _pre(value):
        text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True)
        return format_html('<pre class="curio-pre">{}</pre>', text or "-")

    @admin.display(description="error")
    def error_text(self, run):
        return self._pre(run.error)

    @admin.display(description="log")
    def log_text(self, run):
        return self._pre(run.log)

    @admin.display(description="selection: best trial per kind (nDCG@10 mean ± spread over folds)")
    def selection_table(self, run):
        rows = selection_by_kind(run.metrics)
        if not rows:
            return "-"
        body = format_html_join("", "<tr><td>{}</td><td><code>{}</code></td><td>{} ± {}</td><td>{}</td><td>{}</td>"
                                    "<td>{}</td></tr>",
                                ((f"{r['kind']} (selected)" if r["won"] else r["kind"],
                                  json.dumps(r["params"], sort_keys=True), r["ndcg"], r["std"], r["folds"],
                                  r["trials"], r["seconds"]) for r in rows))
        return format_html("<table><tr><th>kind</th><th>best parameters</th><th>nDCG@10</th><th>folds</th>"
                           "<th>trials</th><th>seconds</th></tr>{}</table>", body)

    @admin.display(description="metrics (model, popularity, random, selection trials, gate)")
    def metrics_text(self, run):
        return self._pre(run.metrics)

    @admin.display(description="parameters")
    def params_text(self, run):
        return self._pre(run.params)

    @admin.display(description="data counts")
    def data_counts_text(self, run):
        return self._pre(run.data_counts)

    @admin.display(description="timings (s)")
    def timings_text(self, run):
        return self._pre(run.timings)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    change_list_template = "admin/recsys/modelversion/change_list.html"
    list_display = ["id", "kind", "active_badge", "ndcg", "precision", "recall", "coverage", "gini", "run_link",
                    "created_at", "activated_at", "card"]
    list_filter = ["is_active", "kind"]
    actions = ["activate_selected"]
    change_form_template = "admin/recsys/modelversion/change_form.html"
    readonly_fields = ["kind", "is_active", "activated_at", "created_at", "run_link", "artifact_path",
                       "rejected_reason", "comparison", "params_text", "card"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("run")

    def get_urls(self):
        return [
            path("<int:version_id>/activate/", self.admin_site.admin_view(require_POST(self.activate_view)),
                 name="recsys_modelversion_activate"),
            *super().get_urls(),
        ]

    def _activate(self, request, version_id: int) -> None:
        try:
            model_version_activate(version_id=version_id)
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Model version {version_id} is now active; serving switches within "
                                       "a second.", messages.SUCCESS)

    def activate_view(self, request, version_id: int):
        get_object_or_404(ModelVersion, pk=version_id)
        if not request.user.has_perm("recsys.change_modelversion"):
            self.message_user(request, "You may not activate model versions.", messages.ERROR)
        else:
            self._activate(request, version_id)
        return HttpResponseRedirect(reverse("admin:recsys_modelversion_changelist"))

    @admin.action(description="Activate the selected version (rollback)", permissions=["activate"])
    def activate_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.WARNING)
            return
        self._activate(request, ids[0])

    def has_activate_permission(self, request):
        return request.user.has_perm("recsys.change_modelversion")

    def changelist_view(self, request, extra_context=None):
        versions = list(ModelVersion.objects.exclude(metrics={}).order_by("-created_at")[:40])[::-1]
        extra_context = {**(extra_context or {}), "charts": [chart_series(versions, "ndcg@10"),
                                                              chart_series(versions, "coverage")]}
        return super().changelist_view(request, extra_context=extra_context)

    def _metric(self, version, name, digits=4):
        return _versus(version.metrics.get(name), version.baseline_metrics.get(name), digits)

    @admin.display(description="nDCG@10 vs popularity")
    def ndcg(self, version):
        return self._metric(version, "ndcg@10")

    @admin.display(description="precision@10")
    def precision(self, version):
        return self._metric(version, "precision@10")

    @admin.display(description="recall@10")
    def recall(self, version):
        return self._metric(version, "recall@10")

    @admin.display(description="coverage")
    def coverage(self, version):
        return self._metric(version, "coverage", 3)

    @admin.display(description="Gini (lower: less concentrated)")
    def gini(self, version):
        value, base = version.metrics.get("gini"), version.baseline_metrics.get("gini")
        return "-" if value is None else f"{value:.3f} vs {base:.3f}" if base is not None else f"{value:.3f}"

    @admin.display(description="active", ordering="is_active")
    def active_badge(self, version):
        if version.is_active:
            return _badge("active")
        if version.rejected_reason:
            return _badge("rejected")
        if not version.artifact_path:
            return _badge("pruned")
        return _badge("inactive")

    @admin.display(description="run")
    def run_link(self, version):
        if not version.run_id:
            return "-"
        return format_html('<a href="{}">run {}</a>', reverse("admin:recsys_trainingrun_change",
                                                              args=[version.run_id]), version.run_id)

    @admin.display(description="metrics beside the popularity baseline")
    def comparison(self, version):
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((name, f"{value:.4f}", f"{version.baseline_metrics.get(name, 0.0):.4f}")
             for name, value in version.metrics.items()),
        )
        return format_html("<table><tr><th>metric</th><th>model</th><th>popularity</th></tr>{}</table>",
                           rows) if version.metrics else "-"

    @admin.display(description="model card")
    def card(self, version):
        return model_card_link(version)

    @admin.display(description="parameters")
    def params_text(self, version):
        return format_html("<pre>{}</pre>", json.dumps(version.params, indent=2, sort_keys=True))


def model_card_view(request, pk: int):
    """The model card of one version: admin/recsys/modelversion/<pk>/card/."""
    if not request.user.has_perm("recsys.view_modelversion"):
        raise PermissionDenied
    version = get_object_or_404(ModelVersion.objects.select_related("run"), pk=pk)
    context = {**admin.site.each_context(request), "title": f"Model card: version {version.pk} ({version.kind})",
               "card": model_card_for(version), "opts": ModelVersion._meta}
    return TemplateResponse(request, "admin/recsys/training/model_card.html", context)


def model_card_link(version: ModelVersion) -> str:
    """For the training admin: a link to the version's card."""
    return format_html('<a href="{}">model card</a>', reverse("admin-model-card", args=[version.pk]))
