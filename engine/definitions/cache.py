"""Compiled graphs and definition rows by definition key. Definitions are immutable, so entries
never go stale — as long as a key names one definition forever. On PostgreSQL it does (keys come
from a sequence). On SQLite (embedded mode) a key drawn in a transaction that rolled back is
drawn again, so a graph is cached by key *and* checksum there, and rows are not cached at all.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from django.conf import settings
from django.db import connection

from engine.graph import Graph
from engine.models import ProcessDefinition

_cache: OrderedDict[tuple[int, str], Graph] = OrderedDict()
_lock = Lock()


def graph_of(definition: ProcessDefinition) -> Graph:
    cache_key = (definition.key, definition.checksum)
    with _lock:
        graph = _cache.get(cache_key)
        if graph is not None:
            _cache.move_to_end(cache_key)
            return graph
    graph = Graph.from_json(definition.graph)
    with _lock:
        _cache[cache_key] = graph
        while len(_cache) > settings.DEFINITION_CACHE_SIZE:
            _cache.popitem(last=False)
    return graph


_definitions: OrderedDict[int, ProcessDefinition] = OrderedDict()


def definition(key: int) -> ProcessDefinition:
    """A definition row by key, cached on PostgreSQL: rows never change after deployment."""
    if connection.vendor != "postgresql":
        return ProcessDefinition.objects.defer("source").get(key=key)
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
