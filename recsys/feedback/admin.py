"""Admin for feedback: the review queue and its decisions (audit).

"Feedback" in the admin index opens the review queue: reported items with the shoppers'
comments (never who wrote them), report counts, and one-click block / annotate / dismiss.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from recsys.admin_mixins import ReadOnlyAdmin, rule_link
from recsys.catalog.models import Item
from recsys.feedback.models import Feedback, ReviewDecision
from recsys.feedback.review import DecisionInvalid, NothingToReview, review_decide
from recsys.feedback.selectors import report_comments, review_queue


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
        return TemplateResponse(request, "admin/recsys/feedback/review_queue.html", context)

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
