from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "Engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The composition root: lower layers get the higher-level functions they call back.
        from engine.connectors.runner import schedule
        from engine.runtime import loop
        from engine.store import wake
        from flowsync import tracing

        tracing.configure_from_environment()  # FLOWSYNC_TRACING=otlp: web and engine processes alike
        wake.install_inline_drain(loop.drain)
        loop.install_after_commit(schedule)
