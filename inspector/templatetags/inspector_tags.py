from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def inspector_json(value: Any) -> str:
    """A value as compact JSON, the way an operator types it back into an edit form."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if mapping and key is not None else None


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds for people: "850 ms", "12.3 s", "4 min 5 s", "3 h 12 min", "2 d 4 h"; "–" for none."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"
