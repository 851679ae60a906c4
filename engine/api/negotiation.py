"""Content negotiation with a short way for what API callers send (issue #16).

The official client sends `Accept: */*` (shared/camunda8-api.md); other callers send none or
`application/json`. For those DRF's answer is known without parsing the header: the first renderer
(for `*/*` or none) or a JSON renderer (for `application/json`). Anything else — another media type,
parameters, a list, `?format=` — goes through DRF's own negotiation, so the answers never differ.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation


class ApiContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request: Any, renderers: list[Any], format_suffix: str | None = None) -> tuple[Any, str]:
        if not format_suffix and renderers and not request.META.get("QUERY_STRING"):
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            first = renderers[0]
            if accept == "*/*":
                return first, first.media_type
            if accept == "application/json" and first.media_type == accept:
                return first, accept
        return super().select_renderer(request, renderers, format_suffix)
