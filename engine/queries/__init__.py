"""Read-side queries: tenant-scoped querysets and lookups for the API, Tasklist and Inspector.

Every function takes the caller's tenant pks and never returns a row of another tenant;
a key of another tenant is simply not found (NotFound → 404, never 403, so keys do not leak).
Nothing here writes.
"""
