from django import template

from engine.queries.tasks import PRIORITY_BANDS

register = template.Library()


@register.filter
def priority_band(priority: int) -> str:
    """Camunda Tasklist's band name for a 0–100 priority: low, medium, high, critical."""
    for band, (low, high) in PRIORITY_BANDS.items():
        if low <= priority <= high:
            return band
    return "medium"
