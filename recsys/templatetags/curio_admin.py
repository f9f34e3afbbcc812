"""Formatting filters for Curio's admin pages (the impact report, model cards)."""
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


@register.filter
def num(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@register.filter
def bar(value) -> str:
    """A share in [0, 1] as a bar width in px (200 px = 100%)."""
    return "0" if not value else f"{min(max(float(value), 0.0), 1.0) * 200:.1f}"
