"""The Inspector dashboard's incidents opened per hour read incidents by (tenant, created_at).

Built CONCURRENTLY on PostgreSQL (no write lock on a big engine_incident while it builds), hence a
non-atomic migration, as 0023.
"""

from __future__ import annotations

from django.db import migrations, models

INDEX = models.Index(fields=["tenant", "created_at"], name="incident_created_idx")


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS incident_created_idx "
                              "ON engine_incident (tenant_id, created_at)")
        return
    schema_editor.add_index(apps.get_model("engine", "Incident"), INDEX)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.remove_index(apps.get_model("engine", "Incident"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("engine", "0023_definition_durations_and_end_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop)],
            state_operations=[migrations.AddIndex(model_name="incident", index=INDEX)],
        ),
    ]
