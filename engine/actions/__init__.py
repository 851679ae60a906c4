"""The only code that writes engine state outside the engine loop.

Each action takes an explicit tenant and actor, changes what must change at once (in
the caller's transaction) and writes the command the engine loop applies next.
Views, admin actions and management commands call these; none writes engine tables.
"""

from engine.errors import ActionError, Conflict, InvalidInput, NotFound

__all__ = ["ActionError", "Conflict", "InvalidInput", "NotFound"]
