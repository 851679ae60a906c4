"""FlowSync: tenancy, authentication and the settings every other app builds on."""

__version__ = "0.1.0"
