"""Operator endpoints outside the API: /healthz, /readyz and /metrics (docs/operations.md)."""
