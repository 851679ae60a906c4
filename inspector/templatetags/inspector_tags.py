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
