"""Admin for the trust area: the review queue, decisions (audit), erasure receipts, the
"Curation impact" report (Impressions) and per-version model cards.

"Feedback" in the admin index opens the review queue: reported items with the shoppers'
comments (never who wrote them), report counts, and one-click block / annotate / dismiss.
"Impressions" opens the curation impact report.
"""
from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import slugify

from recsys import impact
from recsys.admin.readonly import ReadOnlyAdminMixin
from recsys.models import ErasureReceipt, Feedback, Impression, Item, ModelVersion, ReviewDecision
from recsys.selectors.impact import attribution_counts, impact_cells
from recsys.selectors.model_card import model_card_for
from recsys.selectors.trust import report_comments, review_queue
from recsys.services.review import DecisionInvalid, NothingToReview, review_decide


def rule_link(rule_id: int | None) -> str:
    if not rule_id:
        return "—"
    try:
        return format_html('<a href="{}">rule #{}</a>', reverse("admin:curation_rule_change", args=[rule_id]),
                           rule_id)
    except NoReverseMatch:
        return f"rule #{rule_id}"


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    """The review queue. Changing reports happens only through decisions."""

    def get_urls(self):
        return [
            path("<int:item_pk>/decide/", self.admin_site.admin_view(self.decide_view), name="recsys_feedback_decide"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        queue = list(review_queue()[:200])
        comments = report_comments(queue, limit=20)
        for item in queue:
            item.comments = comments.get(item.pk, [])
        context = {
            **self.admin_site.each_context(request),
            "title": "Review queue: reported items",
            "queue": queue,
            "can_decide": self.has_decide_permission(request),
            "recent": ReviewDecision.objects.select_related("item")[:20],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/recsys/trust/review_queue.html", context)

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("recsys.add_reviewdecision")

    def decide_view(self, request, item_pk: int):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:recsys_feedback_changelist"))
        if not self.has_decide_permission(request):
            raise PermissionDenied
        item = get_object_or_404(Item, pk=item_pk)
        action = request.POST.get("action", "")
        try:
            decision = review_decide(item=item, action=action, decided_by=request.user.get_username(),
                                     note=request.POST.get("note", ""))
        except (DecisionInvalid, NothingToReview) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except ValidationError as exc:
            self.message_user(request, f"The rule could not be created: {'; '.join(exc.messages)}", messages.ERROR)
        else:
            self.message_user(request, f"{item.item_id}: {decision.get_action_display()}, "
                                       f"{decision.report_count} report(s) closed.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:recsys_feedback_changelist"))


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ["decided_at", "item", "action", "note", "report_count", "decided_by", "rule"]
    list_filter = ["action"]
    list_select_related = ["item"]
    search_fields = ["item__item_id", "decided_by"]

    @admin.display(description="rule")
    def rule(self, obj):
        return rule_link(obj.rule_id)


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user_hash", "counts"]
    search_fields = ["=user_hash"]


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
        report = impact.impact_report(impact_cells(start=start, end=end, placement=placement))
        labels = _rule_labels([g.key for g in report.by_rule])
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv")
            name = f"curation-impact-{start_day}-{end_day}" + (f"-{slugify(placement)}" if placement else "")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            writer = csv.writer(response)
            writer.writerows(impact.csv_rows(report, rule_label=lambda rid: labels.get(rid, f"rule #{rid}")))
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
        }
        return TemplateResponse(request, "admin/recsys/trust/impact_report.html", context)


def _rule_labels(rule_ids) -> dict[int, str]:
    from curation.models import Rule

    return {r.pk: f"#{r.pk} {r.title}" for r in Rule.objects.filter(pk__in=[i for i in rule_ids if i])}


CHART_X, CHART_W, CHART_ROW = 170, 400, 28


def _chart_rows(report: impact.ImpactReport) -> dict:
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


def model_card_view(request, pk: int):
    """The model card of one version: admin/recsys/modelversion/<pk>/card/."""
    if not request.user.has_perm("recsys.view_modelversion"):
        raise PermissionDenied
    version = get_object_or_404(ModelVersion.objects.select_related("run"), pk=pk)
    context = {**admin.site.each_context(request), "title": f"Model card: version {version.pk} ({version.kind})",
               "card": model_card_for(version), "opts": ModelVersion._meta}
    return TemplateResponse(request, "admin/recsys/trust/model_card.html", context)


def model_card_link(version: ModelVersion) -> str:
    """For the training admin: a link to the version's card."""
    return format_html('<a href="{}">model card</a>', reverse("admin-model-card", args=[version.pk]))
