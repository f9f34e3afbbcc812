"""Formatting filters for the trust admin pages (impact report, model cards)."""
from django import template

register = template.Library()


@register.filter
def pct(value) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


@register.filter
def pct_diff(value) -> str:
    return "—" if value is None else f"{value * 100:+.2f} pts"


@register.filter
def group_label(key) -> str:
    if isinstance(key, tuple):
        return " · ".join(str(k) for k in key)
    return str(key)
