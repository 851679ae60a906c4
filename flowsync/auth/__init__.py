"""Who is calling: API keys, FlowSync users (HTTP Basic) and OAuth client-credentials tokens.

Framework-free checks live here; `engine.api.auth` turns them into DRF authentication
classes and `flowsync.auth.views` serves the OAuth token endpoint.
"""
