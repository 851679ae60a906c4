"""Compiled graphs by definition key. Definitions are immutable, so entries never go stale."""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from django.conf import settings

from engine.graph import Graph
from engine.models import ProcessDefinition

_cache: OrderedDict[int, Graph] = OrderedDict()
_lock = Lock()


def graph_of(definition: ProcessDefinition) -> Graph:
    with _lock:
        graph = _cache.get(definition.key)
        if graph is not None:
            _cache.move_to_end(definition.key)
            return graph
    graph = Graph.from_json(definition.graph)
    with _lock:
        _cache[definition.key] = graph
        while len(_cache) > settings.DEFINITION_CACHE_SIZE:
            _cache.popitem(last=False)
    return graph


_definitions: OrderedDict[int, ProcessDefinition] = OrderedDict()


def definition(key: int) -> ProcessDefinition:
    """A definition row by key, cached: rows never change after deployment."""
    with _lock:
        found = _definitions.get(key)
        if found is not None:
            return found
    found = ProcessDefinition.objects.defer("source").get(key=key)
    with _lock:
        _definitions[key] = found
        while len(_definitions) > settings.DEFINITION_CACHE_SIZE:
            _definitions.popitem(last=False)
    return found
