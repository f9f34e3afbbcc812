"""Admin for analytics: "Impressions" opens the curation impact report (and its CSV)."""
from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify

from curation.models import Rule
from recsys.admin_mixins import ReadOnlyAdmin, rule_link
from recsys.analytics import impact_stats, rule_impact
from recsys.analytics.models import Impression
from recsys.analytics.selectors import attribution_counts, impact_cells, rule_impacts_measured


def _parse_day(raw: str | None, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


@admin.register(Impression)
class ImpressionAdmin(ReadOnlyAdmin):
    """Opens the "Curation impact" report (impressions themselves are too many to browse)."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        end_day = _parse_day(request.GET.get("end"), today)
        start_day = _parse_day(request.GET.get("start"), end_day - timedelta(days=29))
        if start_day > end_day:
            start_day, end_day = end_day, start_day
        placement = request.GET.get("placement", "")
        tz = timezone.get_current_timezone()
        start = datetime.combine(start_day, time.min, tzinfo=tz)
        end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=tz)
        report = impact_stats.impact_report(impact_cells(start=start, end=end, placement=placement))
        labels = _rule_labels([g.key for g in report.by_rule])
        holdouts = sorted(rule_impacts_measured(start=start, end=end).values(), key=lambda i: i.rule_id)
        held_labels = _rule_labels([i.rule_id for i in holdouts])
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv")
            name = f"curation-impact-{start_day}-{end_day}" + (f"-{slugify(placement)}" if placement else "")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            writer = csv.writer(response)
            writer.writerows(impact_stats.csv_rows(report, rule_label=lambda rid: labels.get(rid, f"rule #{rid}")))
            writer.writerows(rule_impact.csv_rows(holdouts,
                                                  rule_label=lambda rid: held_labels.get(rid, f"rule #{rid}")))
            return response
        placements = (Impression.objects.filter(created_at__gte=start - timedelta(days=90))
                      .order_by().values_list("placement", flat=True).distinct())
        query = request.GET.copy()
        query["format"] = "csv"
        context = {
            **self.admin_site.each_context(request),
            "title": "Curation impact",
            "opts": self.model._meta,
            "report": report,
            "rule_rows": [(g, labels.get(g.key, f"rule #{g.key}"), rule_link(g.key)) for g in report.by_rule],
            "chart": _chart_rows(report),
            "start": start_day, "end": end_day, "placement": placement,
            "placements": sorted(p for p in set(placements) if p),
            "attributed": attribution_counts(start=start, end=end, placement=placement),
            "csv_query": query.urlencode(),
            "holdout_rows": [(i, held_labels.get(i.rule_id, f"rule #{i.rule_id}"), rule_link(i.rule_id))
                             for i in holdouts],
            "rule_mde": settings.RULE_MDE, "rule_fdr": settings.RULE_FDR,
        }
        return TemplateResponse(request, "admin/recsys/analytics/impact_report.html", context)


def _rule_labels(rule_ids) -> dict[int, str]:
    return {r.pk: f"#{r.pk} {r.title}" for r in Rule.objects.filter(pk__in=[i for i in rule_ids if i])}


CHART_X, CHART_W, CHART_ROW = 170, 400, 28


def _chart_rows(report: impact_stats.ImpactReport) -> dict:
    """Inline-SVG geometry: a CTR bar per source and per traffic arm, its 95% CI as a whisker,
    and a tick at the model's CTR at the same positions."""
    groups = [(f"{g.key}", g) for g in report.by_source] + [("curated traffic", report.curated),
                                                             ("control traffic", report.control)]
    top = max([g.ctr.high or 0 for _, g in groups] + [g.model_ctr_same_positions or 0 for _, g in groups] + [0.01])
    scale = CHART_W / top
    rows = []
    for i, (label, g) in enumerate(groups):
        y = 10 + i * CHART_ROW
        ref = g.model_ctr_same_positions
        rows.append({
            "label": label, "y": y, "ty": y + 14, "cy": y + 9, "x": CHART_X,
            "w": round((g.ctr.value or 0) * scale, 1),
            "lo": round(CHART_X + (g.ctr.low or 0) * scale, 1), "hi": round(CHART_X + (g.ctr.high or 0) * scale, 1),
            "ref": None if ref is None else round(CHART_X + ref * scale, 1),
            "text_x": round(CHART_X + (g.ctr.high or 0) * scale + 6, 1),
            "value": g.ctr.value, "n": g.impressions,
        })
    return {"rows": rows, "height": 20 + len(rows) * CHART_ROW, "width": CHART_X + CHART_W + 120,
            "axis_max": top}
