"""The merchandiser's landing panel on the admin index: what is live, what changes this week, what to review,
which rules are known to help or hurt. Reads only (recsys.merchandising.landing, curation and feedback selectors)."""
from django import template
from django.utils import timezone

from curation.selectors import change_set_open_for
from recsys.feedback.selectors import review_queue
from recsys.merchandising.landing import merchandising_landing

register = template.Library()


@register.inclusion_tag("admin/curation/landing.html", takes_context=True)
def merchandising_landing_panel(context):
    request = context["request"]
    user = request.user
    if not user.has_perm("curation.view_rule"):
        return {"show": False}
    queue = review_queue()
    change_set = change_set_open_for(author=user)
    return {
        "show": True,
        "landing": merchandising_landing(now=timezone.now()),
        "reports": list(queue[:5]),
        "report_items": queue.count(),
        "can_review": user.has_perm("recsys.view_feedback"),
        "can_board": user.has_perm("curation.add_rule") and user.has_perm("curation.preview_rules"),
        "can_report": user.has_perm("recsys.view_impression"),
        "drafts": change_set.rules.count() if change_set else 0,
        "can_suggest": user.has_perm("recsys.view_suggestion"),
    }
