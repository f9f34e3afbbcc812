"""Admin for the catalog area: items, shoppers and (read-only) events.

Events and shoppers run to millions of rows, so their list pages never count the whole table,
search by exact ids only (each an index lookup), filter on cheap columns and fetch related
rows in the same query.
"""
from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from recsys.admin_mixins import ReadOnlyAdminMixin
from recsys.catalog.availability import availability_changed
from recsys.catalog.links import validate_link
from recsys.catalog.models import Event, Item, Shopper
from recsys.catalog.services import items_availability_set


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows: a COUNT(*) over millions of events would slow every list page."""

    cap = 100_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap].count()


class ExactIdSearchMixin:
    """Search by exact id, which the unique indexes answer (the admin's `=field` is a case-insensitive scan)."""

    exact_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.exact_search_q(term)), False

    def exact_search_q(self, term: str) -> Q:
        q = Q()
        for name in self.exact_search_fields:
            q |= Q(**{name: term})
        return q


class ItemForm(forms.ModelForm):
    """Links as the API takes them: absolute http(s) URLs or single-slash site paths (recsys.catalog.links)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("url", "image_url"):
            self.fields[name].validators.append(validate_link)

    class Meta:
        model = Item
        fields = ("item_id", "title", "category", "available", "price", "url", "image_url", "attributes")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    form = ItemForm
    list_display = ("item_id", "title", "category", "price", "available", "updated_at")
    list_filter = ("available", "category")
    search_fields = ("=item_id", "title")
    search_help_text = "Exact item id, or words in the title."
    readonly_fields = ("created_at", "updated_at", "events_link")
    list_per_page = 50
    paginator = CappedCountPaginator
    show_full_result_count = False
    actions = ("make_available", "make_unavailable")
    fieldsets = (
        (None, {"fields": ("item_id", "title", "category", "available")}),
        ("Shop data", {"fields": ("price", "url", "image_url", "attributes")}),
        ("Record", {"fields": ("created_at", "updated_at", "events_link")}),
    )

    @admin.display(description="Events")
    def events_link(self, obj):
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}?item__id__exact={}">events with this item</a>',
                           reverse("admin:recsys_event_changelist"), obj.pk)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or "available" in form.changed_data:
            availability_changed()  # inside the admin's transaction: serving sees it after commit

    @admin.action(description="Mark selected items available")
    def make_available(self, request, queryset):
        changed = items_availability_set(item_pks=list(queryset.values_list("pk", flat=True)), available=True)
        self.message_user(request, f"{changed} item(s) marked available.")

    @admin.action(description="Mark selected items unavailable (never recommended)")
    def make_unavailable(self, request, queryset):
        changed = items_availability_set(item_pks=list(queryset.values_list("pk", flat=True)), available=False)
        self.message_user(request, f"{changed} item(s) marked unavailable.")


@admin.register(Shopper)
class ShopperAdmin(ExactIdSearchMixin, admin.ModelAdmin):
    list_display = ("user_id", "personalization_consent", "created_at", "events_link")
    list_filter = ("personalization_consent",)
    search_fields = ("user_id",)  # shows the box; the search itself is exact (ExactIdSearchMixin)
    exact_search_fields = ("user_id",)
    search_help_text = "Exact user id."
    readonly_fields = ("user_id", "created_at", "updated_at", "events_link")
    fields = ("user_id", "personalization_consent", "created_at", "updated_at", "events_link")
    ordering = ("-id",)
    paginator = CappedCountPaginator
    show_full_result_count = False

    @admin.display(description="Events")
    def events_link(self, obj):
        return format_html('<a href="{}?shopper__id__exact={}">events</a>',
                           reverse("admin:recsys_event_changelist"), obj.pk)

    def has_add_permission(self, request):
        return False  # shoppers arrive with their events

    def has_delete_permission(self, request, obj=None):
        # Erasure goes through DELETE /api/v1/users/<id>/ (receipt, models scrubbed), not a plain delete.
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, ExactIdSearchMixin, admin.ModelAdmin):
    list_display = ("event_id", "shopper_user_id", "item_item_id", "type", "value", "timestamp", "recommendation_id")
    list_filter = ("type", ("timestamp", admin.DateFieldListFilter))
    list_select_related = ("shopper", "item")
    search_fields = ("event_id",)
    search_help_text = "Exact event id, user id, item id or recommendation id."
    ordering = ("-id",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 100

    def exact_search_q(self, term: str) -> Q:
        # Resolve the shopper and item first: an OR across joined tables would scan every event.
        q = Q(event_id=term) | Q(recommendation_id=term)
        shopper = Shopper.objects.filter(user_id=term).values_list("pk", flat=True).first()
        if shopper is not None:
            q |= Q(shopper_id=shopper)
        item = Item.objects.filter(item_id=term).values_list("pk", flat=True).first()
        if item is not None:
            q |= Q(item_id=item)
        return q

    @admin.display(description="user id", ordering="shopper__user_id")
    def shopper_user_id(self, obj):
        return obj.shopper.user_id

    @admin.display(description="item id", ordering="item__item_id")
    def item_item_id(self, obj):
        return obj.item.item_id

    # Events are the shops' record of what happened: browsable, never edited here (ReadOnlyAdminMixin).
