"""Admin for merchandisers: rule lists with status badges, filters, bulk actions, preview, audit.

Every write goes through curation.services, so the admin, the API and serving agree (the rules
stamp moves, the audit history records who changed what).
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from recsys.admin_mixins import ReadOnlyAdminMixin
from recsys.analytics.selectors import rule_impacts_measured
from recsys.catalog.models import Item
from recsys.clients.throttles import staff_throttled
from recsys.merchandising import board, preview

from . import widgets
from .models import TARGET_FIELDS, ChangeSet, ChangeSetStatus, Rule, RuleKind, RuleStatus, Segment
from .rules import HOLDOUT_KINDS
from .selectors import change_set_conflicts, change_set_drafts, change_set_open_for
from .services import (
    ChangeSetConflicts,
    ChangeSetError,
    change_set_discard,
    change_set_draft,
    change_set_open,
    change_set_publish,
    change_set_remove,
    rule_delete,
    rule_save,
    rules_duplicate,
    rules_set_enabled,
)

ORDER_HELP = (
    "Rules apply in this order on every list: filters (unavailable, seen, not interested, blocks) → "
    "boosts → diversity caps → pins → refill to the requested length → annotations. A block beats a pin; a pin "
    "survives 'already seen' and diversity caps (it counts toward them); two pins on one position: higher "
    "priority wins, then the newer rule, and the other moves to the next free position. A holdout share serves "
    "that share of shoppers without the rule, so its effect can be measured (blocks and diversity have none)."
)
# New pins, boosts and annotations propose a 10% holdout, so every rule can be measured.
PROPOSED_HOLDOUT_SHARE = 0.1
# Status and verdict colours are classes (rule-status-<status>, rule-verdict-<verdict>) in
# recsys/static/recsys/admin.css: the Content-Security-Policy allows no style attributes.
SCOPE_FIELDS = ("placement", "category", "context_item", "segment", "segment_user_ids")
LIFE_FIELDS = ("starts_at", "ends_at", "enabled", "priority", "reason")
MEASURE_FIELDS = ("holdout_share",)


def _actor(request) -> str:
    return f"admin:{request.user.get_username()}"


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return RuleStatus.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        started = Q(starts_at__isnull=True) | Q(starts_at__lte=now)
        live_window = started & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        if value == RuleStatus.DISABLED:
            return queryset.filter(enabled=False)
        if value == RuleStatus.EXPIRED:
            return queryset.filter(enabled=True, ends_at__lte=now)
        if value == RuleStatus.SCHEDULED:
            return queryset.filter(enabled=True, starts_at__gt=now).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        if value == RuleStatus.ACTIVE:
            return queryset.filter(live_window, enabled=True)
        return queryset


KIND_HELP = {
    RuleKind.PIN: "Show one item at a fixed position (1 = first) on the lists in scope.",
    RuleKind.BLOCK: "Never show an item, a whole category, or the items whose attributes match.",
    RuleKind.BOOST: "Move an item, a category or matching items up (strength > 0) or down (< 0, a bury).",
    RuleKind.ANNOTATION: "Add a shopper-facing label (\u201cStaff pick\u201d) and an internal note to an item.",
    RuleKind.DIVERSITY: "Cap how many items of one category or attribute value a list shows; bring in new items.",
}


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ("kind", "name", "item", "item_category", "item_attribute", "position", "strength", "label", "note",
                  "max_per_category", "max_per_attribute", "min_new_items", "new_item_days", "holdout_share",
                  "placement", "category", "context_item", "segment", "segment_user_ids", "starts_at", "ends_at",
                  "enabled", "priority", "reason")
        widgets = {
            "reason": forms.Textarea(attrs={"rows": 2}),
            "note": forms.Textarea(attrs={"rows": 2}),
            "item": widgets.ItemPickerWidget(),
            "context_item": widgets.ItemPickerWidget(),
            "item_attribute": widgets.KeyValueWidget(key_label="attribute", value_label="value"),
            "max_per_attribute": widgets.KeyValueWidget(key_label="attribute", value_label="at most", integers=True),
            "segment_user_ids": widgets.ListWidget(),
            "position": forms.NumberInput(attrs={"min": 1, "step": 1, "class": "curio-narrow"}),
            "strength": forms.NumberInput(attrs={"min": -1, "max": 1, "step": 0.05, "class": "curio-narrow"}),
            "holdout_share": forms.NumberInput(attrs={"min": 0, "max": 0.5, "step": 0.05, "class": "curio-narrow"}),
        }
        labels = {"item_attribute": "Item attributes", "segment_user_ids": "Shopper ids",
                  "holdout_share": "Holdout share", "context_item": "Context item"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields and not self.instance.pk:
            self.fields["kind"].widget = forms.HiddenInput()  # chosen before the form opens (?kind=)
        if "holdout_share" in self.fields:
            self.fields["holdout_share"].required = False  # left empty: no holdout
            self.fields["holdout_share"].help_text = ("Share of shoppers (0 to 0.5) served without this rule, so "
                                                      "its effect can be measured. Empty or 0: no holdout.")
            if not self.instance.pk and not self.is_bound:
                self.fields["holdout_share"].initial = PROPOSED_HOLDOUT_SHARE
        if "segment_user_ids" in self.fields:
            self.fields["segment_user_ids"].help_text = "Listed shoppers only: one user id per line."

    def clean_holdout_share(self):
        return self.cleaned_data.get("holdout_share") or 0.0

    def add_error(self, field, error):
        # Rule.clean() may name a field this kind's form doesn't show: report it on the form instead.
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            remapped: dict = {}
            for name, errors in error.error_dict.items():
                key = name if (name in self.fields or name == NON_FIELD_ERRORS) else NON_FIELD_ERRORS
                remapped.setdefault(key, []).extend(errors)
            error = ValidationError(remapped)
        super().add_error(field, error)


@admin.register(Rule)
class RuleAdmin(SimpleHistoryAdmin):
    form = RuleForm
    list_display = ("status_badge", "kind", "title_link", "target", "effect", "placement_display", "scope",
                    "window", "priority", "verdict", "flags", "updated_by")
    list_display_links = None
    list_filter = ("kind", StatusFilter, "placement", "segment", "enabled")
    search_fields = ("name", "item__item_id", "item__title", "item_category", "label", "reason", "placement")
    search_help_text = "Rule name, item id or title, category, label, reason or placement."
    list_select_related = ("item", "change_set")
    actions = ("enable_rules", "disable_rules", "duplicate_rules")
    history_list_display = ("updated_by",)
    list_per_page = 100
    change_list_template = "admin/curation/rule/change_list.html"

    # --- form -----------------------------------------------------------------------
    def _kind(self, request, obj) -> str:
        return obj.kind if obj is not None else (request.POST.get("kind") or request.GET.get("kind") or "")

    def get_fieldsets(self, request, obj=None):
        kind = self._kind(request, obj)
        target = TARGET_FIELDS.get(kind, ())
        measure = () if kind in (RuleKind.BLOCK, RuleKind.DIVERSITY) else (
            ("Measure", {"fields": MEASURE_FIELDS,
                         "description": "Shoppers in the holdout are served without this rule; the rule's impact "
                                        "compares them with the others on the positions it touches."}),)
        return (
            (None, {"fields": ("kind", "name"), "description": f"{KIND_HELP.get(kind, '')} {ORDER_HELP}"}),
            ("What", {"fields": target}),
            ("Where and for whom (empty = everywhere)", {"fields": SCOPE_FIELDS}),
            ("When", {"fields": LIFE_FIELDS}),
            *measure,
            ("Record", {"fields": ("created_by", "updated_by", "created_at", "updated_at")}),
        )

    def add_view(self, request, form_url="", extra_context=None):
        kind = request.POST.get("kind") or request.GET.get("kind") or ""
        if kind not in RuleKind.values:  # first choose the kind: each kind's form shows only its fields
            if not self.has_add_permission(request):
                raise PermissionDenied
            context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Add rule",
                       "kinds": [(value, label, KIND_HELP[value]) for value, label in RuleKind.choices]}
            return TemplateResponse(request, "admin/curation/rule/choose_kind.html", context)
        extra_context = {**(extra_context or {}), "title": f"Add {RuleKind(kind).label.lower()}",
                         "kind_help": KIND_HELP[kind]}
        return super().add_view(request, form_url, extra_context)

    def get_readonly_fields(self, request, obj=None):
        fixed = ("created_by", "updated_by", "created_at", "updated_at")
        return (*fixed, "kind") if obj is not None else fixed

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        rule_save(rule=obj, actor=_actor(request), created=not change)

    def delete_model(self, request, obj):
        obj._history_user = request.user
        rule_delete(rule=obj, actor=_actor(request))

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            self.delete_model(request, rule)

    # --- list -----------------------------------------------------------------------
    def get_queryset(self, request):
        clash = Rule.objects.filter(kind=RuleKind.PIN, enabled=True, position=OuterRef("position"),
                                    placement=OuterRef("placement")).exclude(pk=OuterRef("pk"))
        return super().get_queryset(request).annotate(pin_clash=Exists(clash))

    @admin.display(description="status")
    def status_badge(self, rule):
        status = rule.status()
        if status == RuleStatus.DISABLED and rule.change_set_id and rule.change_set.status == ChangeSetStatus.OPEN:
            return format_html('<span class="rule-status rule-status-draft" '
                               'title="not live: published from the board by its author">Draft #{}</span>',
                               rule.change_set_id)
        return format_html('<span class="rule-status rule-status-{}">{}</span>', status, RuleStatus(status).label)

    @admin.display(description="rule")
    def title_link(self, rule):
        return format_html('<a href="{}">{}</a>', reverse("admin:curation_rule_change", args=[rule.pk]), rule.title)

    @admin.display(description="target")
    def target(self, rule):
        if rule.item_id:
            return format_html("<code>{}</code>", rule.item_id)
        if rule.item_category:
            return f"category: {rule.item_category}"
        return ", ".join(f"{k}={v}" for k, v in (rule.item_attribute or {}).items())

    @admin.display(description="effect")
    def effect(self, rule):
        if rule.kind == RuleKind.PIN:
            return f"#{rule.position}"
        if rule.kind == RuleKind.BOOST:
            return f"{rule.strength:+.2f}"
        if rule.kind == RuleKind.ANNOTATION:
            return f"“{rule.label}”"
        if rule.kind == RuleKind.DIVERSITY:
            return rule.title.removeprefix("Diversity: ")
        return "hidden"

    @admin.display(description="measured")
    def verdict(self, rule):
        impact = getattr(rule, "impact", None)
        if rule.kind not in HOLDOUT_KINDS:
            return "-"
        if not rule.holdout_share:
            return "no holdout"
        if impact is None:
            return "…"
        e, h = impact.exposed.impressions, impact.holdout.impressions
        progress = f"{min(e, h):,}/{impact.needed_impressions:,}"
        return format_html('<span class="rule-verdict rule-verdict-{}">{}</span> <small>{} shown per arm</small>',
                           impact.verdict, impact.verdict, progress)

    @admin.display(description="placement", ordering="placement")
    def placement_display(self, rule):
        return rule.placement or "all lists"

    @admin.display(description="scope")
    def scope(self, rule):
        parts = []
        if rule.category:
            parts.append(f"category {rule.category}")
        if rule.context_item_id:
            parts.append(f"with {rule.context_item_id}")
        if rule.segment == Segment.USERS:
            parts.append(f"{len(rule.segment_user_ids)} shopper(s)")
        elif rule.segment:
            parts.append(Segment(rule.segment).label.lower())
        return ", ".join(parts) or "-"

    @admin.display(description="window")
    def window(self, rule):
        fmt = "%Y-%m-%d %H:%M"
        if not rule.starts_at and not rule.ends_at:
            return "always"
        start = rule.starts_at.strftime(fmt) if rule.starts_at else "…"
        end = rule.ends_at.strftime(fmt) if rule.ends_at else "…"
        return f"{start} → {end}"

    @admin.display(description="warnings")
    def flags(self, rule):
        warnings = []
        if rule.kind == RuleKind.PIN and rule.item_id and not rule.item.available:
            warnings.append("pinned item unavailable: skipped")
        if rule.kind == RuleKind.PIN and getattr(rule, "pin_clash", False) and rule.enabled:
            warnings.append(f"another pin shares #{rule.position} here: priority decides")
        return format_html_join("", '<div class="rule-warning">⚠ {}</div>',
                                ((w,) for w in warnings))

    # --- bulk actions ---------------------------------------------------------------
    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable_rules(self, request, queryset):
        n = rules_set_enabled(rules=queryset, enabled=True, actor=_actor(request))
        self.message_user(request, f"{n} rule(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable_rules(self, request, queryset):
        n = rules_set_enabled(rules=queryset, enabled=False, actor=_actor(request))
        self.message_user(request, f"{n} rule(s) disabled.", messages.SUCCESS)

    @admin.action(description="Duplicate selected rules (copies start disabled)", permissions=["add"])
    def duplicate_rules(self, request, queryset):
        copies = rules_duplicate(rules=queryset, actor=_actor(request))
        self.message_user(request, f"{len(copies)} disabled cop(ies) created.", messages.SUCCESS)

    # --- preview --------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        extra = [
            path("preview/", view(self.preview_view), name="curation_rule_preview"),
            path("board/", view(self.board_view), name="curation_rule_board"),
            path("board/change/", view(require_POST(self.board_change_view)), name="curation_rule_board_change"),
            path("board/publish/", view(require_POST(self.board_publish_view)), name="curation_rule_board_publish"),
            path("board/discard/", view(require_POST(self.board_discard_view)), name="curation_rule_board_discard"),
            path("items/", view(self.item_search_view), name="curation_rule_items"),
        ]
        return extra + super().get_urls()

    # --- the merchandising board (recsys/merchandising/board.py reads, curation.services change sets write) -------
    def _board_allowed(self, request) -> None:
        if not (request.user.has_perm("curation.preview_rules") and request.user.has_perm("curation.add_rule")):
            raise PermissionDenied

    def _board_url(self, request) -> str:
        keys = ("placement", "user_id", "category", "context_item_id", "limit", "holdout_share")
        query = {k: request.POST.get(k, "") for k in keys if request.POST.get(k, "") != ""}
        return f"{reverse('admin:curation_rule_board')}?{urlencode(query)}"

    def board_view(self, request):
        self._board_allowed(request)
        form = board.BoardForm(request.GET or {"placement": "home", "limit": 12,
                                                   "holdout_share": board.DEFAULT_HOLDOUT_SHARE})
        change_set = change_set_open_for(author=request.user)
        drafts = change_set_drafts(change_set=change_set)
        built = error = None
        refused = staff_throttled(request, "preview") if form.is_valid() else None  # the board builds previews
        if refused is not None:
            error = str(refused.detail)
        elif form.is_valid():
            try:
                built = board.board_build(form.to_request(), drafts=drafts, now=timezone.now())
            except preview.PreviewError as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Merchandising board",
            "form": form,
            "board": built,
            "error": error,
            "change_set": change_set,
            "drafts": drafts,
            "conflicts": change_set_conflicts(change_set=change_set) if drafts else [],
            "hidden": built.request.query() if built else {},
            "pin_any": board.PinAnyItemForm(),
        }
        return _maybe_refused(TemplateResponse(request, "admin/curation/rule/board.html", context), refused)

    def board_change_view(self, request):
        self._board_allowed(request)
        action, actor = request.POST.get("action", ""), _actor(request)
        try:
            if action == "remove":
                change_set = change_set_open(author=request.user)
                rule = Rule.objects.filter(pk=request.POST.get("rule_id") or 0).first()
                if rule is None:
                    raise ChangeSetError("That draft no longer exists.")
                change_set_remove(change_set=change_set, rule=rule, actor=actor)
                self.message_user(request, f"Draft #{request.POST.get('rule_id')} removed.", messages.SUCCESS)
            else:
                kind, data = _board_rule(request.POST, action)
                rule = change_set_draft(change_set=change_set_open(author=request.user), kind=kind, data=data,
                                        actor=actor)
                self.message_user(request, f"Draft #{rule.pk}: {rule.title}. Not live until you publish.",
                                  messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, "Not drafted: " + " ".join(
                f"{'' if f == NON_FIELD_ERRORS else f + ': '}{' '.join(m)}" for f, m in exc.message_dict.items()),
                messages.ERROR)
        except (ChangeSetError, ValueError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(self._board_url(request))

    def board_publish_view(self, request):
        self._board_allowed(request)
        if not request.user.has_perm("curation.change_rule"):
            raise PermissionDenied
        change_set = change_set_open_for(author=request.user)
        try:
            if change_set is None:
                raise ChangeSetError("There are no drafts to publish.")
            published = change_set_publish(change_set=change_set, actor=_actor(request),
                                           accept_conflicts=request.POST.get("accept_conflicts") == "1")
        except ChangeSetConflicts as exc:
            self.message_user(request, str(exc), messages.WARNING)
        except ChangeSetError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            links = format_html_join(", ", '<a href="{}">#{} history</a>', (
                (reverse("admin:curation_rule_history", args=[r.pk]), r.pk) for r in published.rules))
            self.message_user(request, format_html(
                "Published change set #{}: {} rule(s) live now. To undo one, revert it in its history: {}.",
                published.change_set.pk, len(published.rules), links), messages.SUCCESS)
        return HttpResponseRedirect(self._board_url(request))

    def board_discard_view(self, request):
        self._board_allowed(request)
        change_set = change_set_open_for(author=request.user)
        if change_set is None:
            self.message_user(request, "There are no drafts to discard.", messages.INFO)
        else:
            n = change_set_discard(change_set=change_set, actor=_actor(request))
            self.message_user(request, f"Discarded change set #{change_set.pk} ({n} draft(s)).", messages.SUCCESS)
        return HttpResponseRedirect(self._board_url(request))

    def item_search_view(self, request):
        """Items for the board's and the forms' item picker: id, title, thumbnail, price, category."""
        if not (request.user.has_perm("curation.view_rule") or request.user.has_perm("recsys.view_item")):
            raise PermissionDenied
        q = request.GET.get("q", "").strip()[:100]
        items = Item.objects.all()
        if q:
            items = items.filter(Q(item_id__icontains=q) | Q(title__icontains=q))
        rows = items.order_by("item_id").values("item_id", "title", "image_url", "price", "category", "available")[:20]
        return JsonResponse({"results": [{**r, "price": str(r["price"]) if r["price"] is not None else ""}
                                         for r in rows]})

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "order_help": ORDER_HELP,
                         "can_preview": request.user.has_perm("curation.preview_rules"),
                         "kinds": RuleKind.choices}
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # the page's rules carry their measured impact to the "measured" column
            impacts = rule_impacts_measured()
            for rule in changelist.result_list:
                rule.impact = impacts.get(rule.pk)
        return response

    def preview_view(self, request):
        if not request.user.has_perm("curation.preview_rules"):
            raise PermissionDenied
        form = preview.PreviewForm(request.GET or None)
        result = error = None
        # A preview runs the serving pipeline twice: its own rate per staff user (CURIO_THROTTLE_PREVIEW).
        refused = staff_throttled(request, "preview") if form.is_bound and form.is_valid() else None
        if refused is not None:
            error = str(refused.detail)
        elif form.is_bound and form.is_valid():
            try:
                result = preview.preview(form.to_request())
            except preview.PreviewError as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Preview curated lists",
            "form": form,
            "result": result,
            "error": error,
            "order_help": ORDER_HELP,
        }
        return _maybe_refused(TemplateResponse(request, "admin/curation/rule/preview.html", context), refused)


def _maybe_refused(response: TemplateResponse, refused) -> TemplateResponse:
    """The page answered 429 with `Retry-After` when the preview rate refused it (its message is on the page)."""
    if refused is not None:
        response.status_code = 429
        response["Retry-After"] = str(refused.wait)
    return response


BOARD_KINDS = {"pin": RuleKind.PIN, "block": RuleKind.BLOCK, "boost": RuleKind.BOOST, "label": RuleKind.ANNOTATION}


def _board_rule(post, action: str) -> tuple[str, dict]:
    """A board action's rule: the card's item, the action's value, the board's scope and holdout."""
    kind = BOARD_KINDS.get(action)
    if kind is None:
        raise ValueError(f"Unknown board action {action!r}.")
    form = board.BoardForm(post)
    if not form.is_valid():
        raise ValueError("The board's list settings are invalid: " + form.errors.as_text())
    req = form.to_request()
    data: dict = {"item_id": post.get("item_id", "").strip() or None, **req.rule_scope()}
    if not data["context_item_id"]:
        data.pop("context_item_id")
    try:
        if kind == RuleKind.PIN:
            data["position"] = int(post.get("position", ""))
        elif kind == RuleKind.BOOST:
            data["strength"] = float(post.get("strength", ""))
    except ValueError:
        raise ValueError("Give a whole position (1 or more) or a strength between -1 and 1.") from None
    if kind == RuleKind.ANNOTATION:
        data["label"] = post.get("label", "").strip()
    if kind in HOLDOUT_KINDS:
        data["holdout_share"] = req.holdout_share
    return kind, data


class HistoricalRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every create, change and delete of every rule, deleted rules included; revert from a record."""

    list_display = ("history_date", "history_type", "rule_link", "kind", "item_id", "enabled", "updated_by",
                    "history_user", "history_change_reason")
    list_filter = ("history_type", "kind")
    search_fields = ("=id", "item_id", "name", "updated_by", "history_change_reason")
    date_hierarchy = "history_date"
    list_per_page = 100


    @admin.display(description="rule (revert from this version)")
    def rule_link(self, record):
        url = reverse("admin:curation_rule_simple_history", args=[record.id, record.history_id])
        return format_html('<a href="{}">#{} {}</a>', url, record.id, record.instance.title)


admin.site.register(Rule.history.model, HistoricalRuleAdmin)


@admin.register(ChangeSet)
class ChangeSetAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The board's change sets: who drafted what, when it was published or discarded (rules link to history)."""

    list_display = ("__str__", "author", "status", "created_at", "closed_at", "closed_by", "rule_links")
    list_filter = ("status",)
    list_select_related = ("author",)
    search_fields = ("author__username", "closed_by")
    date_hierarchy = "created_at"

    @admin.display(description="rules (history)")
    def rule_links(self, change_set):
        ids = Rule.history.filter(change_set_id=change_set.pk).values_list("id", flat=True).distinct()
        return format_html_join(", ", '<a href="{}">#{}</a>', (
            (reverse("admin:curation_rule_history", args=[rid]), rid) for rid in sorted(set(ids)))) or "-"
