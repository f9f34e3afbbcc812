"""What several domains' admin pages share: read-only record pages and links to curation rules."""
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html


class ReadOnlyAdminMixin:
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


def rule_link(rule_id: int | None) -> str:
    if not rule_id:
        return "—"
    try:
        return format_html('<a href="{}">rule #{}</a>', reverse("admin:curation_rule_change", args=[rule_id]),
                           rule_id)
    except NoReverseMatch:
        return f"rule #{rule_id}"
