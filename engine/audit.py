"""The audit trail as the engine's actions write it: flowsync.audit, re-exported (one home)."""

from flowsync.audit import Actor, Via, acting, current, entry, for_instance, record

__all__ = ["Actor", "Via", "acting", "current", "entry", "for_instance", "record"]
