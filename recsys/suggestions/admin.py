"""The suggestions inbox in the admin: open cases by severity and age with their evidence and a one-line why;
Accept (a draft on the merchandiser's board, or the hurting rule disabled), Dismiss with a reason, Snooze.
Accepted suggestions link to their rule and its holdout verdict. Thin: the decisions are services."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from recsys.admin_mixins import ReadOnlyAdmin, rule_link
from recsys.suggestions.models import Suggestion, SuggestionStatus
from recsys.suggestions.selectors import accepted_outcomes, suggestion_list, verdicts_for
from recsys.suggestions.services import (
    SuggestionError,
    suggestion_accept,
    suggestion_dismiss,
    suggestion_snooze,
    suggestions_refresh,
)

INBOX = "admin:recsys_suggestion_changelist"


def _actor(request) -> str:
    return f"admin:{request.user.get_username()}"


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    """"Suggestions" in the admin index opens the inbox; one suggestion's page is its audit record."""

    list_display = ["id", "detector", "severity", "title", "status", "decided_by", "created_at"]

    def get_urls(self):
        return [
            path("<int:pk>/decide/", self.admin_site.admin_view(self.decide_view), name="recsys_suggestion_decide"),
            path("run/", self.admin_site.admin_view(self.run_view), name="recsys_suggestion_run"),
        ] + super().get_urls()

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("recsys.change_suggestion")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        shown = request.GET.get("status", SuggestionStatus.OPEN)
        if shown not in SuggestionStatus.values:
            shown = SuggestionStatus.OPEN
        rows = list(suggestion_list(status=shown)[:200])
        verdicts = verdicts_for(rule_ids=[s.rule_id for s in rows if s.rule_id])
        for row in rows:
            row.rule_link = rule_link(row.rule_id)
            row.verdict = verdicts.get(row.rule_id, "") if row.rule_id else ""
            row.numbers = [(k.replace("_", " "), _shown(v)) for k, v in row.evidence.items()
                           if k != "links" and not isinstance(v, dict | list)]
        context = {
            **self.admin_site.each_context(request),
            "title": "Suggestions inbox",
            "rows": rows,
            "shown": shown,
            "statuses": SuggestionStatus.values,
            "can_decide": self.has_decide_permission(request),
            "can_draft": request.user.has_perm("curation.add_rule"),
            "outcomes": accepted_outcomes(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/recsys/suggestions/inbox.html", context)

    def decide_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseRedirect(reverse(INBOX))
        if not self.has_decide_permission(request):
            raise PermissionDenied
        suggestion = get_object_or_404(Suggestion, pk=pk)
        action = request.POST.get("action", "")
        try:
            if action == "accept":
                if not request.user.has_perms(["curation.add_rule", "curation.change_rule"]):
                    raise PermissionDenied  # accepting drafts a rule or disables one
                accepted = suggestion_accept(suggestion=suggestion, author=request.user, actor=_actor(request))
                done = (f"a draft in your change set #{accepted.change_set_id}: open the board to publish it"
                        if accepted.change_set_id else f"rule #{accepted.rule_id} disabled")
                self.message_user(request, f"Suggestion #{pk} accepted: {done}.", messages.SUCCESS)
            elif action == "dismiss":
                suggestion_dismiss(suggestion=suggestion, reason=request.POST.get("reason", ""), actor=_actor(request))
                self.message_user(request, f"Suggestion #{pk} dismissed.", messages.SUCCESS)
            elif action == "snooze":
                days = request.POST.get("days", "7")
                suggestion_snooze(suggestion=suggestion, days=int(days) if days.isdigit() else 0,
                                  reason=request.POST.get("reason", ""), actor=_actor(request))
                self.message_user(request, f"Suggestion #{pk} snoozed for {days} day(s).", messages.SUCCESS)
            else:
                self.message_user(request, f"Unknown action {action!r}.", messages.ERROR)
        except SuggestionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except ValidationError as exc:
            self.message_user(request, f"The rule could not be drafted: {'; '.join(exc.messages)}", messages.ERROR)
        return HttpResponseRedirect(reverse(INBOX))

    def run_view(self, request):
        if request.method == "POST" and self.has_decide_permission(request):
            result = suggestions_refresh()
            self.message_user(request, f"Detectors ran: {len(result.findings)} found, {len(result.raised)} new, "
                                       f"{result.held_back} held back.", messages.SUCCESS)
        return HttpResponseRedirect(reverse(INBOX))


@admin.register(Suggestion.history.model)
class SuggestionDecisionAdmin(ReadOnlyAdmin):
    """The audit log: every raising and decision (who, when, the reason)."""

    list_display = ["history_date", "id", "detector", "title", "status", "reason", "decided_by",
                    "history_change_reason"]
    list_filter = ["status", "detector"]
    search_fields = ["title", "reason", "decided_by"]


def _shown(value):
    """An evidence number as a person reads it: 4 significant digits, tiny ones (p-values) in scientific form."""
    if isinstance(value, float):
        return f"{value:.2g}" if 0 < abs(value) < 1e-3 else f"{value:.4g}"
    return value
